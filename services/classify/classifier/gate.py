"""The stream gate: a second opinion, trained on real public chatter, that a post the classifier flags is a
signal and not the everyday talk that merely sounds like one.

The classifier (model.py) learned from labelled posts written for this project; on real streams it fires
on rhetorical questions, news, spam, jokes and support questions (1-3 % of real chatter). The gate is a
logistic model per signal over the same features (text embedding, rule features, shape cues, hashed
character and lemma n-grams), trained with thousands of real posts from public sources as background
negatives (data/real/, see data/README.md). A post is a signal only when both agree: the classifier's
verdict and the gate's probability at the operating point of the signal and the post's language. The
operating points are chosen at training for a stream where signals are rare (services/classify/training/
gate.py) and can be overridden per deployment (`CLASSIFY_OPERATING_POINTS`).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from intentflow.signals import SIGNALS
from services.classify.artifact import load_artifact, save_artifact
from services.classify.classifier.features import HASH_BITS, Features

GATE_LANGUAGES = ("ru", "uk", "en")
EMBED_WEIGHT = 1.0
RULE_WEIGHT = 0.5
SHAPE_WEIGHT = 0.5
# Character and lemma n-grams of the text; the parent's lemmas are left out (real chatter has no threads).
TEXT_SPARSE_DIM = 2 * 2 ** HASH_BITS


def gate_design(features: Features) -> sp.csr_matrix:
    dense = np.hstack([EMBED_WEIGHT * features.embeddings, RULE_WEIGHT * features.rules,
                       SHAPE_WEIGHT * features.shape]).astype(np.float32)
    return sp.hstack([sp.csr_matrix(dense), features.sparse[:, :TEXT_SPARSE_DIM]], format="csr", dtype=np.float32)


def gate_language(lang: str) -> str:
    return lang if lang in GATE_LANGUAGES else "en"


def parse_operating_points(spec: str) -> dict[tuple[str, str], float]:
    """"purchase_intent=0.6,job_seeking.uk=0.4" → {(signal, lang or "*"): threshold}."""
    points: dict[tuple[str, str], float] = {}
    for item in filter(None, (part.strip() for part in spec.split(","))):
        name, _, value = item.partition("=")
        signal, _, lang = name.strip().partition(".")
        if signal not in SIGNALS or (lang and lang not in GATE_LANGUAGES) or not value:
            raise ValueError(f"operating point {item!r}: expected <signal>[.<ru|uk|en>]=<threshold>, "
                             f"signals {', '.join(SIGNALS)}")
        threshold = float(value)
        if not 0.0 <= threshold <= 1.0:
            raise ValueError(f"operating point {item!r}: threshold must be in [0, 1]")
        points[(signal, lang or "*")] = threshold
    return points


@dataclass
class StreamGate:
    weights: np.ndarray                 # (design dim, signals) float32
    bias: np.ndarray                    # (signals,)
    thresholds: dict[str, dict[str, float]]  # signal -> language -> threshold on the gate probability
    report: dict = field(default_factory=dict)

    def probabilities(self, features: Features) -> np.ndarray:
        if not len(features):
            return np.zeros((0, len(SIGNALS)))
        z = np.asarray(gate_design(features) @ self.weights, dtype=np.float64) + self.bias
        return 1.0 / (1.0 + np.exp(-z))

    def threshold_matrix(self, langs: list[str]) -> np.ndarray:
        """(n, signals) thresholds for posts in `langs`."""
        return np.array([[self.thresholds[s][gate_language(lang)] for s in SIGNALS] for lang in langs])

    def with_operating_points(self, points: dict[tuple[str, str], float]) -> StreamGate:
        thresholds = {s: dict(by_lang) for s, by_lang in self.thresholds.items()}
        for (signal, lang), value in sorted(points.items(), key=lambda item: item[0][1] != "*"):
            for target in (GATE_LANGUAGES if lang == "*" else (lang,)):
                thresholds[signal][target] = value
        return StreamGate(self.weights, self.bias, thresholds, self.report)

    def save(self, path: str | Path) -> None:
        save_artifact(path, {"weights": self.weights.astype(np.float32), "bias": self.bias.astype(np.float64)},
                      {"thresholds": self.thresholds, "report": self.report})

    @classmethod
    def load(cls, path: str | Path) -> StreamGate:
        arrays, meta = load_artifact(path, "stream gate")
        return cls(arrays["weights"], arrays["bias"], meta["thresholds"], meta.get("report", {}))
