"""`intentflow bench --scale-out`: what a second classify and a second match process buy.

The same stream (the main benchmark's: real chatter with written positives injected) goes through two stacks in
turn: 1 classify + 1 match process, then 2 + 2, both on topics with PARTITIONS partitions and a PostgreSQL store
(an empty schema of the database INTENTFLOW_DATABASE_URL names, one per layout, dropped afterwards), so the
layouts differ only in their processes. Each stack is warmed up with other posts of the stream, then timed as in
pipeline.py: from the first produce until every consumer group has committed everything. Per layout: posts/s
and, per process, CPU seconds, CPU ms per post, records consumed and partitions held; then the speed-up.

Every process of both layouts shares the machine's cores, and so do other jobs: `other_processes_cpu_share`
says how much of the machine they took during the timed run.
"""
from __future__ import annotations

import os

from tools.bench import pipeline
from tools.bench.corpus import BenchPost
from tools.bench.probes import consumed, delta, total
from tools.bench.progress import Progress
from tools.pgschema import fresh_schema
from tools.stack import shared_store

PARTITIONS = 4
LAYOUTS = ((1, 1), (2, 2))  # (classify processes, match processes)


def run(posts: list[BenchPost], warmup: list[BenchPost], database_url: str, progress: Progress,
        timeout_s: float) -> dict:
    if not shared_store(database_url):
        raise ValueError("the scale-out benchmark runs two match processes, which share a PostgreSQL store: set "
                         "INTENTFLOW_DATABASE_URL=postgresql://... (each layout gets its own schema there, dropped "
                         "afterwards)")
    layouts = [measure(classify, match, posts, warmup, database_url, progress, timeout_s)
               for classify, match in LAYOUTS]
    first, last = layouts[0]["posts_per_s"], layouts[-1]["posts_per_s"]
    return {"partitions": PARTITIONS, "layouts": layouts,
            "speed_up": round(last / first, 2) if first and last else None}


def measure(classify: int, match: int, posts: list[BenchPost], warmup: list[BenchPost], database_url: str,
            progress: Progress, timeout_s: float) -> dict:
    name = f"{classify} classify + {match} match"
    with progress.part(name), fresh_schema(database_url, "bench_scale_out") as url:
        stack = pipeline.start_stack(progress, classify_replicas=classify, match_replicas=match,
                                     env={"INTENTFLOW_DATABASE_URL": url, "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS)})
        with pipeline.stopping(stack, progress) as codes:
            pipeline.throughput(stack, warmup, progress, timeout_s)
            result, before, after = pipeline.throughput(stack, posts, progress, timeout_s)
        progress.say(f"{name}: {result['posts_per_s']} posts/s")
    return {"layout": name, "classify_processes": classify, "match_processes": match, **result,
            **machine_share(before, after, result["completed"]),
            "processes": per_process(before, after, result["completed"]), "service_exit": codes}


def per_process(before: pipeline.Snapshot, after: pipeline.Snapshot, posts: int) -> dict[str, dict]:
    """Per process of the stack (and the broker): CPU over the run and, for the services, what they consumed."""
    out = {}
    for name, status in after.procs.items():
        if name == "bench" or name not in before.procs:
            continue
        cpu_s = status.cpu_s - before.procs[name].cpu_s
        row: dict = {"cpu_s": round(cpu_s, 2), "cpu_ms_per_post": _ms_per_post(cpu_s, posts)}
        if name in after.metrics:
            row["records"] = consumed(delta(before.metrics[name], after.metrics[name]))
            row["partitions"] = int(total(after.metrics[name], "intentflow_assigned_partitions"))
        out[name] = row
    return out


def machine_share(before: pipeline.Snapshot, after: pipeline.Snapshot, posts: int) -> dict:
    """CPU per post of every process (the stack, and this one: producer and probes), and the share of the
    machine other jobs took meanwhile."""
    wall, cores = after.at - before.at, os.cpu_count() or 1
    stack_s = sum(status.cpu_s - before.procs[name].cpu_s for name, status in after.procs.items()
                  if name in before.procs)
    others = max(0.0, after.busy_s - before.busy_s - stack_s)
    return {"cpu_ms_per_post_total": _ms_per_post(stack_s, posts),
            "other_processes_cpu_share": round(others / (wall * cores), 3) if wall else None}


def _ms_per_post(seconds: float, posts: int) -> float | None:
    return round(seconds * 1000 / posts, 3) if posts else None
