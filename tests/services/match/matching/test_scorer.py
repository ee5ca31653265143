"""The match scorer's features and its stored weights (no encoder needed)."""
from __future__ import annotations

import json

import numpy as np
import pytest

from services.match.matching.scorer import FEATURES, SCORER_PATH, Candidate, Scorer, features, load_scorers


def column(name: str) -> int:
    return FEATURES.index(name)


def test_lead_is_positive_only_for_the_closest_profile_and_lift_removes_the_posts_level():
    rows = features([Candidate("a", (0.50, 0.40)), Candidate("b", (0.30, 0.30)), Candidate("c", (0.20, 0.10))])
    lead, lift = rows[:, column("lead")], rows[:, column("lift")]
    assert lead.tolist() == pytest.approx([0.20, -0.20, -0.30])
    assert lift.tolist() == pytest.approx([0.50 - 1 / 3, 0.30 - 1 / 3, 0.20 - 1 / 3])
    # The same gaps at a higher level (a chatty post close to everything) give the same lead and lift.
    shifted = features([Candidate("a", (0.70, 0.60)), Candidate("b", (0.50, 0.50)), Candidate("c", (0.40, 0.30))])
    assert shifted[:, column("lead")] == pytest.approx(lead)
    assert shifted[:, column("lift")] == pytest.approx(lift)


def test_keyword_features_and_a_lone_candidate():
    rows = features([Candidate("a", (0.4,), 2, ("x", "y")), Candidate("b", (0.3,), 1, ("z",)), Candidate("c", (0.2,))])
    assert rows[:, column("keyword")].tolist() == [1, 1, 0]
    assert rows[:, column("keyword_2")].tolist() == [1, 0, 0]
    assert rows[:, column("keyword_elsewhere")].tolist() == [1, 1, 1]
    alone = features([Candidate("a", (0.4,), 1)])
    assert alone[0, column("lead")] == pytest.approx(0.1) and alone[0, column("keyword_elsewhere")] == 0
    assert features([]).shape == (0, len(FEATURES))


def test_shipped_scorer_loads_for_both_kinds_and_was_fitted_on_training_files_only():
    scorers = load_scorers()
    # kind@use: the scorer for MATCH_RERANKER off (USE features only)
    assert set(scorers) == {"product", "vacancy", "product@use", "vacancy@use"}
    for scorer in scorers.values():
        assert 0 < scorer.threshold < 1 and len(scorer.weights) == len(FEATURES)
    for kind in ("product", "vacancy"):
        trained_on = scorers[kind].notes["trained_on"]
        assert trained_on and all("/train_" in path or "/domains" in path for path in trained_on)
        assert not any("dev" in path for path in trained_on)


def test_e5_features_compare_with_the_background_and_fall_back_to_use():
    reranked = features([Candidate("a", (0.5,), e5=0.90, e5_mean=0.85, background=0.80),
                         Candidate("b", (0.3,), e5=0.82, e5_mean=0.80, background=0.80)])
    assert reranked[:, column("e5_bg")].tolist() == pytest.approx([0.10, 0.02])
    assert reranked[:, column("e5_mean_bg")].tolist() == pytest.approx([0.05, 0.0])
    assert reranked[:, column("e5_lead")].tolist() == pytest.approx([0.08, -0.08])
    plain = features([Candidate("a", (0.5,)), Candidate("b", (0.3,))])
    assert plain[:, column("e5")].tolist() == plain[:, column("cosine")].tolist()
    assert plain[:, column("e5_bg")].tolist() == plain[:, column("lift")].tolist()


def test_scorer_round_trips_and_rejects_a_file_for_other_features(tmp_path):
    scorer = Scorer(tuple(float(n) for n in range(len(FEATURES))), -1.5, 0.4, {"C": 1.0})
    again = Scorer.from_json(json.loads(json.dumps(scorer.to_json())))
    assert again == scorer
    candidates = [Candidate("a", (0.5, 0.4), 1), Candidate("b", (0.3, 0.2))]
    assert np.all((again.scores(candidates) > 0) & (again.scores(candidates) < 1))
    stale = dict(scorer.to_json(), features=["cosine", "keyword"])
    with pytest.raises(ValueError, match="refit"):
        Scorer.from_json(stale)
    path = tmp_path / "scorer.json"
    path.write_text(json.dumps({"product": scorer.to_json()}))
    assert load_scorers(path)["product"] == scorer
    assert SCORER_PATH.name == "scorer.json"


def test_lexical_lead_compares_each_profile_with_the_best_other():
    rows = features([Candidate("a", (0.4,), lexical=3.0), Candidate("b", (0.3,), lexical=1.0),
                     Candidate("c", (0.2,), lexical=0.0)])
    assert rows[:, column("lexical")].tolist() == [3.0, 1.0, 0.0]
    assert rows[:, column("lexical_lead")].tolist() == [2.0, -2.0, -3.0]
    assert features([Candidate("a", (0.4,), lexical=2.0)])[0, column("lexical_lead")] == 2.0
