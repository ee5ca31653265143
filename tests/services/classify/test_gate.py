"""The stream gate: operating points, persistence, and that it only ever removes verdicts."""
from __future__ import annotations

import numpy as np
import pytest

from intentflow.signals import SIGNALS
from services.classify.classifier.gate import StreamGate, gate_design, parse_operating_points
from services.classify.classifier.model import SignalClassifier
from services.classify.training.gate import SCREEN_RECALL, operating_point, screen_bounds


def test_operating_points_parse_per_signal_and_language():
    points = parse_operating_points(" purchase_intent=0.7, job_seeking.uk=0.45 ")
    assert points == {("purchase_intent", "*"): 0.7, ("job_seeking", "uk"): 0.45}
    assert parse_operating_points("") == {}


@pytest.mark.parametrize("bad", ["purchase=0.5", "job_seeking.de=0.5", "employer_complaint=", "job_seeking=1.5"])
def test_bad_operating_points_are_refused_with_the_expected_form(bad):
    with pytest.raises(ValueError, match="operating point"):
        parse_operating_points(bad)


def _gate(dim: int = 4) -> StreamGate:
    thresholds = {s: {"ru": 0.5, "uk": 0.6, "en": 0.7} for s in SIGNALS}
    return StreamGate(np.zeros((dim, len(SIGNALS)), np.float32), np.zeros(len(SIGNALS)), thresholds)


def test_a_language_point_wins_over_a_signal_wide_one():
    gate = _gate().with_operating_points(parse_operating_points("job_seeking.uk=0.3,job_seeking=0.9"))
    assert gate.thresholds["job_seeking"] == {"ru": 0.9, "uk": 0.3, "en": 0.9}
    assert gate.thresholds["purchase_intent"] == {"ru": 0.5, "uk": 0.6, "en": 0.7}
    assert gate.threshold_matrix(["uk", "de"])[:, SIGNALS.index("job_seeking")].tolist() == [0.3, 0.9]


def test_gate_survives_a_save_and_load(tmp_path):
    gate = _gate()
    gate.weights[1, 2] = 0.25
    gate.save(tmp_path / "gate.npz")
    loaded = StreamGate.load(tmp_path / "gate.npz")
    assert loaded.thresholds == gate.thresholds
    assert np.array_equal(loaded.weights, gate.weights)


def test_missing_gate_says_how_to_build_it(tmp_path):
    with pytest.raises(FileNotFoundError, match="make model"):
        StreamGate.load(tmp_path / "absent.npz")


def test_operating_point_trades_recall_for_a_low_flag_rate_on_background():
    rng = np.random.default_rng(0)
    gate = np.concatenate([rng.uniform(0.6, 1.0, 100), rng.uniform(0.0, 0.9, 10_000)])
    positive = np.arange(len(gate)) < 100
    threshold, point = operating_point(gate, positive, ~positive, np.ones(len(gate), bool))
    assert threshold > 0.85  # background reaches 0.9: a low threshold would flood the queue
    assert point["flag_rate"] < 0.005 and point["recall"] > 0.2


def test_gate_only_removes_verdicts(classifier, features):
    texts = ["Подскажите хороший ноутбук для учёбы до 50к", "Шукаю роботу бухгалтером, досвід 5 років",
             "My boss hasn't paid us for two months", "Сегодня отличная погода"]
    from services.classify.classifier.features import ClassifyInput
    feats = features.build([ClassifyInput(t) for t in texts])
    probs = classifier.scores(feats)[0]
    alone = classifier.decide(feats, probs).positive
    strict = _gate(gate_design(feats).shape[1])
    strict.bias[:] = 10.0  # the gate says yes to everything...
    with_gate = SignalClassifier(features, classifier.model, None, strict)
    assert np.array_equal(with_gate.decide(feats, probs).positive, alone)
    strict.bias[:] = -10.0  # ...or no to everything
    assert not with_gate.decide(feats, probs).positive.any()


def test_a_verdict_the_gate_overrules_says_so(classifier, features):
    from services.classify.classifier.features import ClassifyInput
    inputs = [ClassifyInput("Подскажите хороший ноутбук для учёбы до 50к, что купить?")]
    assert classifier.classify(inputs)[0].positive("purchase_intent")
    dim = gate_design(features.build(inputs)).shape[1]
    sceptic = _gate(dim)
    sceptic.bias[:] = -10.0
    verdict = SignalClassifier(features, classifier.model, None, sceptic).classify(inputs)[0].verdicts[0]
    assert not verdict.positive and "stream gate says chatter" in verdict.reason


def _expected_precision(gate, positive, t, prevalence=1 / 200):
    recall, flag_rate = (gate[positive] >= t).mean(), (gate[~positive] >= t).mean()
    return recall * prevalence / (recall * prevalence + flag_rate * (1 - prevalence)) if recall else 0.0


def test_operating_point_takes_the_most_recall_that_keeps_the_queue_precise():
    rng = np.random.default_rng(1)
    gate = np.concatenate([rng.uniform(0.5, 1.0, 200), rng.uniform(0.0, 0.75, 40_000)])
    positive = np.arange(len(gate)) < 200
    threshold, point = operating_point(gate, positive, ~positive, np.ones(len(gate), bool))
    assert point["precision_met"] and point["expected_precision"] >= 0.8
    assert _expected_precision(gate, positive, threshold) >= 0.8
    assert _expected_precision(gate, positive, threshold - 0.005) < 0.8, "a lower threshold was precise enough"


def test_operating_point_falls_back_to_the_best_f1_when_no_threshold_is_precise_enough():
    rng = np.random.default_rng(2)
    gate = rng.uniform(0.0, 1.0, 20_000)   # positives look exactly like the background
    positive = np.arange(len(gate)) < 200
    _, point = operating_point(gate, positive, ~positive, np.ones(len(gate), bool))
    assert not point["precision_met"] and point["expected_precision"] < 0.8


class _CountingEncoder:
    """The real e5 encoder, remembering which texts it was asked to embed."""

    def __init__(self):
        from intentflow.e5 import load_e5
        self.inner = load_e5()
        self.name, self.dim, self.asked = self.inner.name, self.inner.dim, []

    def query(self, texts):
        self.asked += list(texts)
        return self.inner.query(texts)


def test_a_gate_with_the_e5_view_embeds_only_the_posts_the_classifier_flags(classifier, features):
    from services.classify.classifier.features import ClassifyInput
    texts = ["Подскажите хороший ноутбук для учёбы до 50к", "Сегодня отличная погода, гуляли в парке"]
    feats = features.build([ClassifyInput(t) for t in texts])
    probs = classifier.scores(feats)[0]
    flagged = (probs >= classifier.thresholds).any(axis=1)
    assert flagged.tolist() == [True, False], "the classifier should flag the request and not the weather"
    dim = gate_design(feats, np.zeros((2, 384), np.float32), 1.0).shape[1]
    gate = StreamGate(np.zeros((dim, len(SIGNALS)), np.float32), np.zeros(len(SIGNALS)),
                      {s: {"ru": 0.5, "uk": 0.5, "en": 0.5} for s in SIGNALS}, second_view_weight=1.0)
    with pytest.raises(ValueError, match="e5"):
        SignalClassifier(features, classifier.model, None, gate)
    encoder = _CountingEncoder()
    decision = SignalClassifier(features, classifier.model, None, gate, encoder).decide(feats, probs)
    assert encoder.asked == [texts[0]]
    assert decision.second_view[1].tolist() == [0.0] * 384 and abs(np.linalg.norm(decision.second_view[0]) - 1) < 1e-5


def test_screen_bound_keeps_the_accepted_positives_and_rules_out_flagged_chatter():
    rng = np.random.default_rng(3)
    n_pos, n_bg = 300, 3000
    screen = np.zeros((n_pos + n_bg, len(SIGNALS)))
    screen[:n_pos] = rng.uniform(0.4, 1.0, (n_pos, len(SIGNALS)))
    screen[n_pos:] = rng.uniform(0.0, 0.6, (n_bg, len(SIGNALS)))
    accepted = np.zeros_like(screen, dtype=bool)
    accepted[:n_pos] = True
    base = np.ones_like(accepted)
    background = np.arange(n_pos + n_bg) >= n_pos
    bounds, report = screen_bounds(screen, accepted, base, background)
    for k, signal in enumerate(SIGNALS):
        assert np.mean(screen[:n_pos, k] >= bounds[k]) >= SCREEN_RECALL
        assert report["recall_kept"][signal] >= SCREEN_RECALL
        assert bounds[k] > 0.4   # as high as the positives allow, so it rules out chatter below them
        assert report["flags_ruled_out"][signal] > 0.5
    assert 0 < report["e5_asked_share"] < 1


def _screened(features, feats, screen_bias: float) -> tuple[StreamGate, int]:
    dim = gate_design(feats, np.zeros((len(feats), 384), np.float32), 1.0).shape[1]
    gate = StreamGate(np.zeros((dim, len(SIGNALS)), np.float32), np.full(len(SIGNALS), 10.0),
                      {s: {"ru": 0.5, "uk": 0.5, "en": 0.5} for s in SIGNALS}, second_view_weight=1.0)
    cheap_dim = gate_design(feats).shape[1]
    gate.screen_weights = np.zeros((cheap_dim, len(SIGNALS)), np.float32)
    gate.screen_bias, gate.screen_bounds = np.full(len(SIGNALS), screen_bias), np.full(len(SIGNALS), 0.5)
    return gate, dim


def test_a_verdict_the_screen_rules_out_never_reaches_e5(classifier, features, tmp_path):
    from services.classify.classifier.features import ClassifyInput
    inputs = [ClassifyInput("Подскажите хороший ноутбук для учёбы до 50к, что купить?")]
    feats = features.build(inputs)
    probs = classifier.scores(feats)[0]
    assert classifier.decide(feats, probs).positive.any(), "the classifier should flag the request"
    encoder = _CountingEncoder()
    # A screen that says yes: e5 is asked and the gate (yes to everything) keeps the classifier's verdicts.
    gate, _ = _screened(features, feats, screen_bias=10.0)
    kept = SignalClassifier(features, classifier.model, None, gate, encoder).decide(feats, probs)
    assert encoder.asked == [inputs[0].text]
    assert np.array_equal(kept.positive, classifier.decide(feats, probs).positive)
    # A screen that says no: chatter without asking e5, judged against the screen's bound.
    gate, _ = _screened(features, feats, screen_bias=-10.0)
    encoder.asked = []
    dropped = SignalClassifier(features, classifier.model, None, gate, encoder).decide(feats, probs)
    assert encoder.asked == [] and not dropped.positive.any()
    assert (dropped.gate_thresholds == 0.5).all() and (dropped.gate < 0.5).all()
    # and the screen survives a save and load, and a change of operating points
    gate.save(tmp_path / "gate.npz")
    loaded = StreamGate.load(tmp_path / "gate.npz").with_operating_points({("job_seeking", "*"): 0.9})
    assert np.array_equal(loaded.screen_weights, gate.screen_weights)
    assert loaded.screen_bounds.tolist() == gate.screen_bounds.tolist() and loaded.screen_bias.tolist() == [-10.0] * 3


def test_an_operating_point_lowered_for_recall_is_not_capped_by_the_screen():
    gate = _gate()
    gate.screen_weights, gate.screen_bias = np.zeros((4, len(SIGNALS)), np.float32), np.zeros(len(SIGNALS))
    gate.screen_bounds = np.full(len(SIGNALS), 0.4)
    job, purchase = SIGNALS.index("job_seeking"), SIGNALS.index("purchase_intent")
    lowered = gate.with_operating_points(parse_operating_points("job_seeking.uk=0.3,purchase_intent=0.95"))
    assert lowered.screen_bounds[job] == 0.0        # every job-seeking verdict goes to the full gate
    assert lowered.screen_bounds[purchase] == 0.4   # a stricter point keeps its screen
    assert gate.screen_bounds[job] == 0.4           # the loaded gate itself is unchanged
