"""Per-post cost of classification: the encoder versus everything else.

`python -m services.classify.training.speed [--posts N] [--batch B] [--chatter]` classifies posts from the
training corpus (comments with their parents included) in batches, as the classify service does, and prints
the time per post spent in the encoder (texts and parents) and in the rest (language, spaCy lemmas, rules,
hashing, both model stages, the stream gate with its e5 view of the posts the classifier flags, evidence and
reasons), each the best of 3 runs, and their ratio. The goal is rest <= 1/4 of the encoder. The e5 view is
also shown on its own: it is paid per flagged post, so its share depends on the stream. `--chatter` measures
on what classify sees of a real stream instead: the real chatter (data/real/chatter) the first stage passes.
"""
from __future__ import annotations

import argparse
import glob
import itertools
import time
from collections.abc import Sequence

import numpy as np

from intentflow.settings import ModelSettings, from_env
from services.classify.classifier import ClassifyInput, SignalClassifier, load_classifier
from services.classify.classifier.features import FeatureBuilder
from services.classify.prefilter import Prefilter
from services.classify.training.corpus import load_examples
from services.classify.training.prefilter import CHATTER_GLOB
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


def chatter_inputs(count: int, prefilter: Prefilter | None) -> list[ClassifyInput]:
    """Real chatter interleaved by source, keeping the posts the first stage passes (all without one)."""
    by_source = [[e.as_input() for e in load_examples([path])] for path in sorted(glob.glob(CHATTER_GLOB))]
    mixed = [i for group in itertools.zip_longest(*by_source) for i in group if i is not None]
    if prefilter is not None:
        scores = prefilter.scores([i.text for i in mixed], [i.parent_text for i in mixed])
        mixed = [i for i, score in zip(mixed, scores) if score >= prefilter.threshold]
    return mixed[:count]


class _TimedEncoder:
    """The e5 encoder, keeping the time it spends and the posts it embeds."""

    def __init__(self, encoder):
        self.encoder, self.seconds, self.posts = encoder, 0.0, 0

    def query(self, texts: Sequence[str]) -> np.ndarray:
        started = time.perf_counter()
        try:
            return self.encoder.query(texts)
        finally:
            self.seconds += time.perf_counter() - started
            self.posts += len(texts)


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
    second = _TimedEncoder(classifier.second_encoder) if classifier.second_encoder is not None else None
    rest_classifier = SignalClassifier(FeatureBuilder(_Prefilled(embedder.name, embedder.dim, vectors),
                                                      classifier.features.rules), classifier.model,
                                       gate=classifier.gate, second_encoder=second)
    rest_classifier.thresholds = classifier.thresholds
    runs, e5 = [], []
    for _ in range(1 + REPEATS):  # first pass: lemma and morphology caches cold for these posts' words; then warm
        started = time.perf_counter()
        e5_before = second.seconds if second else 0.0
        for start in range(0, len(inputs), batch):
            rest_classifier.classify(inputs[start:start + batch])
        runs.append(time.perf_counter() - started)
        e5.append((second.seconds if second else 0.0) - e5_before)
    cold, warm = runs[0], min(runs[1:])
    n = len(inputs)
    embedded = second.posts // (1 + REPEATS) if second else 0
    return {"posts": n, "encoder_ms_per_post": 1000 * encoder / n, "rest_cold_ms_per_post": 1000 * cold / n,
            "rest_ms_per_post": 1000 * warm / n, "ratio_cold": cold / encoder, "ratio": warm / encoder,
            "e5_posts": embedded, "e5_ms_per_post": 1000 * min(e5) / n}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1024)
    parser.add_argument("--batch", type=int, default=256, help="posts per call (the service: KAFKA_MAX_POLL_RECORDS)")
    parser.add_argument("--chatter", action="store_true",
                        help="real chatter the first stage passes (data/real/chatter) instead of the training corpus")
    args = parser.parse_args()
    settings = from_env(ModelSettings)
    classifier = load_classifier(settings)
    if args.chatter:
        inputs = chatter_inputs(args.posts, Prefilter.load(settings.prefilter_path) if settings.prefilter else None)
    else:
        inputs = sample_inputs(args.posts)
    row = measure(classifier, inputs, args.batch)
    print(f"posts={row['posts']} batch={args.batch} embedder={classifier.embedder.name} "
          f"source={'real chatter the first stage passes' if args.chatter else 'training corpus'}")
    print(f"encoder_ms_per_post={row['encoder_ms_per_post']:.2f}")
    print(f"rest_ms_per_post={row['rest_ms_per_post']:.2f} rest/encoder={row['ratio']:.3f} (warm word caches, "
          f"as in a running service; goal <= 0.25)")
    print(f"rest_cold_ms_per_post={row['rest_cold_ms_per_post']:.2f} rest/encoder={row['ratio_cold']:.3f} "
          f"(first sight of these posts' words)")
    print(f"e5_view_ms_per_post={row['e5_ms_per_post']:.2f} (in rest: the stream gate's e5 view of the "
          f"{row['e5_posts']} posts the classifier flags and its screen does not rule out)")


if __name__ == "__main__":
    main()
