"""Training on a small corpus: both embedding backends, determinism, save/load round trip."""
from __future__ import annotations

import numpy as np
import pytest

from intentflow.embedding import load_embedder
from intentflow.settings import ModelSettings
from intentflow.signals import SIGNALS
from services.classify.classifier import ClassifyInput, build_features
from services.classify.classifier.model import SignalClassifier, TrainedModel
from services.classify.training.train import train

MINILM = "sentence-transformers:all-minilm-l6-v2"
TEXTS = ["Ищу работу водителем, опыт 8 лет", "Шукаю роботу бухгалтером у Києві", "Need a plumber in Leeds asap",
         "Продам велосипед", ""]


@pytest.fixture(scope="module")
def minilm():
    return load_embedder(MINILM)


@pytest.mark.parametrize("backend", ["use", "minilm"])
def test_embedders_return_l2_normalised_vectors(backend, use_embedder, minilm) -> None:
    embedder = use_embedder if backend == "use" else minilm
    vectors = embedder.encode(TEXTS)
    assert vectors.shape == (len(TEXTS), embedder.dim) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-4)
    assert embedder.encode([]).shape == (0, embedder.dim)


@pytest.mark.parametrize("backend", ["use", "minilm"])
def test_train_and_classify_with_each_backend(backend, use_embedder, minilm, small_corpus_file, tmp_path) -> None:
    embedder = use_embedder if backend == "use" else minilm
    features = build_features(ModelSettings(), embedder)
    out = tmp_path / "classifier.npz"
    model = train(features, [str(small_corpus_file)], out)
    assert out.exists() and out.with_suffix(".json").exists()
    loaded = TrainedModel.load(out)
    assert loaded.embedder == embedder.name
    classifier = SignalClassifier(features, loaded)
    results = classifier.classify([ClassifyInput("Ищу работу водителем, опыт 8 лет", "ru"),
                                   ClassifyInput("+1", "ru", "Шукаю роботу кухарем, Львів")])
    assert [r.lang for r in results] == ["ru", "ru"]
    for result in results:
        assert [v.signal for v in result.verdicts] == list(SIGNALS)
        assert all(0.0 <= v.probability <= 1.0 for v in result.verdicts)
        assert result.embedding.shape == (embedder.dim,)
    assert model.report["examples"] > 0


def test_classifier_refuses_a_model_of_another_embedder(use_embedder, minilm, small_corpus_file, tmp_path) -> None:
    model = train(build_features(ModelSettings(), minilm), [str(small_corpus_file)], tmp_path / "m.npz")
    with pytest.raises(ValueError, match="embedder"):
        SignalClassifier(build_features(ModelSettings(), use_embedder), model)


def test_training_is_deterministic(features, small_corpus_file, tmp_path) -> None:
    first = train(features, [str(small_corpus_file)], tmp_path / "a.npz")
    second = train(features, [str(small_corpus_file)], tmp_path / "b.npz")
    assert (tmp_path / "a.npz").read_bytes() == (tmp_path / "b.npz").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    for name in ("alpha", "offset", "platt", "thresholds", "train_embeddings"):
        assert np.array_equal(getattr(first, name), getattr(second, name)), name
    assert (first.linear_weights != second.linear_weights).nnz == 0
    assert np.array_equal(first.trees.value, second.trees.value)


def test_saved_model_predicts_like_the_trained_one(features, small_corpus_file, tmp_path) -> None:
    model = train(features, [str(small_corpus_file)], tmp_path / "m.npz")
    inputs = [ClassifyInput("Посоветуйте ноутбук до 50 тысяч", "ru"),
              ClassifyInput("Same", "en", "Need a vet in Leeds")]
    fresh = SignalClassifier(features, model).classify(inputs)
    loaded = SignalClassifier(features, TrainedModel.load(tmp_path / "m.npz")).classify(inputs)
    for a, b in zip(fresh, loaded):
        assert np.allclose([v.probability for v in a.verdicts], [v.probability for v in b.verdicts], atol=1e-5)
