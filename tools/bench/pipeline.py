"""Part 2: the embedded stack end to end — maximum throughput, then produce→signal latency at half of it.

Throughput is timed from the first produce until every consumer group (ingest, classify, match) has
committed everything upstream of it. Groups are probed upstream first, so a zero lag downstream is read
after the upstream stage produced all its outputs (a stage produces and is acknowledged before it commits).

Latency is measured in a second, paced run (the first saturates every queue, so its latencies would only
measure the backlog): each post's produce time is recorded, and MatchService.Subscribe reports when each
lead or HR signal became available (it is published after the store write, so it is pullable by then).
"""
from __future__ import annotations

import os
import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import grpc

from intentflow import topology
from intentflow.kafka_io import make_consumer, make_producer
from intentflow.settings import KafkaSettings, StackSettings, from_env
from intentflow.v1 import match_pb2, match_pb2_grpc
from intentflow.wire import post_key
from tools.bench.corpus import BenchPost
from tools.bench.probes import ProcStatus, Samples, consumed, delta, machine_busy_s, proc_status, scrape, total
from tools.bench.progress import Progress
from tools.bench.stats import latency_summary, rate
from tools.cli.stack import stage_lags
from tools.stack import SERVICES, LocalStack

ROOT = Path(__file__).resolve().parents[2]
PROFILES = ROOT / "data" / "profiles" / "catalog.json"
CLASSIFIER = ROOT / "models" / "classifier.npz"
LAG_POLL_S = 0.5


def start_stack(progress: Progress, timeout_s: float = 300, classify_replicas: int = 0, match_replicas: int = 1,
                env: dict[str, str] | None = None) -> LocalStack:
    """A fresh stack in a temp dir: empty store and index, the shipped profile catalog, the trained model;
    `classify_replicas` 0 = as configured (INTENTFLOW_CLASSIFY_REPLICAS); `env` adds to the services'."""
    classifier = Path(os.environ.get("INTENTFLOW_CLASSIFIER", CLASSIFIER))
    if not classifier.exists():
        raise FileNotFoundError(f"classifier model {classifier} not found: run `make model` first")
    workdir = Path(tempfile.mkdtemp(prefix="intentflow-bench-"))
    stack = LocalStack(workdir, env={"INTENTFLOW_PROFILES_FILE": str(PROFILES),
                                     "INTENTFLOW_CLASSIFIER": str(classifier.resolve()), **(env or {})},
                       classify_replicas=classify_replicas or from_env(StackSettings).classify_replicas,
                       match_replicas=match_replicas)
    progress.say(f"stack: starting broker and services in {workdir}")
    try:
        stack.start(timeout_s)
        wait_settled(stack, timeout_s)
    except BaseException:
        stack.stop()
        raise
    return stack


def held_partitions(stack: LocalStack, service: str) -> list[int]:
    """Partitions of its input topic each process of `service` consumes now (their own gauge)."""
    return [int(total(scrape(stack.metrics_url(p)), "intentflow_assigned_partitions")) for p in stack.replicas(service)]


def input_partitions(stack: LocalStack) -> dict[str, int]:
    """Partitions of each service's input topic, as the broker has them."""
    kafka = stack.kafka
    consumer = make_consumer(kafka, None)
    try:
        return {service: len(consumer.partitions_for_topic(kafka.name(topology.SERVICE_SPECS[service].consumes))
                             or ()) for service in SERVICES}
    finally:
        consumer.close()


def settled(stack: LocalStack, partitions: dict[str, int]) -> bool:
    """Whether each service's consumer group has spread the `partitions` of its topic over its processes, so a
    timed run does not start amid a rebalance: every partition held, and no process idle unless there are more
    processes than partitions."""
    for service, count in partitions.items():
        held = held_partitions(stack, service)
        if sum(held) != count or not (all(held) or len(held) > count):
            return False
    return True


def wait_settled(stack: LocalStack, timeout_s: float) -> None:
    partitions = input_partitions(stack)
    deadline = time.monotonic() + timeout_s
    while not settled(stack, partitions):
        if time.monotonic() > deadline:
            raise TimeoutError(f"consumer groups did not spread the partitions {partitions} within {timeout_s:.0f}s")
        time.sleep(LAG_POLL_S)


@contextmanager
def stopping(stack: LocalStack, progress: Progress) -> Iterator[dict[str, int | None]]:
    """Stop the stack when the block ends; the yielded dict then holds each service's exit code. The stack's
    temp dir is removed, unless the block raised or a service exited badly: then its logs stay."""
    codes: dict[str, int | None] = {}
    failed = True
    try:
        yield codes
        failed = False
    finally:
        codes.update(stack.stop())
        if failed or any(code not in (0, None) for code in codes.values()):
            progress.say(f"kept {stack.workdir} (logs) for inspection")
        else:
            shutil.rmtree(stack.workdir, ignore_errors=True)


def kafka_of(stack: LocalStack) -> KafkaSettings:
    return stack.kafka


def processes(stack: LocalStack) -> dict[str, int]:
    """pid of every process of the stack, and of this one (the producer and the lag probes)."""
    pids = {service: p.pid for service, p in stack.processes.items() if p.poll() is None}
    if stack.broker and stack.broker.process:
        pids["broker"] = stack.broker.process.pid
    pids["bench"] = os.getpid()
    return pids


@dataclass
class Snapshot:
    """Metrics and CPU times of the stack at one moment; two of them bracket a run."""
    at: float
    metrics: dict[str, Samples]  # per process: "classify", "classify-2", ...
    procs: dict[str, ProcStatus]
    busy_s: float               # CPU time of the whole machine (other jobs included)

    @classmethod
    def take(cls, stack: LocalStack) -> Snapshot:
        return cls(time.perf_counter(), {s: scrape(stack.metrics_url(s)) for s in stack.ports},
                   {name: proc_status(pid) for name, pid in processes(stack).items()}, machine_busy_s())


def lags(kafka: KafkaSettings) -> list[int]:
    return list(stage_lags(kafka).values())


def wait_committed(kafka: KafkaSettings, progress: Progress, timeout_s: float) -> tuple[float, bool]:
    """perf_counter time at which all three groups had committed everything, and whether it timed out.

    The time is taken when the probe that saw zero lags returns (resolution ~LAG_POLL_S plus one probe)."""
    deadline = time.perf_counter() + timeout_s
    last_report = 0.0
    while True:
        current = lags(kafka)
        now = time.perf_counter()
        if sum(current) == 0:
            return now, False
        if now > deadline:
            return now, True
        if now - last_report > 5:
            progress.say(f"  uncommitted records: ingest {current[0]}, classify {current[1]}, match {current[2]}")
            last_report = now
        time.sleep(LAG_POLL_S)


def throughput(stack: LocalStack, posts: list[BenchPost], progress: Progress,
               timeout_s: float) -> tuple[dict, Snapshot, Snapshot]:
    """The result, and the snapshots around the run (the per-stage part derives its figures from them)."""
    kafka = kafka_of(stack)
    now = time.time()
    messages = [(p.key.encode(), p.to_json(now)) for p in posts]  # serialised before the clock starts
    producer = make_producer(kafka)
    producer.partitions_for(kafka.topic_raw)  # metadata and connection before the clock starts
    before = Snapshot.take(stack)
    started = time.perf_counter()
    for key, value in messages:
        producer.send(kafka.topic_raw, key=key, value=value)
    producer.flush(120)
    produced = time.perf_counter()
    progress.say(f"  produced {len(posts)} posts in {produced - started:.1f}s; waiting for the match group to commit")
    finished, timed_out = wait_committed(kafka, progress, timeout_s)
    producer.close(10)
    after = Snapshot.take(stack)
    seconds = finished - started
    done = len(posts)
    if timed_out:  # report the rate of what got through rather than nothing
        done = sum(handled(before, after, name) for name in stack.replicas("match"))
    return {"posts": len(posts), "completed": done, "timed_out": timed_out,
            "produce_s": round(produced - started, 2), "seconds": round(seconds, 2),
            "posts_per_s": rate(done, seconds), "lag_poll_s": LAG_POLL_S}, before, after


def handled(before: Snapshot, after: Snapshot, process: str) -> int:
    """Records one process consumed between the snapshots."""
    return consumed(delta(before.metrics[process], after.metrics[process]))


@dataclass
class Arrivals:
    """First arrival time per (post key, signal kind), filled by the Subscribe reader thread."""
    first: dict[tuple[str, str], float] = field(default_factory=dict)
    events: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, event: match_pb2.SubscribeEvent, at: float) -> None:
        found = event_post(event)
        with self.lock:
            self.events += 1
            if found:
                self.first.setdefault(found, at)


def event_post(event: match_pb2.SubscribeEvent) -> tuple[str, str] | None:
    """(post key, kind) of a lead, candidate or complaint; None for alerts, which belong to no post."""
    if event.HasField("lead"):
        post, kind = event.lead.post, "lead"
    else:
        kind = event.hr_signal.WhichOneof("signal")
        if kind not in ("candidate", "complaint"):
            return None
        post = getattr(event.hr_signal, kind).post
    return post_key(post), kind


def latency(stack: LocalStack, posts: list[BenchPost], posts_per_s: float, progress: Progress,
            timeout_s: float) -> dict:
    kafka = kafka_of(stack)
    producer = make_producer(kafka)
    producer.partitions_for(kafka.topic_raw)
    arrivals = Arrivals()
    channel = stack.channel("match", stack.client_token)
    stream = match_pb2_grpc.MatchServiceStub(channel).Subscribe(match_pb2.SubscribeRequest())

    def read() -> None:
        try:
            for event in stream:
                arrivals.add(event, time.perf_counter())
        except grpc.RpcError as exc:
            if exc.code() != grpc.StatusCode.CANCELLED:
                progress.say(f"  Subscribe ended: {exc.code().name} {exc.details()}")

    reader = threading.Thread(target=read, name="bench-subscribe", daemon=True)
    reader.start()
    time.sleep(1.0)  # the server registers the subscription when the call arrives; give it that moment
    produced: dict[str, float] = {}
    started = time.perf_counter()
    for n, post in enumerate(posts):
        pause = started + n / posts_per_s - time.perf_counter()
        if pause > 0:
            time.sleep(pause)
        producer.send(kafka.topic_raw, key=post.key.encode(), value=post.to_json(time.time()))
        produced[post.key] = time.perf_counter()
    producer.flush(60)
    sent_s = time.perf_counter() - started
    _, timed_out = wait_committed(kafka, progress, timeout_s)
    time.sleep(0.5)  # events are published before the commit; let the stream carry the last ones
    stream.cancel()
    reader.join(5)
    channel.close()
    producer.close(10)
    return summarise_latency(posts, produced, arrivals, posts_per_s, sent_s, timed_out)


def summarise_latency(posts: list[BenchPost], produced: dict[str, float], arrivals: Arrivals,
                      posts_per_s: float, sent_s: float, timed_out: bool) -> dict:
    per_kind: dict[str, list[float]] = {}
    first_per_post: dict[str, float] = {}
    for (key, kind), at in arrivals.first.items():
        if key in produced:
            per_kind.setdefault(kind, []).append(at - produced[key])
            first_per_post[key] = min(at, first_per_post.get(key, at))
    positives = {p.key for p in posts if p.positive}
    overall = [at - produced[key] for key, at in first_per_post.items()]
    return {"target_posts_per_s": round(posts_per_s, 1), "achieved_posts_per_s": rate(len(posts), sent_s),
            "posts": len(posts), "positives_sent": len(positives), "events": arrivals.events,
            "posts_with_signal": len(first_per_post),
            "positives_with_signal": len(positives & set(first_per_post)),
            # False positives reach the queues too and cost the same downstream; their share is a quality figure.
            "negatives_with_signal": len(set(first_per_post) - positives),
            "timed_out": timed_out, "any_signal": latency_summary(overall),
            **{kind: latency_summary(values) for kind, values in sorted(per_kind.items())}}


def peak_rss(stack: LocalStack) -> dict[str, float]:
    """VmHWM of each service (and the broker) at the end of the run: their peak since start."""
    return {name: proc_status(pid).peak_rss_mb for name, pid in processes(stack).items() if name != "bench"}
