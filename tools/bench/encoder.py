"""Part 1: the encoder limit, i.e. the configured embedder alone, in-process, batched and warm.

This is the ceiling the pipeline is compared with: classify must encode every post, so on CPU the pipeline
cannot beat it unless a cheaper stage rules posts out before the encoder.
"""
from __future__ import annotations

import time
from collections.abc import Sequence

import numpy as np

from intentflow.embedding import Embedder, load_embedder
from intentflow.settings import ModelSettings, from_env
from tools.bench.progress import Progress
from tools.bench.stats import chunks, rate

BATCH = 128


def configured_embedder() -> tuple[Embedder, ModelSettings]:
    settings = from_env(ModelSettings)
    return load_embedder(settings.embedder, settings.encoder_threads), settings


def measure(embedder: Embedder, texts: Sequence[str], progress: Progress,
            batch: int = BATCH) -> tuple[dict, np.ndarray]:
    """Throughput over `texts` after one warm-up batch (first calls allocate and fill caches); also returns
    the embeddings, which the scale and per-stage parts reuse instead of encoding again."""
    embedder.encode(list(texts[:batch]))
    vectors = []
    started = time.perf_counter()
    for n, part in enumerate(chunks(list(texts), batch)):
        vectors.append(embedder.encode(list(part)))
        if n % 8 == 7:
            progress.say(f"encoder: {sum(len(v) for v in vectors)}/{len(texts)} posts")
    elapsed = time.perf_counter() - started
    result = {"embedder": embedder.name, "dim": embedder.dim, "posts": len(texts), "batch": batch,
              "seconds": round(elapsed, 2), "posts_per_s": rate(len(texts), elapsed),
              "mean_chars": round(sum(len(t) for t in texts) / max(1, len(texts)), 1)}
    return result, np.vstack(vectors)
