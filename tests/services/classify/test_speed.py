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


def test_measure_runs_the_shipped_classifier_with_its_gate_and_shows_the_e5_view() -> None:
    """As `python -m services.classify.training.speed` runs it: the shipped stream gate with its e5 view."""
    from intentflow.settings import ModelSettings, from_env
    from services.classify.classifier import load_classifier
    shipped = load_classifier(from_env(ModelSettings))
    assert shipped.gate is not None and shipped.second_encoder is not None
    row = measure(shipped, sample_inputs(24), batch=8)
    assert row["e5_posts"] > 0 and 0 < row["e5_ms_per_post"] < row["rest_ms_per_post"]


def test_chatter_sample_is_what_the_first_stage_passes() -> None:
    from intentflow.settings import ModelSettings, from_env
    from services.classify.prefilter import Prefilter
    from services.classify.training.speed import chatter_inputs
    prefilter = Prefilter.load(from_env(ModelSettings).prefilter_path)
    inputs = chatter_inputs(200, prefilter)
    assert len(inputs) == 200 and {i.lang for i in inputs} >= {"ru", "uk", "en"}
    scores = prefilter.scores([i.text for i in inputs], [i.parent_text for i in inputs])
    assert (scores >= prefilter.threshold).all()
    assert len(chatter_inputs(200, None)) == 200
