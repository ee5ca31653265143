"""Shared fixtures: the real encoder, the shipped classifier (trained here if missing or stale) and small corpora."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from intentflow.embedding import USE_MULTILINGUAL, load_embedder
from intentflow.settings import ModelSettings, from_env
from services.classify.classifier import build_features
from services.classify.classifier.model import SignalClassifier, TrainedModel
from services.classify.training.corpus import Example, load_examples
from services.classify.training.train import default_paths, train


@pytest.fixture(scope="session")
def use_embedder():
    return load_embedder(USE_MULTILINGUAL)


@pytest.fixture(scope="session")
def features(use_embedder):
    return build_features(ModelSettings(), use_embedder)


@pytest.fixture(scope="session")
def classifier(features, tmp_path_factory) -> SignalClassifier:
    """The shipped model (models/classifier.npz); trained from the corpus if it is missing or out of date."""
    path = Path(from_env(ModelSettings).classifier_path)
    try:
        return SignalClassifier(features, TrainedModel.load(path))
    except (FileNotFoundError, ValueError):
        out = tmp_path_factory.mktemp("model") / "classifier.npz"
        return SignalClassifier(features, train(features, default_paths(), out))


def small_corpus(per_lang: int = 40) -> list[Example]:
    """A balanced slice of the training corpus: the first posts of each kind in each language."""
    picked: list[Example] = []
    counts: dict[tuple[str, str], int] = {}
    per_kind = max(2, per_lang // 10)
    for e in load_examples(default_paths()):
        key = (e.lang, e.kind)
        if counts.get(key, 0) < per_kind and sum(v for (lang, _), v in counts.items() if lang == e.lang) < per_lang:
            counts[key] = counts.get(key, 0) + 1
            picked.append(e)
    return picked


@pytest.fixture(scope="session")
def small_corpus_file(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("corpus") / "train_small.jsonl"
    with path.open("w", encoding="utf-8") as fh:
        for e in small_corpus():
            fh.write(json.dumps(e.extra, ensure_ascii=False) + "\n")
    return path
