"""Part 3: where a post's time goes, per stage, measured two ways.

1. From the running stack (`service_view`): the Prometheus deltas around the end-to-end run give each
   service's batch-loop time (process + produce with acks + commit) and its instrumented steps, and /proc
   gives every process's CPU time. Per post, CPU time sums across processes, so it shows what the 2 cores
   are spent on, and `cores / total CPU per post` is the ceiling the whole stack could reach here.
2. In-process (`micro`): each service's own batch processor (IngestHandler.process, ClassifyHandler.process,
   MatchEngine.process) on the benchmark posts with Kafka replaced by lists, so the numbers are the
   processing cost without the hops. Classify runs with an embedding cache pre-filled with every text, so
   it is "classify apart from the encoder" (rules, features, model, message building). The Kafka hop is
   measured on its own with the real client against the stack's broker.
"""
from __future__ import annotations

import gc
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from intentflow.embedding import Embedder
from intentflow.kafka_io import OutMessage, ensure_topics, make_consumer, make_producer
from intentflow.settings import KafkaSettings
from tools.bench.pipeline import PROFILES, Snapshot
from tools.bench.probes import NOT_RECORDS, delta, label_values, total
from tools.bench.progress import Progress
from tools.bench.stats import chunks, per_item_us, rate
from tools.stack import SERVICES


def service_view(before: Snapshot, after: Snapshot, posts: int, cores: int) -> dict:
    wall = after.at - before.at
    out: dict = {"wall_s": round(wall, 2), "posts": posts, "services": {}, "cpu_us_per_post": {}}
    for service in SERVICES:
        d = delta(before.metrics[service], after.metrics[service])
        outcomes = {o: int(total(d, "intentflow_records_total", service=service, outcome=o))
                    for o in label_values(after.metrics[service], "intentflow_records_total", "outcome",
                                          service=service)}
        records = sum(n for o, n in outcomes.items() if o not in NOT_RECORDS)
        batch_s = total(d, "intentflow_batch_seconds_sum", service=service)
        batches = total(d, "intentflow_batch_seconds_count", service=service)
        steps = {step: total(d, "intentflow_step_seconds_sum", service=service, step=step)
                 for step in label_values(after.metrics[service], "intentflow_step_seconds_sum", "step",
                                          service=service)}
        out["services"][service] = {
            "records": int(records), "outcomes": outcomes, "batches": int(batches),
            "mean_batch_records": round(records / batches, 1) if batches else None,
            # Share of the run the consume loop spent on batches (the rest is polling and waiting).
            "loop_busy_share": round(batch_s / wall, 3) if wall else None,
            "batch_us_per_record": per_item_us(batch_s, int(records)),
            "steps_us_per_record": {step: per_item_us(s, int(records)) for step, s in steps.items()},
            # Batch time outside the instrumented steps: decoding, building outputs, produce + acks, commit.
            "outside_steps_us_per_record": per_item_us(batch_s - sum(steps.values()), int(records)),
        }
    for name in after.procs:
        if name in before.procs:
            cpu = after.procs[name].cpu_s - before.procs[name].cpu_s
            out["cpu_us_per_post"][name] = per_item_us(cpu, posts)
    cpu_total_us = sum(v for v in out["cpu_us_per_post"].values() if v)
    out["cpu_us_per_post_total"] = round(cpu_total_us, 1)
    if wall:
        # Everything else running on the machine meanwhile (other jobs slow every figure down).
        others = after.busy_s - before.busy_s - cpu_total_us * posts / 1e6
        out["other_processes_cpu_share"] = round(max(0.0, others) / (wall * cores), 3)
    out["cpu_share_of_machine"] = round(cpu_total_us * posts / 1e6 / (wall * cores), 3) if wall else None
    out["cpu_bound_ceiling_posts_per_s"] = round(cores * 1e6 / cpu_total_us, 1) if cpu_total_us else None
    return out


@dataclass
class FakeRecord:
    """The parts of a kafka ConsumerRecord the processors read."""
    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes


def as_records(messages: Sequence[OutMessage] | Sequence[tuple[bytes, bytes]], topic: str) -> list[FakeRecord]:
    out = []
    for n, m in enumerate(messages):
        key, value = (m.key, m.value) if isinstance(m, OutMessage) else m
        out.append(FakeRecord(topic, 0, n, key, value))
    return out


class CachedEmbedder:
    """The real embedder behind a text → vector cache: with the cache pre-filled, a classifier built on it
    runs its full code path with the encoder's cost removed (and the hit rate shows the lever's value)."""

    def __init__(self, embedder: Embedder):
        self.inner = embedder
        self.name, self.dim = embedder.name, embedder.dim
        self.cache: dict[str, np.ndarray] = {}
        self.misses = 0

    def seed(self, texts: Sequence[str], vectors: np.ndarray) -> None:
        self.cache.update(zip(texts, vectors))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        missing = list(dict.fromkeys(t for t in texts if t not in self.cache))
        if missing:
            self.misses += len(missing)
            self.cache.update(zip(missing, self.inner.encode(missing)))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self.cache[t] for t in texts])


def timed_batches(process: Callable[[list], list], records: list, batch: int) -> tuple[dict, list]:
    """Warm up on the first batch, then time the rest batch by batch (as a consume loop would call it)."""
    outputs = list(process(records[:batch]))
    timed = records[batch:]
    started = time.perf_counter()
    for part in chunks(timed, batch):
        outputs.extend(process(list(part)))
    elapsed = time.perf_counter() - started
    return {"records": len(timed), "us_per_record": per_item_us(elapsed, len(timed)),
            "records_per_s": rate(len(timed), elapsed)}, outputs


def micro(raw: list[tuple[bytes, bytes]], texts: list[str], vectors: np.ndarray, embedder: Embedder,
          kafka: KafkaSettings, progress: Progress) -> dict:
    """Each processor on the same posts; raw = (key, proto3 JSON) records, texts/vectors = part 1's encodings.

    Each processor's outputs feed the next, as on the topics. A failing step is reported and ends the chain."""
    from intentflow.settings import IngestSettings, from_env
    from services.ingest.app import IngestHandler

    batch = kafka.max_poll_records
    results: dict = {"batch": batch}
    ingest = IngestHandler(from_env(IngestSettings))
    results["ingest"], clean = timed_batches(ingest.process, as_records(raw, kafka.topic_raw), batch)
    results["ingest"]["what"] = "IngestHandler.process: JSON decode, validate, normalise, language, dedup, encode"
    progress.say(f"  ingest: {results['ingest']['us_per_record']} µs/post")
    clean_records = as_records([m for m in clean if m.topic == kafka.topic_clean], kafka.topic_clean)
    for name, step in (("classify", _classify), ("match", _match)):
        try:
            clean_records = step(results, clean_records, texts, vectors, embedder, kafka, progress)
        except Exception as exc:
            results[f"{name}_error"] = f"{type(exc).__name__}: {exc}"
            progress.say(f"  {name} in-process FAILED: {results[f'{name}_error']}")
            break
    gc.collect()
    return results


def _classify(results: dict, records: list[FakeRecord], texts: list[str], vectors: np.ndarray, embedder: Embedder,
              kafka: KafkaSettings, progress: Progress) -> list[FakeRecord]:
    from intentflow.nlp.linguistics import Linguistics
    from intentflow.settings import ClassifySettings, from_env
    from intentflow.text.normalize import normalize_text
    from intentflow.wire import decode_post
    from services.classify.app import ClassifyHandler
    from services.classify.classifier import load_classifier
    from services.classify.prefilter import Prefilter

    batch = kafka.max_poll_records
    settings = from_env(ClassifySettings)
    cached = CachedEmbedder(embedder)
    cached.seed([normalize_text(t) for t in texts], vectors)  # ingest normalises the text before classify
    prefilter = Prefilter.load(settings.model.prefilter_path) if settings.model.prefilter else None
    handler = ClassifyHandler(settings, load_classifier(settings.model, embedder=cached), prefilter)
    posts = [decode_post(r.value) for r in records]
    if prefilter is not None:   # the first stage on its own, on every post of the stream
        results["classify_prefilter"], passed = timed_batches(
            lambda part: [s >= prefilter.threshold for s in prefilter.scores(
                [posts[i].text for i in part], [posts[i].parent_text for i in part])],
            list(range(len(posts))), batch)
        results["classify_prefilter"].update(what="Prefilter.scores (first stage), per post of the stream",
                                             pass_share=round(sum(passed) / max(1, len(passed)), 3))
        progress.say(f"  classify first stage: {results['classify_prefilter']['us_per_record']} µs/post, "
                     f"passes {results['classify_prefilter']['pass_share']}")
    cached.encode([p.text for p in posts] + [p.parent_text for p in posts if p.parent_text])  # fill, untimed
    misses = cached.misses
    results["classify_without_encoder"], classified = timed_batches(handler.process, records, batch)
    results["classify_without_encoder"].update(
        what="ClassifyHandler.process with every embedding cached, per post of the stream: decode, first stage, "
             "then for the posts it passes spaCy lemmas and rules, features, model, reasons; ClassifiedPost",
        encoder_calls_while_timed=cached.misses - misses)
    progress.say(f"  classify apart from the encoder: {results['classify_without_encoder']['us_per_record']} µs/post")

    linguistics = Linguistics()
    langs = [p.lang or "other" for p in posts]
    post_texts = [p.text for p in posts]
    results["classify_lemmas_only"], _ = timed_batches(
        lambda part: linguistics.docs([post_texts[i] for i in part], [langs[i] for i in part]),
        list(range(len(posts))), batch)
    results["classify_lemmas_only"]["what"] = "Linguistics.docs: spaCy tokenizer + cached lemmas (post texts only)"
    return as_records([m for m in classified if m.topic == kafka.topic_classified], kafka.topic_classified)


def _match(results: dict, records: list[FakeRecord], _texts, _vectors, embedder: Embedder, kafka: KafkaSettings,
           progress: Progress) -> list[FakeRecord]:
    from intentflow.nlp.linguistics import Linguistics
    from intentflow.settings import MatchSettings, from_env
    from services.match.application import MatchApplication
    from services.match.engine import MatchEngine
    from services.match.matching.catalog import load_catalog
    from services.match.store import open_store
    from services.match.subscriptions import SubscriptionHub

    with tempfile.TemporaryDirectory(prefix="bench-match-") as workdir:
        settings = from_env(MatchSettings, {**os.environ,
                                            "INTENTFLOW_DATABASE_URL": f"sqlite:///{Path(workdir) / 'bench.db'}",
                                            "INTENTFLOW_INDEX_DIR": str(Path(workdir) / "index")})
        store = open_store(settings.database_url)
        app = MatchApplication(settings, store, embedder, Linguistics(), SubscriptionHub())
        app.import_catalog(load_catalog(str(PROFILES)))
        app.load()
        engine = MatchEngine(app)

        delivered = {"seconds": 0.0, "count": 0}

        def process(part: list) -> list:
            outputs = engine.process(part)
            started = time.perf_counter()
            for message in outputs:  # what StreamStage runs once the broker acknowledged each output
                if message.on_delivered:
                    message.on_delivered()
            delivered["seconds"] += time.perf_counter() - started
            delivered["count"] += len(outputs)
            return outputs

        result, outputs = timed_batches(process, records, kafka.max_poll_records)
        signal_posts = sum(1 for r in records[kafka.max_poll_records:] if _has_signal(r.value))
        result.update(what="MatchEngine.process + on_delivered: parse, profile match (incl. the e5 reranker), "
                           "store writes, candidate index, publish", outputs=len(outputs),
                      signal_posts=signal_posts,
                      us_per_signal_post=per_item_us(result["us_per_record"] * result["records"] / 1e6,
                                                     signal_posts),
                      on_delivered_us_per_output=per_item_us(delivered["seconds"], delivered["count"]))
        results["match"] = result
        progress.say(f"  match: {result['us_per_record']} µs/post, {result['us_per_signal_post']} µs per post "
                     f"with a signal ({signal_posts}; {len(outputs)} outputs)")
        results["match_post_doc"] = _post_doc(app.linguistics, records)
        results["store_add_queue_item"] = _store_add(store)
        store.close()
    return []


def _has_signal(value: bytes) -> bool:
    from intentflow.v1 import post_pb2
    return any(c.positive for c in post_pb2.ClassifiedPost.FromString(value).classifications)


def _post_doc(linguistics, records: list[FakeRecord]) -> dict:
    """What match pays for the post's lemmas: lemmatising the text again, against rebuilding the Doc from the
    tokens classify sent (ClassifiedPost.tokens), on the classified posts that carry them."""
    from intentflow.v1 import post_pb2
    from services.match.matching.phrases import pipeline_language
    from services.match.matching.tokens import post_doc
    messages = [m for m in (post_pb2.ClassifiedPost.FromString(r.value) for r in records) if m.HasField("tokens")]
    if not messages:
        return {"posts": 0}
    started = time.perf_counter()
    for m in messages:
        linguistics.doc(m.post.text, pipeline_language(m.post.lang))
    lemmatise = time.perf_counter() - started
    started = time.perf_counter()
    for m in messages:
        post_doc(linguistics, m)
    rebuild = time.perf_counter() - started
    return {"posts": len(messages), "lemmatise_us_per_post": per_item_us(lemmatise, len(messages)),
            "rebuild_us_per_post": per_item_us(rebuild, len(messages)),
            "what": "match: Linguistics.doc of the post, with match's word caches as the run left them (they saw "
                    "only the posts with a signal), against post_doc from the tokens classify sent"}


def _store_add(store, items: int = 500) -> dict:
    from services.match.store import QueueItem, queue_item_id
    from services.match.store.models import KIND_LEAD, PostRef
    now = time.time()
    queue = [QueueItem(id=queue_item_id(KIND_LEAD, f"bench:{n}", "laptops"), kind=KIND_LEAD, profile_id="laptops",
                       post=PostRef(post_id=f"bench:store-{n}", network="bench", author=f"author{n}",
                                    text=f"need a laptop {n}", lang="en", created_at=now),
                       intent_probability=0.9, match_score=0.5, priority=0.7, detected_at=now) for n in range(items)]
    started = time.perf_counter()
    for item in queue:
        store.add_queue_item(item, 7 * 86400.0, now)
    elapsed = time.perf_counter() - started
    return {"items": items, "us_per_item": per_item_us(elapsed, items),
            "what": "Store.add_queue_item (SQLite, dedup/merge lookup + insert, one transaction per item)"}


def kafka_hop(kafka: KafkaSettings, payloads: list[bytes], progress: Progress) -> dict:
    """One hop with the real client and broker: produce with acks=all and flush, then consume from a fresh
    consumer. Client + broker cost per record; the services pay it once per hop (3 consumes, 3 produces)."""
    topic = "bench.hop"
    ensure_topics(kafka, [topic])
    producer = make_producer(kafka)
    producer.partitions_for(topic)
    started = time.perf_counter()
    for n, value in enumerate(payloads):
        producer.send(topic, key=str(n).encode(), value=value)
    producer.flush(60)
    produce_s = time.perf_counter() - started
    producer.close(10)
    consumer = make_consumer(kafka, None, [topic])
    got, started = 0, time.perf_counter()
    deadline = started + 60
    while got < len(payloads) and time.perf_counter() < deadline:
        got += sum(len(batch) for batch in consumer.poll(timeout_ms=200).values())
    consume_s = time.perf_counter() - started
    consumer.close()
    result = {"records": len(payloads), "mean_bytes": round(sum(map(len, payloads)) / max(1, len(payloads))),
              "produce_us_per_record": per_item_us(produce_s, len(payloads)),
              "consume_us_per_record": per_item_us(consume_s, got), "consumed": got}
    progress.say(f"  kafka hop: produce {result['produce_us_per_record']} µs, consume "
                 f"{result['consume_us_per_record']} µs per record of {result['mean_bytes']} B")
    return result
