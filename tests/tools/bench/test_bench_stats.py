"""Pure helpers of the benchmark: percentiles, latency summaries, recall@k, the nprobe choice."""
import numpy as np
import pytest

from tools.bench.scale import around_anchors, choose_nprobe
from tools.bench.stats import latency_summary, percentile, recall_at_k


def test_percentile_interpolates_between_order_statistics():
    values = list(range(1, 101))  # 1..100
    assert percentile(values, 50) == pytest.approx(50.5)
    assert percentile(values, 99) == pytest.approx(99.01)
    assert percentile(values, 0) == 1 and percentile(values, 100) == 100
    assert percentile([7.0], 99) == 7.0


def test_percentile_of_nothing_is_none_and_bad_q_is_an_error():
    assert percentile([], 50) is None
    with pytest.raises(ValueError):
        percentile([1, 2], 101)


def test_latency_summary_reports_milliseconds():
    summary = latency_summary([0.001, 0.002, 0.003])
    assert summary["n"] == 3
    assert summary["p50_ms"] == pytest.approx(2.0)
    assert summary["max_ms"] == pytest.approx(3.0)
    assert latency_summary([])["p99_ms"] is None


def test_recall_counts_set_overlap_per_query_and_ignores_missing_results():
    truth = np.array([[1, 2, 3], [4, 5, 6]])
    found = np.array([[3, 2, 1], [4, -1, 9]])  # same set in another order; one hit and a "no result"
    assert recall_at_k(found, truth, 3) == pytest.approx((3 + 1) / 6)
    assert recall_at_k(truth, truth, 2) == 1.0


def test_recall_rejects_mismatched_shapes():
    with pytest.raises(ValueError):
        recall_at_k(np.zeros((2, 3)), np.zeros((3, 3)), 3)
    with pytest.raises(ValueError):
        recall_at_k(np.zeros((2, 3)), np.zeros((2, 2)), 3)


def test_choose_nprobe_prefers_the_cheapest_setting_meeting_both_targets():
    sweep = [{"nprobe": 4, "recall_at_10": 0.90, "p99_ms": 1.0},
             {"nprobe": 8, "recall_at_10": 0.96, "p99_ms": 2.0},
             {"nprobe": 16, "recall_at_10": 0.99, "p99_ms": 4.0}]
    chosen = choose_nprobe(sweep, 0.95, 10.0)
    assert chosen["nprobe"] == 8 and chosen["meets_targets"]


def test_choose_nprobe_falls_back_to_best_recall_within_the_latency_target():
    sweep = [{"nprobe": 4, "recall_at_10": 0.80, "p99_ms": 5.0},
             {"nprobe": 8, "recall_at_10": 0.90, "p99_ms": 9.0},
             {"nprobe": 16, "recall_at_10": 0.97, "p99_ms": 30.0}]
    chosen = choose_nprobe(sweep, 0.95, 10.0)
    assert chosen["nprobe"] == 8 and not chosen["meets_targets"]


def test_vectors_around_anchors_are_unit_length_at_the_drawn_cosine():
    rng = np.random.default_rng(0)
    anchors = rng.standard_normal((5, 64)).astype(np.float32)
    vectors = around_anchors(anchors, 1000, rng, cosine_range=(0.7, 0.9), chunk=300)
    assert vectors.shape == (1000, 64) and vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    unit = anchors / np.linalg.norm(anchors, axis=1, keepdims=True)
    best = (vectors @ unit.T).max(axis=1)  # cosine to the nearest anchor, which is its own here
    assert best.min() >= 0.7 - 1e-3 and best.max() <= 0.9 + 1e-3


def test_sweep_stops_once_recall_plateaus_after_meeting_the_targets():
    from tools.bench.scale import ScaleConfig, _past_the_knee
    config = ScaleConfig()
    rising = [{"nprobe": 1, "recall_at_10": 0.80, "p99_ms": 1.0}, {"nprobe": 2, "recall_at_10": 0.90, "p99_ms": 1.0},
              {"nprobe": 4, "recall_at_10": 0.94, "p99_ms": 1.0}]
    assert not _past_the_knee(rising, config)
    flat = rising[:1] + [{"nprobe": 2, "recall_at_10": 0.966, "p99_ms": 1.0},
                         {"nprobe": 4, "recall_at_10": 0.9665, "p99_ms": 1.0},
                         {"nprobe": 8, "recall_at_10": 0.967, "p99_ms": 1.2}]
    assert _past_the_knee(flat, config)
    assert _past_the_knee(rising + [{"nprobe": 8, "recall_at_10": 0.95, "p99_ms": 50.0}], config)
