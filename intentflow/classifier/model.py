"""The trained classifier artifact and the runtime that applies it."""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from intentflow.classifier.features import ClassifyInput, FeatureBuilder, Features
from intentflow.classifier.labels import RULE_PREFIX, SIGNALS
from intentflow.classifier.rules import Span

NEIGHBOURS = 2
# Standardised dense features (~1,100 of unit variance) would drown the L2-normalised sparse n-gram
# blocks under one shared regularisation strength; this weight balances the two.
DENSE_WEIGHT = 0.05


@dataclass
class TrainedModel:
    """Standardiser + one logistic head per signal + Platt calibration + tuned thresholds.

    Also keeps the training examples' embeddings so a positive can be explained by its nearest
    labelled examples.
    """
    version: str
    embedder: str
    rule_groups: list[str]
    mean: np.ndarray
    scale: np.ndarray
    coef: np.ndarray            # (signals, dim)
    intercept: np.ndarray       # (signals,)
    platt: np.ndarray           # (signals, 2): a, b in sigmoid(a*z + b)
    thresholds: np.ndarray      # (signals,)
    example_embeddings: np.ndarray
    example_labels: np.ndarray  # (examples, signals) 0/1
    example_texts: list[str]
    report: dict = field(default_factory=dict)

    def design(self, features: Features) -> sp.csr_matrix:
        """The matrix the logistic heads see: standardised, down-weighted dense block + sparse block."""
        dense = DENSE_WEIGHT * (features.dense - self.mean) / self.scale
        return sp.hstack([sp.csr_matrix(dense), features.sparse], format="csr")

    def probabilities(self, features: Features) -> np.ndarray:
        z = np.asarray(self.design(features) @ self.coef.T) + self.intercept
        calibrated = self.platt[:, 0] * z + self.platt[:, 1]
        return 1.0 / (1.0 + np.exp(-calibrated))

    def save(self, path: str | Path) -> None:
        path = Path(path)
        path.parent.mkdir(parents=True, exist_ok=True)
        np.savez_compressed(
            path, mean=self.mean, scale=self.scale, coef=self.coef, intercept=self.intercept, platt=self.platt,
            thresholds=self.thresholds, example_embeddings=self.example_embeddings.astype(np.float16),
            example_labels=self.example_labels.astype(np.uint8))
        meta = {"version": self.version, "embedder": self.embedder, "rule_groups": self.rule_groups,
                "example_texts": self.example_texts, "report": self.report}
        path.with_suffix(".json").write_text(json.dumps(meta, ensure_ascii=False, indent=1), encoding="utf-8")

    @classmethod
    def load(cls, path: str | Path) -> TrainedModel:
        path = Path(path)
        if not path.exists():
            raise FileNotFoundError(f"classifier model {path} not found: run `make model` (or `intentflow train`)")
        arrays = np.load(path)
        meta = json.loads(path.with_suffix(".json").read_text(encoding="utf-8"))
        return cls(version=meta["version"], embedder=meta["embedder"], rule_groups=meta["rule_groups"],
                   mean=arrays["mean"], scale=arrays["scale"], coef=arrays["coef"], intercept=arrays["intercept"],
                   platt=arrays["platt"], thresholds=arrays["thresholds"],
                   example_embeddings=arrays["example_embeddings"].astype(np.float32),
                   example_labels=arrays["example_labels"], example_texts=meta["example_texts"],
                   report=meta.get("report", {}))


@dataclass
class Verdict:
    signal: str
    probability: float
    positive: bool
    evidence: list[Span]
    reason: str


@dataclass
class Result:
    lang: str
    verdicts: list[Verdict]
    embedding: np.ndarray

    def positive(self, signal: str) -> bool:
        return any(v.positive for v in self.verdicts if v.signal == signal)

    def probability(self, signal: str) -> float:
        return next(v.probability for v in self.verdicts if v.signal == signal)


class SignalClassifier:
    def __init__(self, features: FeatureBuilder, model: TrainedModel, thresholds: dict[str, float] | None = None):
        if model.embedder != features.embedder.name:
            raise ValueError(f"classifier was trained with embedder {model.embedder!r} but "
                             f"{features.embedder.name!r} is configured: retrain with `intentflow train`")
        if model.rule_groups != features.rules.groups:
            raise ValueError("rules changed since the classifier was trained: retrain with `intentflow train`")
        self.features = features
        self.model = model
        self.thresholds = model.thresholds.copy()
        for k, signal in enumerate(SIGNALS):
            if thresholds and thresholds.get(signal, -1) >= 0:
                self.thresholds[k] = thresholds[signal]

    @property
    def embedder(self):
        return self.features.embedder

    def classify(self, inputs: list[ClassifyInput], embeddings: np.ndarray | None = None) -> list[Result]:
        if not inputs:
            return []
        feats = self.features.build(inputs, embeddings)
        probs = self.model.probabilities(feats)
        results = []
        for n in range(len(inputs)):
            verdicts = []
            for k, signal in enumerate(SIGNALS):
                positive = bool(probs[n, k] >= self.thresholds[k])
                evidence = [s for s in feats.hits[n].spans if s.rule.startswith(RULE_PREFIX[signal])]
                reason = self._reason(signal, k, evidence, feats.embeddings[n]) if positive else ""
                verdicts.append(Verdict(signal, float(probs[n, k]), positive, evidence, reason))
            results.append(Result(feats.langs[n], verdicts, feats.embeddings[n]))
        return results

    def _reason(self, signal: str, k: int, evidence: list[Span], embedding: np.ndarray) -> str:
        parts = []
        if evidence:
            parts.append("rules: " + ", ".join(f"{s.rule} «{s.text}»" for s in evidence[:4]))
        positives = np.flatnonzero(self.model.example_labels[:, k])
        if len(positives):
            sims = self.model.example_embeddings[positives] @ embedding
            best = positives[np.argsort(-sims)[:NEIGHBOURS]]
            similar = "; ".join(f"«{_clip(self.model.example_texts[i])}» ({sims[np.searchsorted(positives, i)]:.2f})"
                                for i in best)
            parts.append(f"similar {signal} examples: {similar}")
        return " | ".join(parts)


def _clip(text: str, limit: int = 80) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
