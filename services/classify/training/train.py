"""`intentflow train`: fit the learned layer on the repo's corpus, deterministically.

Every choice made here (ridge strength per output, Platt calibration, decision thresholds) is made on
out-of-fold predictions of the training corpus; the dev split is never read. The stage-1 folds share one
kernel matrix and one eigendecomposition per fold, so all outputs and all ridge strengths cost one
decomposition; the stage-2 trees are trained on the stage-1 out-of-fold scores (stacking).
"""
from __future__ import annotations

import argparse
import glob
import hashlib
import logging
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import average_precision_score
from sklearn.model_selection import StratifiedKFold
from tqdm import tqdm

from intentflow.settings import ModelSettings, from_env
from intentflow.signals import SIGNALS
from services.classify.classifier.features import FeatureBuilder, Features, stack_features
from services.classify.classifier.model import AGREE_GROUP, TrainedModel, Trees, linear_view, rbf, stage2_inputs
from services.classify.training.corpus import Example, load_examples

log = logging.getLogger(__name__)
TRAIN_GLOB = "data/classify/train_*.jsonl"
CACHE_DIR = "var/cache"     # e5 vectors of the gate's rows, kept between trainings (keyed by text)
LAMBDAS = (0.1, 0.3, 1.0)   # ridge strengths tried for each stage-1 output
FOLDS = 5
BATCH = 256
TREES = {"max_iter": 200, "learning_rate": 0.05, "max_leaf_nodes": 8, "min_samples_leaf": 20,
         "l2_regularization": 0.0, "early_stopping": False, "random_state": 0}
THRESHOLDS = np.round(np.arange(0.05, 0.951, 0.01), 2)


class _RunCache:
    """Embeds every distinct text of the corpus once (posts and parents) and serves later lookups."""

    def __init__(self, embedder):
        self.inner, self.name, self.dim = embedder, embedder.name, embedder.dim
        self.vectors: dict[str, np.ndarray] = {}

    def fill(self, texts: Sequence[str], batch: int = BATCH) -> None:
        missing = [t for t in dict.fromkeys(texts) if t not in self.vectors]
        for start in tqdm(range(0, len(missing), batch), desc="encode", unit="batch", disable=False, mininterval=5):
            part = missing[start:start + batch]
            self.vectors.update(zip(part, self.inner.encode(part)))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        self.fill(texts)
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.array([self.vectors[t] for t in texts], dtype=np.float32)


def featurise(builder: FeatureBuilder, examples: list[Example], desc: str = "features") -> Features:
    """Features of all examples; each distinct text (post or parent) goes through the encoder once."""
    cache = _RunCache(builder.embedder)
    cache.fill([e.text for e in examples] + [e.parent_text for e in examples if e.parent_text.strip()])
    cached = FeatureBuilder(cache, builder.rules)
    parts = [cached.build([e.as_input() for e in examples[start:start + BATCH]])
             for start in tqdm(range(0, len(examples), BATCH), desc=desc, unit="batch", disable=False, mininterval=5)]
    return stack_features(parts)


def _gram(a: sp.csr_matrix, b: sp.csr_matrix) -> np.ndarray:
    return np.asarray((a @ b.T).toarray(), dtype=np.float64)


def _ridge(eigen: tuple[np.ndarray, np.ndarray], targets: np.ndarray, lam: float) -> np.ndarray:
    w, u = eigen
    return u @ ((u.T @ targets) / (w + lam)[:, None])


def _best_threshold(p: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    best = (0.5, -1.0)
    for t in THRESHOLDS:
        pred = p >= t
        f1 = 2 * float(np.sum(pred & (y == 1))) / max(1.0, float(pred.sum() + y.sum()))
        if f1 > best[1] + 1e-9:
            best = (float(t), f1)
    return best


def _f1(pred: np.ndarray, y: np.ndarray) -> float:
    return 2 * float(np.sum(pred & (y == 1))) / max(1.0, float(pred.sum() + y.sum()))


def _folds(strata: list[str], n: int, seed: int) -> list[tuple[np.ndarray, np.ndarray]]:
    counts = {s: strata.count(s) for s in set(strata)}
    strata = [s if counts[s] >= FOLDS else "rare" for s in strata]
    return list(StratifiedKFold(FOLDS, shuffle=True, random_state=seed).split(np.zeros(n), strata))


def train(builder: FeatureBuilder, paths: list[str], out: str | Path) -> TrainedModel:
    started = time.time()
    examples = load_examples(paths)
    if not examples:
        raise ValueError(f"no training examples in {paths}")
    feats = featurise(builder, examples)
    n = len(examples)
    labels = np.array([[int(s in e.labels) for s in SIGNALS] for e in examples], dtype=np.uint8)
    kinds = sorted({e.kind for e in examples if e.kind} - set(SIGNALS))
    target_names = list(SIGNALS) + [f"kind:{k}" for k in kinds]
    targets = np.hstack([labels, np.array([[float(e.kind == k) for k in kinds] for e in examples]).reshape(n, -1)])
    strata = [e.kind or "+".join(sorted(e.labels)) or "none" for e in examples]

    # Stage 1: kernel ridge, all outputs at once.
    view = linear_view(feats)
    gram = rbf(feats.embeddings, feats.embeddings).astype(np.float64) + _gram(view, view)
    parent_rows = feats.parent_rows
    if feats.parent is not None:
        parent_gram = rbf(feats.parent.embeddings, feats.embeddings) + _gram(linear_view(feats.parent), view)
    oof = {lam: np.zeros(targets.shape) for lam in LAMBDAS}
    oof_parent = {lam: np.zeros(targets.shape) for lam in LAMBDAS}
    for train_idx, test_idx in tqdm(_folds(strata, n, 0), desc="stage 1", disable=False, mininterval=5):
        eigen = np.linalg.eigh(gram[np.ix_(train_idx, train_idx)])
        mean = targets[train_idx].mean(axis=0)
        in_test = np.isin(parent_rows, test_idx)
        for lam in LAMBDAS:
            alpha = _ridge(eigen, targets[train_idx] - mean, lam)
            oof[lam][test_idx] = gram[np.ix_(test_idx, train_idx)] @ alpha + mean
            if in_test.any():
                rows = np.ix_(np.flatnonzero(in_test), train_idx)
                oof_parent[lam][parent_rows[in_test]] = parent_gram[rows] @ alpha + mean
    chosen = []
    for t in range(targets.shape[1]):
        y = targets[:, t]
        chosen.append(max(LAMBDAS, key=lambda lam: (average_precision_score(y, oof[lam][:, t]) if y.any() else 0.0,
                                                    lam)))
    z_oof = np.column_stack([oof[lam][:, t] for t, lam in enumerate(chosen)])
    z_parent_oof = np.column_stack([oof_parent[lam][:, t] for t, lam in enumerate(chosen)])
    eigen = np.linalg.eigh(gram)
    offset = targets.mean(axis=0)
    alpha = np.column_stack([_ridge(eigen, targets[:, [t]] - offset[t], lam) for t, lam in enumerate(chosen)])
    used = np.unique(view.indices)
    primal = np.asarray(view[:, used].T @ alpha, dtype=np.float32)
    weights = sp.csr_matrix((primal.ravel(), (np.repeat(used, alpha.shape[1]),
                                              np.tile(np.arange(alpha.shape[1]), len(used)))),
                            shape=(view.shape[1], alpha.shape[1]), dtype=np.float32)

    # Stage 2: trees per signal on out-of-fold stage-1 scores; Platt and thresholds on their own out-of-fold.
    agree_index = builder.rules.groups.index(AGREE_GROUP)
    x2 = stage2_inputs(z_oof, feats, z_parent_oof, agree_index)
    raw_oof = np.zeros((n, len(SIGNALS)))
    models = []
    for k in tqdm(range(len(SIGNALS)), desc="stage 2", disable=False, mininterval=5):
        y = labels[:, k]
        for train_idx, test_idx in _folds([str(v) + s for v, s in zip(y, strata)], n, 1):
            tree = HistGradientBoostingClassifier(**TREES).fit(x2[train_idx], y[train_idx])
            raw_oof[test_idx, k] = tree.decision_function(x2[test_idx])
        models.append(HistGradientBoostingClassifier(**TREES).fit(x2, y))
    trees = Trees.from_sklearn(models)
    check = np.column_stack([m.decision_function(x2[:64]) for m in models])
    if not np.allclose(trees.decision(x2[:64]), check, atol=1e-6):
        raise RuntimeError("exported trees disagree with scikit-learn's predictions")
    platt = np.zeros((len(SIGNALS), 2))
    thresholds = np.zeros(len(SIGNALS))
    langs = np.array(feats.langs)
    report: dict = {"examples": n, "targets": target_names, "per_signal": {}, "oof_per_lang": {}}
    p_oof = np.zeros((n, len(SIGNALS)))
    for k, signal in enumerate(SIGNALS):
        y = labels[:, k]
        calibrator = LogisticRegression(C=1e4, max_iter=1000).fit(raw_oof[:, [k]], y)
        platt[k] = (calibrator.coef_[0, 0], calibrator.intercept_[0])
        p_oof[:, k] = calibrator.predict_proba(raw_oof[:, [k]])[:, 1]
        thresholds[k], f1 = _best_threshold(p_oof[:, k], y)
        pred = p_oof[:, k] >= thresholds[k]
        report["per_signal"][signal] = {
            "C": round(1.0 / chosen[k], 3), "lambda": chosen[k], "oof_f1": round(f1, 4),
            "oof_ap": round(float(average_precision_score(y, p_oof[:, k])), 4),
            "threshold": float(thresholds[k]), "positives": int(y.sum())}
        for lang in sorted(set(feats.langs)):
            mask = langs == lang
            report["oof_per_lang"].setdefault(lang, {})[signal] = round(_f1(pred[mask], y[mask]), 4)
    report["oof_macro_f1"] = round(float(np.mean([r["oof_f1"] for r in report["per_signal"].values()])), 4)
    report["lambdas"] = dict(zip(target_names, chosen))
    report["seconds"] = round(time.time() - started, 1)
    model = TrainedModel(
        version=_corpus_version(examples), embedder=builder.embedder.name,
        rule_features=builder.rules.feature_names(), rules_version=builder.rules.version, targets=target_names,
        train_embeddings=feats.embeddings.astype(np.float32), alpha=alpha.astype(np.float32),
        linear_weights=weights, offset=offset, trees=trees, platt=platt, thresholds=thresholds,
        example_labels=labels, example_texts=[e.text for e in examples], report=report)
    model.oof_probabilities = p_oof  # type: ignore[attr-defined]  # for callers that want OOF diagnostics
    model.save(out)
    log.info("trained", extra={k: v for k, v in report.items() if k != "targets"})
    return model


def _corpus_version(examples: list[Example]) -> str:
    digest = hashlib.sha1()
    for e in examples:
        digest.update(f"{e.text}\x1f{sorted(e.labels)}\x1f{e.parent_text}\x1f{e.kind}\x1e".encode())
    return f"{len(examples)}-{digest.hexdigest()[:10]}"


def default_paths() -> list[str]:
    return sorted(glob.glob(TRAIN_GLOB))


def train_all(paths: Sequence[str] | None = None, out: str | None = None,
              feedback: Sequence[str] = ()) -> TrainedModel:
    """Train the classifier, its stream gate and the first stage on `paths` (default: the shipped corpus)
    plus the real public posts in data/real/ (gate only) and acked outcomes in `feedback`; save all three."""
    from intentflow.e5 import CachedEncoder, load_e5
    from services.classify.classifier import build_features
    from services.classify.classifier.model import SignalClassifier
    from services.classify.training.gate import gate_rows, real_paths, train_gate
    from services.classify.training.prefilter import train_prefilter
    settings = from_env(ModelSettings)
    paths = list(paths or default_paths())
    out = out or settings.classifier_path
    builder = build_features(settings)
    builder = FeatureBuilder(_RunCache(builder.embedder), builder.rules)  # one encoding per text for all stages
    print(f"training on {len(paths)} files with {settings.embedder} → {out}", file=sys.stderr)
    model = train(builder, paths, out)
    for signal, row in model.report["per_signal"].items():
        print(f"{signal} C={row['C']} threshold={row['threshold']:.2f} oof_f1={row['oof_f1']:.3f} "
              f"positives={row['positives']}")
    print(f"examples={model.report['examples']} seconds={model.report['seconds']}")
    rows = gate_rows(paths, real_paths(), feedback)
    base = SignalClassifier(builder, model)
    os.makedirs(CACHE_DIR, exist_ok=True)
    second_encoder = CachedEncoder(load_e5(settings.encoder_threads), os.path.join(CACHE_DIR, "gate_e5.npz"))
    gate = train_gate(builder, rows, lambda feats: base.decide(feats, base.scores(feats)[0]).positive,
                      second_encoder=second_encoder)
    second_encoder.save()
    gate.save(settings.gate_path)
    for name, point in gate.report["operating_points"].items():
        print(f"gate {name} threshold={gate.thresholds[name.split('.')[0]][name.split('.')[1]]:.3f} "
              f"oof_recall={point['recall']} oof_real_flag_rate={point['flag_rate']}")
    if "screen" in gate.report:
        screen = gate.report["screen"]
        print(f"gate screen bounds={screen['bounds']} oof_recall_kept={screen['recall_kept']} "
              f"e5_asked_share={screen['e5_asked_share']} (of {screen['background_posts_flagged']} flagged real posts)")
    print(f"gate rows={gate.report['rows']} real={gate.report['real_rows']} → {settings.gate_path}")
    prefilter = train_prefilter(rows)
    prefilter.save(settings.prefilter_path)
    print(f"prefilter threshold={prefilter.threshold:.3f} oof_recall={prefilter.oof_recall:.3f} "
          f"oof_pass_rate={prefilter.oof_pass_rate:.3f} → {settings.prefilter_path}")
    return model


def main() -> None:
    parser = argparse.ArgumentParser(description="Train the classifier, its stream gate and its first stage.")
    parser.add_argument("--data", action="append", help="training JSONL (repeatable; default the shipped corpus)")
    parser.add_argument("--out", help="model path (default INTENTFLOW_CLASSIFIER)")
    parser.add_argument("--with-feedback", action="append", default=[], metavar="JSONL",
                        help="labelled outcomes exported from the store (`intentflow feedback export`)")
    args = parser.parse_args()
    train_all(args.data, args.out, args.with_feedback)
