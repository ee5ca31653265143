"""Per-post cost of classification: the encoder versus everything else.

`python -m services.classify.training.speed [--posts N] [--batch B]` classifies posts from the training corpus
(comments with their parents included) in batches, as the classify service does, and prints the time per post
spent in the encoder (texts and parents) and in the rest (language, spaCy lemmas, rules, hashing, both model
stages, evidence and reasons), each the best of 3 runs, and their ratio. The goal is rest <= 1/4 of the encoder.
"""
from __future__ import annotations

import argparse
import itertools
import time
from collections.abc import Sequence

import numpy as np

from intentflow.settings import ModelSettings, from_env
from services.classify.classifier import ClassifyInput, SignalClassifier, load_classifier
from services.classify.classifier.features import FeatureBuilder
from services.classify.training.corpus import load_examples
from services.classify.training.train import default_paths

REPEATS = 3   # timed runs per side; the best is kept


class _Prefilled:
    """Serves embeddings computed beforehand, so the timed run measures everything but the encoder."""

    def __init__(self, name: str, dim: int, vectors: dict[str, np.ndarray]):
        self.name, self.dim, self.vectors = name, dim, vectors

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([self.vectors[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


def sample_inputs(count: int) -> list[ClassifyInput]:
    """Posts interleaved by language from the training corpus."""
    by_lang: dict[str, list[ClassifyInput]] = {}
    for e in load_examples(default_paths()):
        by_lang.setdefault(e.lang, []).append(e.as_input())
    mixed = [i for group in itertools.zip_longest(*by_lang.values()) for i in group if i is not None]
    return mixed[:count]


def _texts_to_encode(inputs: list[ClassifyInput]) -> list[str]:
    """The distinct posts and parents of a batch, as the classify service encodes them."""
    return list(dict.fromkeys([i.text for i in inputs] + [i.parent_text for i in inputs if i.parent_text.strip()]))


def measure(classifier: SignalClassifier, inputs: list[ClassifyInput], batch: int) -> dict[str, float]:
    embedder = classifier.embedder
    texts = _texts_to_encode(inputs)
    classifier.classify(inputs[:batch])  # warm-up: matchers, caches, BLAS
    # Best of REPEATS for both sides, as timeit does: on a shared machine a slower run measures the
    # neighbours, not this code.
    encoder = float("inf")
    for _ in range(REPEATS):
        started = time.perf_counter()
        vectors = {}
        for start in range(0, len(inputs), batch):
            needed = _texts_to_encode(inputs[start:start + batch])
            vectors.update(zip(needed, embedder.encode(needed)))
        encoder = min(encoder, time.perf_counter() - started)
    assert set(vectors) == set(texts)
    rest_classifier = SignalClassifier(FeatureBuilder(_Prefilled(embedder.name, embedder.dim, vectors),
                                                      classifier.features.rules), classifier.model,
                                       gate=classifier.gate)
    rest_classifier.thresholds = classifier.thresholds
    runs = []
    for _ in range(1 + REPEATS):  # first pass: lemma and morphology caches cold for these posts' words; then warm
        started = time.perf_counter()
        for start in range(0, len(inputs), batch):
            rest_classifier.classify(inputs[start:start + batch])
        runs.append(time.perf_counter() - started)
    cold, warm = runs[0], min(runs[1:])
    n = len(inputs)
    return {"posts": n, "encoder_ms_per_post": 1000 * encoder / n, "rest_cold_ms_per_post": 1000 * cold / n,
            "rest_ms_per_post": 1000 * warm / n, "ratio_cold": cold / encoder, "ratio": warm / encoder}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256, help="posts per call (the service: KAFKA_MAX_POLL_RECORDS)")
    args = parser.parse_args()
    classifier = load_classifier(from_env(ModelSettings))
    row = measure(classifier, sample_inputs(args.posts), args.batch)
    print(f"posts={row['posts']} batch={args.batch} embedder={classifier.embedder.name}")
    print(f"encoder_ms_per_post={row['encoder_ms_per_post']:.2f}")
    print(f"rest_ms_per_post={row['rest_ms_per_post']:.2f} rest/encoder={row['ratio']:.3f} (warm word caches, "
          f"as in a running service; goal <= 0.25)")
    print(f"rest_cold_ms_per_post={row['rest_cold_ms_per_post']:.2f} rest/encoder={row['ratio_cold']:.3f} "
          f"(first sight of these posts' words)")


if __name__ == "__main__":
    main()
