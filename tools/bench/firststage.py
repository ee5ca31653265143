"""The first stage's (services/classify/prefilter.py) verdicts on the benchmark stream, in-process.

Every post the first stage passes goes through the encoder, so its pass rate on the stream sets how much
encoder work the pipeline does per post; its recall says how many injected positives it lets through.
The real stream's background is the chatter the first stage was trained on, so this pass rate is in-sample;
`intentflow eval prefilter --loso` measures it on sources the first stage has not seen.
"""
from __future__ import annotations

import time

from intentflow.settings import ModelSettings, from_env
from services.classify.prefilter import Prefilter
from tools.bench.corpus import BenchPost


def measure(posts: list[BenchPost]) -> dict:
    settings = from_env(ModelSettings)
    prefilter = Prefilter.load(settings.prefilter_path)
    started = time.perf_counter()
    passed = prefilter.passes([p.text for p in posts], [p.parent_text for p in posts])
    seconds = time.perf_counter() - started
    return {"enabled_in_stack": settings.prefilter, "model": settings.prefilter_path,
            "features": prefilter.features, "threshold": round(prefilter.threshold, 4), **summarise(posts, passed),
            "us_per_post": round(seconds * 1e6 / len(posts), 1) if posts else None}


def summarise(posts: list[BenchPost], passed) -> dict:
    """Pass rate over the stream and over its negatives, recall over its positives, pass rate per language."""
    positives = [ok for p, ok in zip(posts, passed) if p.positive]
    negatives = [ok for p, ok in zip(posts, passed) if not p.positive]
    by_lang: dict[str, list[bool]] = {}
    for post, ok in zip(posts, passed):
        if not post.positive:
            by_lang.setdefault(post.lang or "unknown", []).append(bool(ok))

    def share(values) -> float | None:
        return round(sum(bool(v) for v in values) / len(values), 4) if len(values) else None

    return {"posts": len(posts), "pass_rate": share(list(passed)), "negatives_pass_rate": share(negatives),
            "positives": len(positives), "positive_recall": share(positives),
            "negatives_pass_rate_by_lang": {lang: share(v) for lang, v in sorted(by_lang.items())}}
