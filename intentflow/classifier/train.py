"""`intentflow train`: fit the learned layer on the repo's corpus, deterministically.

Regularisation strength, Platt calibration and decision thresholds are all chosen on out-of-fold
predictions of the training corpus; the dev split is never read here.
"""
from __future__ import annotations

import glob
import hashlib
import logging
import time
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from intentflow.classifier.corpus import Example, load_examples
from intentflow.classifier.features import FeatureBuilder, Features
from intentflow.classifier.labels import SIGNALS
from intentflow.classifier.model import DENSE_WEIGHT, TrainedModel

log = logging.getLogger(__name__)
TRAIN_GLOB = "data/classify/train_*.jsonl"
C_GRID = (1.0, 4.0, 16.0)
FOLDS = 5
BATCH = 128


def featurise(builder: FeatureBuilder, examples: list[Example], desc: str) -> Features:
    """Features of all examples, in batches with a progress bar."""
    parts = [builder.build([e.as_input() for e in examples[start:start + BATCH]])
             for start in tqdm(range(0, len(examples), BATCH), desc=desc, unit="batch", disable=None)]
    return Features(dense=np.vstack([p.dense for p in parts]), sparse=sp.vstack([p.sparse for p in parts]).tocsr(),
                    langs=[lang for p in parts for lang in p.langs],
                    embeddings=np.vstack([p.embeddings for p in parts]), hits=[h for p in parts for h in p.hits])


def _fit(x: np.ndarray, y: np.ndarray, c: float) -> LogisticRegression:
    return LogisticRegression(C=c, max_iter=3000, solver="lbfgs").fit(x, y)


def _out_of_fold(x: np.ndarray, y: np.ndarray, c: float) -> np.ndarray:
    z = np.zeros(len(y))
    for train_idx, test_idx in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
        z[test_idx] = _fit(x[train_idx], y[train_idx], c).decision_function(x[test_idx])
    return z


def _best_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    best = (0.5, -1.0)
    for t in np.arange(0.15, 0.86, 0.01):
        pred = p >= t
        tp = float(np.sum(pred & (y == 1)))
        f1 = 2 * tp / max(1.0, float(pred.sum() + y.sum()))
        if f1 > best[1] + 1e-9:
            best = (float(round(t, 2)), f1)
    return best


def train(builder: FeatureBuilder, paths: list[str], out: str | Path) -> TrainedModel:
    started = time.time()
    examples = load_examples(paths)
    if not examples:
        raise ValueError(f"no training examples in {paths}")
    feats = featurise(builder, examples, "features")
    mean = feats.dense.mean(axis=0)
    scale = feats.dense.std(axis=0)
    scale[scale < 1e-6] = 1.0
    xs = sp.hstack([sp.csr_matrix(DENSE_WEIGHT * (feats.dense - mean) / scale), feats.sparse], format="csr")
    n_signals = len(SIGNALS)
    coef = np.zeros((n_signals, xs.shape[1]), dtype=np.float32)
    intercept = np.zeros(n_signals, dtype=np.float32)
    platt = np.zeros((n_signals, 2), dtype=np.float32)
    thresholds = np.zeros(n_signals, dtype=np.float32)
    labels = np.array([[int(s in e.labels) for s in SIGNALS] for e in examples], dtype=np.uint8)
    report: dict = {"examples": len(examples), "per_signal": {}}
    for k, signal in enumerate(tqdm(SIGNALS, desc="signals", disable=None)):
        y = labels[:, k]
        scores = {c: _out_of_fold(xs, y, c) for c in C_GRID}
        c_best = max(C_GRID, key=lambda c: average_precision_score(y, scores[c]))
        calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(scores[c_best].reshape(-1, 1), y)
        platt[k] = (calibrator.coef_[0, 0], calibrator.intercept_[0])
        p_oof = calibrator.predict_proba(scores[c_best].reshape(-1, 1))[:, 1]
        thresholds[k], f1 = _best_threshold(p_oof, y)
        head = _fit(xs, y, c_best)
        coef[k], intercept[k] = head.coef_[0], head.intercept_[0]
        report["per_signal"][signal] = {"C": c_best, "oof_f1": round(f1, 4), "threshold": float(thresholds[k]),
                                        "positives": int(y.sum())}
    report["seconds"] = round(time.time() - started, 1)
    model = TrainedModel(
        version=_corpus_version(examples), embedder=builder.embedder.name,
        rule_groups=builder.rules.groups, mean=mean.astype(np.float32), scale=scale.astype(np.float32),
        coef=coef, intercept=intercept, platt=platt, thresholds=thresholds, example_embeddings=feats.embeddings,
        example_labels=labels, example_texts=[e.text for e in examples], report=report)
    model.save(out)
    log.info("trained", extra=report)
    return model


def _corpus_version(examples: list[Example]) -> str:
    digest = hashlib.sha1()
    for e in examples:
        digest.update(f"{e.text}\x1f{sorted(e.labels)}\x1f{e.parent_text}\x1e".encode())
    return f"{len(examples)}-{digest.hexdigest()[:10]}"


def default_paths() -> list[str]:
    return sorted(glob.glob(TRAIN_GLOB))
