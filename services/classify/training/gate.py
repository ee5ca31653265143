"""Fitting the stream gate (services/classify/classifier/gate.py) and choosing its operating points.

Training rows: the labelled corpus written for this project (positives and look-alikes) and real public
posts from data/real/ (background chatter from several public sources, and hand-labelled real positives
and look-alikes). Every real row counts as a negative unless a person labelled it otherwise; rows a
person checked (`label_method: hand`, or a hand-reviewed false alarm of an earlier model) weigh more,
because they are the hard cases. Acked outcomes exported from the store (`--with-feedback`) weigh most.

Operating points: out-of-fold gate probabilities, with folds grouped by source (a whole public source or
a whole corpus file is held out together), decide per signal and language the threshold with the most
recall whose precision, expected on a stream where PREVALENCE of posts are signals, reaches MIN_PRECISION:
recall on the positives, and the share of held-out real chatter that the classifier AND the gate would
flag. The dev split is never read here.

Screen (a gate with the e5 view only): the same gate without the view is fitted alongside, and per signal
its bound is the highest that keeps SCREEN_RECALL of the positives the full gate accepts out of fold at its
operating points, so e5 need not embed the flagged posts the cheap view already rules out.
"""
from __future__ import annotations

import glob
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import SGDClassifier
from sklearn.model_selection import GroupKFold
from tqdm import tqdm

from intentflow.signals import SIGNALS
from intentflow.text.language import detect_language
from services.classify.classifier.features import FeatureBuilder, Features
from services.classify.classifier.gate import (
    GATE_LANGUAGES,
    SECOND_VIEW_WEIGHT,
    StreamGate,
    gate_design,
    gate_language,
    second_view,
)
from services.classify.training.corpus import Example, holdout_group, load_examples

REAL_GLOBS = ("data/real/chatter/*.jsonl", "data/real/signals/*.jsonl", "data/real/reviewed/*.jsonl")
PREVALENCE = 1 / 200
# Out-of-fold precision to reach. The queue should hold 0.8 (issue #13's P@50 target); out-of-fold flag rates,
# measured on sources the other folds share a corpus style with, run lower than on a new source, so the bar
# leaves room: at 0.8 the held-out queues reached it in 3 of 9 language cells, at 0.95 in 6 (README).
MIN_PRECISION = 0.95
ALPHA = 1e-4
EPOCHS = 15
FOLDS = 5
MIN_POSITIVES_PER_LANGUAGE = 15
WEIGHT = {"written": 1.0, "real": 1.0, "hand": 3.0, "feedback": 10.0}
THRESHOLDS = np.round(np.arange(0.30, 0.996, 0.005), 3)
SCREEN_RECALL = 0.99


@dataclass
class GateRows:
    examples: list[Example]
    sources: list[str]     # holdout_group: a corpus file or a public dataset, the unit held out together
    weights: np.ndarray
    real: np.ndarray       # bool: a real public post (what the flag rate is measured on)

    def __len__(self) -> int:
        return len(self.examples)


def real_paths() -> list[str]:
    return sorted(p for pattern in REAL_GLOBS for p in glob.glob(pattern))


def gate_rows(written: Sequence[str], real: Sequence[str], feedback: Sequence[str] = ()) -> GateRows:
    examples, sources, weights, is_real = [], [], [], []
    for kind, paths in (("written", written), ("real", real), ("feedback", feedback)):
        for path in paths:
            for e in load_examples([path]):
                examples.append(e)
                sources.append(holdout_group(e, path))
                hand = kind == "real" and e.extra.get("label_method") == "hand"
                weights.append(WEIGHT["hand"] if hand else WEIGHT[kind])
                is_real.append(kind == "real")
    return GateRows(examples, sources, np.array(weights), np.array(is_real))


def _fit(x, y: np.ndarray, weights: np.ndarray) -> SGDClassifier:
    # Balanced by weight: positives are a few percent of the rows. Averaged SGD matched liblinear's
    # out-of-fold flag rates on the real chatter at 6x less time (1.6 s against 10 s a fit).
    w = weights * np.where(y == 1, len(y) / max(2 * y.sum(), 1), len(y) / max(2 * (len(y) - y.sum()), 1))
    model = SGDClassifier(loss="log_loss", alpha=ALPHA, max_iter=EPOCHS, tol=None, average=True, random_state=0)
    return model.fit(x, y, sample_weight=w)


def out_of_fold(x, labels: np.ndarray, rows: GateRows, consulted: np.ndarray) -> np.ndarray:
    """Out-of-fold probabilities of every row, each fold's gate fitted on the consulted rows of the others."""
    oof = np.zeros(labels.shape)
    folds = GroupKFold(n_splits=min(FOLDS, len(set(rows.sources))))
    for train_idx, test_idx in tqdm(list(folds.split(x, groups=rows.sources)), desc="gate folds", disable=False,
                                    mininterval=5):
        train_idx = train_idx[consulted[train_idx]]
        for k in range(len(SIGNALS)):
            y = labels[train_idx, k]
            if 0 < y.sum() < len(y):
                oof[test_idx, k] = _fit(x[train_idx], y, rows.weights[train_idx]).predict_proba(x[test_idx])[:, 1]
    return oof


def operating_point(gate: np.ndarray, positive: np.ndarray, background: np.ndarray,
                    base_positive: np.ndarray) -> tuple[float, dict]:
    """The threshold with the most recall whose precision expected at PREVALENCE is at least MIN_PRECISION
    (the best F1 there when none reaches it); recall over `positive` rows, flag rate over `background`
    rows, each counting only posts the classifier itself flags. Precision first, because a queue a rep
    finds mostly noise is a queue nobody opens: more items that are wrong cost more than fewer right ones."""
    candidates = []
    for t in THRESHOLDS:
        flagged = base_positive & (gate >= t)
        recall = float(flagged[positive].mean()) if positive.any() else 0.0
        flag_rate = float(flagged[background].mean()) if background.any() else 0.0
        hits = recall * PREVALENCE
        precision = hits / (hits + flag_rate * (1 - PREVALENCE)) if hits else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        candidates.append((float(t), recall, flag_rate, precision, f1))
    precise = [c for c in candidates if c[3] >= MIN_PRECISION]
    t, recall, flag_rate, precision, _ = (max(precise, key=lambda c: (c[1], -c[0])) if precise
                                          else max(candidates, key=lambda c: (c[4], -c[0])))
    return t, {"recall": round(recall, 3), "flag_rate": round(flag_rate, 4),
               "expected_precision": round(precision, 3), "precision_met": bool(precise)}


def train_gate(builder: FeatureBuilder, rows: GateRows, base_positive_of, feats: Features | None = None,
               second_encoder=None) -> StreamGate:
    """`base_positive_of(features)` gives the classifier's own (n, signals) verdicts on the rows; with
    `second_encoder` (e5, intentflow/e5.py) the gate gets the second view of the posts it is asked about."""
    from services.classify.training.train import featurise
    feats = feats or featurise(builder, rows.examples, desc="gate features")
    labels = np.array([[int(s in e.labels) for s in SIGNALS] for e in rows.examples])
    langs = np.array([gate_language(e.lang or detect_language(e.text)) for e in rows.examples])
    base = base_positive_of(feats)
    # The gate is only ever asked about posts the classifier flags, so it learns from those and from the
    # labelled posts; the rest of the chatter would teach it only what the classifier already rules out.
    # The flag rate of its operating points still counts every background row.
    consulted = base.any(axis=1) | labels.any(axis=1)
    weight = SECOND_VIEW_WEIGHT if second_encoder is not None else 0.0
    view = second_view(second_encoder, feats.texts, consulted, progress="gate e5 view") if weight else None
    x = gate_design(feats, view, weight)
    oof = out_of_fold(x, labels, rows, consulted)
    thresholds: dict[str, dict[str, float]] = {s: {} for s in SIGNALS}
    report: dict = {"rows": len(rows), "real_rows": int(rows.real.sum()), "consulted_rows": int(consulted.sum()),
                    "operating_points": {}}
    for k, signal in enumerate(SIGNALS):
        for lang in GATE_LANGUAGES:
            in_lang = langs == lang
            positive = (labels[:, k] == 1) & in_lang
            if positive.sum() < MIN_POSITIVES_PER_LANGUAGE:
                positive = labels[:, k] == 1
            background = rows.real & (labels.sum(axis=1) == 0) & in_lang
            if not background.any():
                background = rows.real & (labels.sum(axis=1) == 0)
            thresholds[signal][lang], report["operating_points"][f"{signal}.{lang}"] = operating_point(
                oof[:, k], positive, background, base[:, k])
    weights, bias = _fit_all(x, labels, rows, consulted)
    gate = StreamGate(weights, bias, thresholds, report, weight)
    if not weight:
        return gate
    cheap = gate_design(feats)
    accepted = base & (oof >= gate.threshold_matrix(list(langs))) & (labels == 1)
    bounds, report["screen"] = screen_bounds(out_of_fold(cheap, labels, rows, consulted), accepted, base,
                                             rows.real & (labels.sum(axis=1) == 0))
    gate.screen_weights, gate.screen_bias = _fit_all(cheap, labels, rows, consulted)
    gate.screen_bounds = bounds
    return gate


def _fit_all(x, labels: np.ndarray, rows: GateRows, consulted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(design dim, signals) weights and (signals,) biases of a gate fitted on the consulted rows."""
    weights = np.zeros((x.shape[1], len(SIGNALS)), dtype=np.float32)
    bias = np.zeros(len(SIGNALS))
    for k in range(len(SIGNALS)):
        model = _fit(x[consulted], labels[consulted, k], rows.weights[consulted])
        weights[:, k], bias[k] = model.coef_[0], model.intercept_[0]
    return weights, bias


def screen_bounds(oof_screen: np.ndarray, accepted: np.ndarray, base: np.ndarray,
                  background: np.ndarray) -> tuple[np.ndarray, dict]:
    """Per signal, the highest screen bound that keeps SCREEN_RECALL of the `accepted` rows (positives the
    full gate lets through out of fold), and what it spares: the share of the classifier's flags on the
    real background that the screen rules out, so e5 is not asked about them."""
    bounds = np.zeros(len(SIGNALS))
    report: dict = {"recall_kept": {}, "flags_ruled_out": {}}
    for k, signal in enumerate(SIGNALS):
        kept = np.sort(oof_screen[accepted[:, k], k])
        if len(kept):
            bounds[k] = kept[int(np.floor((1 - SCREEN_RECALL) * len(kept)))]
        report["recall_kept"][signal] = round(float(np.mean(kept >= bounds[k])) if len(kept) else 1.0, 4)
        flags = base[:, k] & background
        report["flags_ruled_out"][signal] = round(float(np.mean(oof_screen[flags, k] < bounds[k])), 4) \
            if flags.any() else 0.0
    flagged = base.any(axis=1) & background
    asked = (base & (oof_screen >= bounds)).any(axis=1) & background
    report["background_posts_flagged"] = int(flagged.sum())
    report["e5_asked_share"] = round(float(asked.sum() / max(flagged.sum(), 1)), 4)
    report["bounds"] = {s: round(float(b), 4) for s, b in zip(SIGNALS, bounds)}
    return bounds, report
