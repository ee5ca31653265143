"""The speed script measures encoder and non-encoder time per post."""
from __future__ import annotations

import pytest

from services.classify.training.speed import measure, sample_inputs


def test_measure_reports_both_costs(classifier) -> None:
    inputs = sample_inputs(48)
    assert {i.lang for i in inputs} == {"ru", "uk", "en"}
    row = measure(classifier, inputs, batch=16)
    assert row["posts"] == 48
    assert row["encoder_ms_per_post"] > 0 and row["rest_ms_per_post"] > 0
    assert row["ratio"] == pytest.approx(row["rest_ms_per_post"] / row["encoder_ms_per_post"])
