"""Calibration: the reliability / ECE computation and monotone, calibrated probabilities."""
from __future__ import annotations

import numpy as np

from services.classify.training.evaluate import RELIABILITY_BINS, reliability


def test_ece_near_zero_for_calibrated_synthetic_scores() -> None:
    rng = np.random.default_rng(0)
    p = rng.uniform(0, 1, 200_000)
    gold = (rng.uniform(0, 1, p.size) < p).astype(float)
    rows, ece = reliability(p, gold)
    assert ece < 0.01
    assert len(rows) == RELIABILITY_BINS
    for predicted, observed, count in rows:
        assert abs(predicted - observed) < 0.02 and count > 0


def test_ece_large_for_overconfident_scores() -> None:
    rng = np.random.default_rng(1)
    truth = rng.uniform(0.3, 0.7, 50_000)
    gold = (rng.uniform(0, 1, truth.size) < truth).astype(float)
    overconfident = np.where(truth > 0.5, 0.99, 0.01)
    _, ece = reliability(overconfident, gold)
    assert ece > 0.3


def test_ece_by_hand() -> None:
    p = np.array([0.05, 0.05, 0.95, 0.95])
    gold = np.array([0.0, 1.0, 1.0, 1.0])
    rows, ece = reliability(p, gold)
    assert rows == [(0.05, 0.5, 2), (0.95, 1.0, 2)]
    assert np.isclose(ece, 0.5 * 0.45 + 0.5 * 0.05)


def test_probabilities_are_monotone_in_the_decision_score(classifier) -> None:
    model = classifier.model
    assert (model.platt[:, 0] > 0).all()
    raw = np.linspace(-12, 12, 401)[:, None].repeat(model.platt.shape[0], axis=1)
    p = model.calibrated(raw)
    assert (np.diff(p, axis=0) >= 0).all()
    assert (p[0] < 0.05).all() and (p[-1] > 0.95).all()


def test_thresholds_are_probabilities_chosen_in_training(classifier) -> None:
    t = classifier.model.thresholds
    assert ((t > 0.04) & (t < 0.96)).all()
    report = classifier.model.report
    assert report["per_signal"] and all(0 < row["oof_f1"] <= 1 for row in report["per_signal"].values())
