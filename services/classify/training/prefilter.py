"""Fitting the first stage (services/classify/prefilter.py) on the training corpus."""
from __future__ import annotations

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold

from services.classify.prefilter import Prefilter, design
from services.classify.training.corpus import Example

RECALL_TARGET = 0.995
C = 4.0
FOLDS = 3


def train_prefilter(examples: list[Example]) -> Prefilter:
    texts = [e.text for e in examples]
    parents = [e.parent_text for e in examples]
    y = np.array([int(bool(e.labels)) for e in examples])
    x = design(texts, parents)
    oof = np.zeros(len(y))
    for train_idx, test_idx in StratifiedKFold(FOLDS, shuffle=True, random_state=0).split(x, y):
        model = LogisticRegression(C=C, max_iter=2000, solver="liblinear").fit(x[train_idx], y[train_idx])
        oof[test_idx] = model.predict_proba(x[test_idx])[:, 1]
    # The highest threshold that still passes RECALL_TARGET of the out-of-fold positives.
    positives = np.sort(oof[y == 1])
    threshold = float(positives[int(np.floor((1 - RECALL_TARGET) * len(positives)))])
    model = LogisticRegression(C=C, max_iter=2000, solver="liblinear").fit(x, y)
    return Prefilter(coef=model.coef_[0].astype(np.float32), intercept=float(model.intercept_[0]),
                     threshold=threshold, oof_recall=float(np.mean(oof[y == 1] >= threshold)),
                     oof_pass_rate=float(np.mean(oof >= threshold)))
