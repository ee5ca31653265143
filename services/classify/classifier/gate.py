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

Second view: the gate is asked only about the few posts the classifier flags (a few percent of real
chatter), so it can afford a stronger encoder for them, multilingual-e5-small (intentflow/e5.py, ~13x
slower than USE). Its vectors join the design at SECOND_VIEW_WEIGHT; they separate a real request from
the question-shaped chatter of a source the gate never saw better than USE and n-grams alone (held-out
figures in the README). A gate trained without it (weight 0) needs no e5 model.

Screen: e5 costs more per flagged post than the whole rest of classify, so a gate with the e5 view also
carries the same gate without it (`screen_*`). A verdict whose screen probability is below its signal's
bound is chatter without asking e5; the bound keeps SCREEN_RECALL of the positives the full gate accepts
out of fold (training/gate.py), so e5 embeds only the flagged posts the cheap view cannot rule out.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from tqdm import tqdm

from intentflow.e5 import E5_DIM
from intentflow.signals import SIGNALS
from services.classify.artifact import load_artifact, save_artifact
from services.classify.classifier.features import HASH_BITS, Features

GATE_LANGUAGES = ("ru", "uk", "en")
EMBED_WEIGHT = 1.0
RULE_WEIGHT = 0.5
SHAPE_WEIGHT = 0.5
# Character and lemma n-grams of the text; the parent's lemmas are left out (real chatter has no threads).
TEXT_SPARSE_DIM = 2 * 2 ** HASH_BITS


SECOND_VIEW_WEIGHT = 1.0
SECOND_VIEW_BATCH = 64


def gate_design(features: Features, second_view: np.ndarray | None = None,
                second_view_weight: float = 0.0) -> sp.csr_matrix:
    blocks = [EMBED_WEIGHT * features.embeddings, RULE_WEIGHT * features.rules, SHAPE_WEIGHT * features.shape]
    if second_view_weight:
        if second_view is None:
            raise ValueError("this stream gate needs the e5 second view of the posts")
        blocks.append(second_view_weight * second_view)
    dense = np.hstack(blocks).astype(np.float32)
    return sp.hstack([sp.csr_matrix(dense), features.sparse[:, :TEXT_SPARSE_DIM]], format="csr", dtype=np.float32)


def second_view(encoder, texts: list[str], rows: np.ndarray, progress: str = "") -> np.ndarray:
    """(len(texts), E5_DIM) e5 query vectors of the posts marked in `rows` (bool), zeros for the others: only
    the posts the gate will be asked about are embedded. `progress`: a label to show a progress bar under
    (training embeds thousands of posts; a stream batch a few)."""
    view = np.zeros((len(texts), E5_DIM), dtype=np.float32)
    picked = np.flatnonzero(rows)
    batches = [picked[start:start + SECOND_VIEW_BATCH] for start in range(0, len(picked), SECOND_VIEW_BATCH)]
    for batch in tqdm(batches, desc=progress, unit="batch", disable=not progress, mininterval=5):
        view[batch] = encoder.query([texts[i] for i in batch])
    return view


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
    second_view_weight: float = 0.0     # 0: a gate without the e5 view
    screen_weights: np.ndarray | None = None  # (design dim without the view, signals): the gate without e5
    screen_bias: np.ndarray | None = None
    screen_bounds: np.ndarray | None = None   # (signals,) screen probability below which a verdict is chatter

    def probabilities(self, features: Features, second_view: np.ndarray | None = None) -> np.ndarray:
        if not len(features):
            return np.zeros((0, len(SIGNALS)))
        x = gate_design(features, second_view, self.second_view_weight)
        return _logistic(x, self.weights, self.bias)

    def screen(self, features: Features) -> tuple[np.ndarray, np.ndarray] | None:
        """(probabilities, passes) of the screen, (n, signals) each; None for a gate without one. A verdict
        that does not pass is chatter whatever the e5 view would say."""
        if self.screen_weights is None or not len(features):
            return None
        probs = _logistic(gate_design(features), self.screen_weights, self.screen_bias)
        return probs, probs >= self.screen_bounds

    def threshold_matrix(self, langs: list[str]) -> np.ndarray:
        """(n, signals) thresholds for posts in `langs`."""
        return np.array([[self.thresholds[s][gate_language(lang)] for s in SIGNALS] for lang in langs])

    def with_operating_points(self, points: dict[tuple[str, str], float]) -> StreamGate:
        thresholds = {s: dict(by_lang) for s, by_lang in self.thresholds.items()}
        for (signal, lang), value in sorted(points.items(), key=lambda item: item[0][1] != "*"):
            for target in (GATE_LANGUAGES if lang == "*" else (lang,)):
                thresholds[signal][target] = value
        bounds = self.screen_bounds
        if bounds is not None:
            # The screen's bound was set for the trained points: a point lowered for more recall would be
            # capped by it, so that signal's verdicts all go to the full gate (and e5) instead.
            lowered = [SIGNALS.index(s) for s in SIGNALS
                       if any(thresholds[s][lang] < self.thresholds[s][lang] for lang in GATE_LANGUAGES)]
            bounds = bounds.copy()
            bounds[lowered] = 0.0
        return replace(self, thresholds=thresholds, screen_bounds=bounds)

    def save(self, path: str | Path) -> None:
        arrays = {"weights": self.weights.astype(np.float32), "bias": self.bias.astype(np.float64)}
        if self.screen_weights is not None:
            arrays.update(screen_weights=self.screen_weights.astype(np.float32),
                          screen_bias=self.screen_bias.astype(np.float64),
                          screen_bounds=self.screen_bounds.astype(np.float64))
        save_artifact(path, arrays, {"thresholds": self.thresholds, "report": self.report,
                                     "second_view_weight": self.second_view_weight})

    @classmethod
    def load(cls, path: str | Path) -> StreamGate:
        arrays, meta = load_artifact(path, "stream gate")
        screen = [arrays[k] if k in arrays else None for k in ("screen_weights", "screen_bias", "screen_bounds")]
        return cls(arrays["weights"], arrays["bias"], meta["thresholds"], meta.get("report", {}),
                   meta.get("second_view_weight", 0.0), *screen)


def _logistic(x, weights: np.ndarray, bias: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(x @ weights, dtype=np.float64) + bias)))
