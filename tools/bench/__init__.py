"""`intentflow bench` / `make bench`: throughput, latency and scale, measured against the encoder's limit.

The stream (corpus.py): real public posts from data/real/chatter (ru, uk, en) with written positives injected,
one per `--prevalence` posts (default 200); `--corpus written` uses the hand-written corpora instead.

Parts, in the order they run (each one's module says what exactly it measures):
  0. firststage.py the first stage's pass rate on the stream (the share of posts that reach the encoder)
  1. encoder.py   the configured embedder alone: the ceiling for the pipeline
  5. scale.py     candidate search at 100k / 1M vectors drawn around part 1's embeddings (in-process,
                  before the stack starts, so the 2 cores are not shared)
  3. stages.py    each service's processor in-process; later the stack's own metrics and CPU times
  2. pipeline.py  the embedded stack end to end: max throughput, then latency at half of it
  4. api.py       PullLeads / SearchCandidates with 4 concurrent clients
  6. peak RSS of every service (VmHWM) at the end
A part that fails is reported with its error and the others still run; the exit code is then 1.

`intentflow bench --scale-out` runs none of these but scale_out.py: the stream through 1 classify + 1 match
process and through 2 + 2 (PostgreSQL store, 4 partitions), with the speed-up; results in bench/results/scale_out.*.
"""
from __future__ import annotations

import os
import sys
import time
import traceback
from dataclasses import dataclass

from intentflow.embedding import load_embedder
from intentflow.settings import KafkaSettings, MatchSettings, from_env
from tools.bench import api, corpus, encoder, firststage, pipeline, report, scale, scale_out, stages
from tools.bench.progress import Progress

DEFAULT_POSTS, QUICK_POSTS = 20_000, 2_000


@dataclass(frozen=True)
class BenchConfig:
    quick: bool
    posts: int                 # end-to-end throughput run
    stream: str                # "real" (data/real/chatter + injected positives) or "written"
    prevalence: int            # real stream: one positive per this many posts
    encoder_posts: int         # part 1 (and the in-process per-stage runs reuse these posts)
    micro_posts: int
    scale: scale.ScaleConfig
    latency_s: float           # duration of the paced latency run
    api_calls: int             # per client and method
    hop_records: int
    warmup_posts: int          # pushed through the stack first: warms it up and calibrates the time budget
    budget_s: float            # whole run; the throughput run gets what the other parts leave

    @classmethod
    def from_args(cls, args) -> BenchConfig:
        quick = bool(getattr(args, "quick", False))
        posts = int(getattr(args, "posts", 0) or (QUICK_POSTS if quick else DEFAULT_POSTS))
        stream = getattr(args, "corpus", None) or "real"
        prevalence = int(getattr(args, "prevalence", 0) or corpus.DEFAULT_PREVALENCE)
        if quick:
            return cls(quick, posts, stream, prevalence, encoder_posts=768, micro_posts=768,
                       scale=scale.ScaleConfig(sizes=(100_000,), queries=300, exact_queries=30),
                       latency_s=10, api_calls=10, hop_records=2000, warmup_posts=200, budget_s=120)
        return cls(quick, posts, stream, prevalence, encoder_posts=2048, micro_posts=1536, scale=scale.ScaleConfig(),
                   latency_s=40, api_calls=40, hop_records=5000, warmup_posts=500, budget_s=570)

    def generator(self) -> corpus.CorpusGenerator:
        if self.stream == "written":
            return corpus.CorpusGenerator(corpus.load_sources())
        return corpus.CorpusGenerator(corpus.load_real_stream(), corpus.real_mix(self.prevalence))

    def describe_stream(self) -> str:
        if self.stream == "written":
            return "written corpora, 4 % positives"
        return f"real chatter (ru/uk/en), 1 written positive per {self.prevalence} posts"

    def reserve_after_throughput_s(self) -> float:
        """Time the parts after the throughput run need: latency run and its drain, API, hop, shutdown."""
        return self.latency_s + (25 if self.quick else 50)


class Runner:
    """Runs parts, keeping each one's result or error, so one failure does not lose the other figures."""

    def __init__(self, progress: Progress):
        self.progress = progress
        self.parts: dict = {}
        self.errors: dict[str, str] = {}

    def attempt(self, name: str, fn, *args, **kwargs):
        with self.progress.part(name):
            try:
                return fn(*args, **kwargs)
            except Exception as exc:
                self.errors[name] = f"{type(exc).__name__}: {exc}"
                traceback.print_exc(file=sys.stderr)
                self.progress.say(f"{name} FAILED: {self.errors[name]}")
                return None


def main(args) -> int:
    config = BenchConfig.from_args(args)
    if getattr(args, "scale_out", False):
        return _scale_out(config, args)
    progress = Progress()
    runner = Runner(progress)
    results = _header(config, args)
    progress.say(f"{results['mode']} run: {config.posts} posts end to end, machine {results['machine']}")

    generator = config.generator()
    e2e_posts = generator.take(config.posts)
    sample = e2e_posts[:config.encoder_posts]
    runner.parts["first_stage"] = runner.attempt("first stage", firststage.measure, e2e_posts)
    if runner.parts["first_stage"]:
        fs = runner.parts["first_stage"]
        progress.say(f"first stage: passes {fs['pass_rate']} of the stream to the encoder, "
                     f"recall {fs['positive_recall']} of {fs['positives']} injected positives")

    embedder, vectors = _encoder_part(runner, config, sample)
    if vectors is not None:
        runner.parts["scale"] = runner.attempt("scale", scale.run, _anchors(vectors, sample), config.scale, progress)
    if embedder is not None and vectors is not None:
        runner.parts["stages"] = {"in_process": runner.attempt(
            "stages in-process", stages.micro, _raw(sample[:config.micro_posts]),
            [p.text for p in sample[:config.micro_posts]], vectors[:config.micro_posts], embedder,
            from_env(KafkaSettings), progress)}
    del vectors
    runner.parts["end_to_end"] = runner.attempt("end to end", _stack_parts, runner, config, generator, e2e_posts,
                                                progress)

    measured = (runner.parts.get("end_to_end") or {}).get("throughput")
    if measured:
        results["posts"] = measured["posts"]  # after the time-budget cap
    results["versions"] = report.versions(embedder.name if embedder else None)
    results.update(report.headlines(runner.parts))
    results["parts"] = runner.parts
    results["errors"] = runner.errors
    results["part_seconds"] = progress.durations
    results["duration_s"] = round(progress.elapsed(), 1)
    path = report.write(results, args.out or report.LATEST)
    print(report.markdown(results))
    progress.say(f"wrote {path} and {path.with_suffix('.md')} in {results['duration_s']:.0f}s"
                 + (f"; FAILED parts: {', '.join(runner.errors)}" if runner.errors else ""))
    return 1 if runner.errors else 0


def _header(config: BenchConfig, args) -> dict:
    """What every results file starts with: the run's mode, command, stream and machine."""
    return {"mode": "quick" if config.quick else "full", "posts": config.posts,
            "command": "intentflow bench" + (" --scale-out" if getattr(args, "scale_out", False) else "")
            + (" --quick" if config.quick else "") + (f" --posts {args.posts}" if getattr(args, "posts", 0) else "")
            + (" --corpus written" if config.stream == "written" else f" --prevalence {config.prevalence}"),
            "stream": config.describe_stream(),
            "started_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": report.machine()}


def _scale_out(config: BenchConfig, args) -> int:
    """`--scale-out`: the same stream through 1 classify + 1 match and 2 + 2 processes (scale_out.py)."""
    progress = Progress()
    results = _header(config, args)
    progress.say(f"scale-out {results['mode']} run: {config.posts} posts per layout, machine {results['machine']}")
    generator = config.generator()
    warmup, posts = generator.take(config.warmup_posts), generator.take(config.posts)
    results["corpus"] = corpus.describe(posts)
    errors = {}
    try:
        results.update(scale_out.run(posts, warmup, from_env(MatchSettings).database_url, progress,
                                     timeout_s=300 if config.quick else 900))
    except Exception as exc:
        errors["scale out"] = f"{type(exc).__name__}: {exc}"
        traceback.print_exc(file=sys.stderr)
    results["errors"] = errors
    results["duration_s"] = round(progress.elapsed(), 1)
    path = report.write(results, args.out or report.SCALE_OUT, report.scale_out_markdown)
    print(report.scale_out_markdown(results))
    progress.say(f"wrote {path} and {path.with_suffix('.md')} in {results['duration_s']:.0f}s"
                 + (f"; FAILED: {errors['scale out']}" if errors else ""))
    return 1 if errors else 0


def _encoder_part(runner: Runner, config: BenchConfig, sample: list[corpus.BenchPost]):
    loaded = runner.attempt("load embedder", encoder.configured_embedder)
    if loaded is None:
        return None, None
    embedder, settings = loaded
    measured = runner.attempt("encoder", encoder.measure, embedder, [p.text for p in sample], runner.progress)
    if measured is None:
        return embedder, None
    result, vectors = measured
    runner.parts["encoder"] = {**result, "threads": settings.encoder_threads, "corpus": corpus.describe(sample)}
    runner.progress.say(f"encoder: {result['posts_per_s']} posts/s ({embedder.name})")
    runner.parts["encoder"]["one_thread_posts_per_s"] = result["posts_per_s"] if settings.encoder_threads == 1 else None
    if settings.encoder_threads != 1:
        # On 2 cores the encoder shares the CPU with the rest of the stack; one BLAS thread may be the better
        # setting there, so its rate is reported too (the headline uses the configured setting).
        single = runner.attempt("encoder, one thread", lambda: encoder.measure(
            load_embedder(settings.embedder, 1), [p.text for p in sample], runner.progress))
        runner.parts["encoder"]["one_thread_posts_per_s"] = single[0]["posts_per_s"] if single else None
    return embedder, vectors


def _anchors(vectors, sample: list[corpus.BenchPost], limit: int = 400):
    """Up to `limit` embeddings of distinct corpus texts (suffixed reuses of one text are near-duplicates)."""
    seen, rows = set(), []
    for n, post in enumerate(sample):
        base = post.text.split(" #")[0]
        if base not in seen:
            seen.add(base)
            rows.append(n)
        if len(rows) == limit:
            break
    return vectors[rows]


def _raw(posts: list[corpus.BenchPost]) -> list[tuple[bytes, bytes]]:
    now = time.time()
    return [(p.key.encode(), p.to_json(now)) for p in posts]


def _stack_parts(runner: Runner, config: BenchConfig, generator: corpus.CorpusGenerator,
                 posts: list[corpus.BenchPost], progress: Progress) -> dict:
    stack = pipeline.start_stack(progress)
    out: dict = {}
    with pipeline.stopping(stack, progress) as out["service_exit"]:
        posts = _fit_budget(out, stack, config, generator, posts, progress)
        out["throughput"], before, after = pipeline.throughput(stack, posts, progress, _remaining(config, progress))
        out["throughput"].update(out.pop("budget"), corpus=corpus.describe(posts))
        measured = out["throughput"]["posts_per_s"]
        progress.say(f"end to end: {measured} posts/s")
        stage_part = runner.parts.setdefault("stages", {})
        stage_part["in_stack"] = runner.attempt("stages in the stack", stages.service_view, before, after,
                                                out["throughput"]["completed"], os.cpu_count() or 1)
        if out["throughput"]["timed_out"]:
            runner.errors["latency"] = "skipped: the throughput run did not drain within the time budget"
        elif measured:
            rate = measured / 2
            paced = generator.take(max(50, int(rate * config.latency_s)))
            out["latency"] = runner.attempt("latency at half rate", pipeline.latency, stack, paced, rate, progress,
                                            max(30.0, config.latency_s))
        texts = [p.text for p in posts if "job_seeking" in p.labels][:40]
        runner.parts["api"] = runner.attempt("api", api.run, stack, texts, str(pipeline.PROFILES),
                                             config.api_calls, progress)
        payloads = [p.to_json(time.time()) for p in posts[:config.hop_records]]
        stage_part["kafka_hop"] = runner.attempt("kafka hop", stages.kafka_hop, pipeline.kafka_of(stack), payloads,
                                                 progress)
        out["peak_rss_mb"] = pipeline.peak_rss(stack)
    return out


def _remaining(config: BenchConfig, progress: Progress) -> float:
    return max(30.0, config.budget_s - progress.elapsed() - config.reserve_after_throughput_s())


def _fit_budget(out: dict, stack, config: BenchConfig, generator: corpus.CorpusGenerator,
                posts: list[corpus.BenchPost], progress: Progress) -> list[corpus.BenchPost]:
    """Warm the stack up with a small push (first batches pay one-off costs: connections, caches), and from
    its rate cap the throughput run so the whole benchmark fits its budget. The cap is reported."""
    warm, _, _ = pipeline.throughput(stack, generator.take(config.warmup_posts), progress, _remaining(config, progress))
    fits = int((warm["posts_per_s"] or 0) * _remaining(config, progress) * 0.9)
    capped = posts[:max(config.warmup_posts, fits)]
    out["budget"] = {"posts_requested": len(posts), "capped_by_time_budget": len(capped) < len(posts),
                     "warmup": {k: warm[k] for k in ("posts", "seconds", "posts_per_s")}}
    if len(capped) < len(posts):
        progress.say(f"  warm-up ran at {warm['posts_per_s']} posts/s: {len(capped)} of {len(posts)} posts fit the "
                     f"{config.budget_s:.0f}s budget")
    return capped
