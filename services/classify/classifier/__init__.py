"""Signal classifier: spaCy lemma rules + sentence embeddings, two learned stages, and a stream gate."""
from __future__ import annotations

from intentflow.e5 import load_e5
from intentflow.embedding import Embedder, load_embedder
from intentflow.nlp.linguistics import Linguistics
from intentflow.settings import ModelSettings
from intentflow.signals import EMPLOYER_COMPLAINT, JOB_SEEKING, PURCHASE_INTENT, SIGNALS
from services.classify.classifier.features import ClassifyInput, FeatureBuilder
from services.classify.classifier.gate import StreamGate, parse_operating_points
from services.classify.classifier.model import Result, SignalClassifier, TrainedModel, Verdict
from services.classify.classifier.rules import RuleEngine


def build_features(settings: ModelSettings, embedder: Embedder | None = None) -> FeatureBuilder:
    embedder = embedder or load_embedder(settings.embedder, settings.encoder_threads)
    return FeatureBuilder(embedder, RuleEngine(Linguistics()))


def load_classifier(settings: ModelSettings, embedder: Embedder | None = None) -> SignalClassifier:
    thresholds = {PURCHASE_INTENT: settings.threshold_purchase, JOB_SEEKING: settings.threshold_job,
                  EMPLOYER_COMPLAINT: settings.threshold_complaint}
    model = TrainedModel.load(settings.classifier_path)
    gate, second_encoder = None, None
    if settings.stream_gate:
        gate = StreamGate.load(settings.gate_path).with_operating_points(
            parse_operating_points(settings.operating_points))
        if gate.second_view_weight:
            second_encoder = load_e5(settings.encoder_threads)
    return SignalClassifier(build_features(settings, embedder), model, thresholds, gate, second_encoder)


__all__ = [
    "SIGNALS",
    "ClassifyInput",
    "Result",
    "SignalClassifier",
    "Verdict",
    "build_features",
    "load_classifier",
]
