"""The match score of a post for one profile: a logistic model over how close the post is to the profile
compared with the rest of the catalogue, and which keywords it contains.

Why learned and relative: a cosine from USE-multilingual means little on its own. A chatty post ("what
should I get, budget 40k, for work and study") is 0.3-0.4 close to every product, a terse one ("Air M2
or M3?") only 0.2 close even to the right one. What tells the right profile is how far it stands out
from the others, and whether a keyword of the profile is in the post. The model weighs those signals;
its weights are fitted by `python -m services.match.training.train` on data/match/train_*.jsonl (never on
data/match/dev.jsonl) and stored in scorer.json beside this file.

Features of a candidate profile (`FEATURES`):
* cosine: the best cosine between the post and any view of the profile (see `profile_views`);
* cosine_2: the mean of its best two views (a profile that is close in several ways is likelier);
* lead: cosine minus the best cosine of any other profile (positive only for the closest profile);
* lift: cosine minus the mean best cosine of the post's closest profiles (`LIFT_TOP`), which removes
  how close the post is to everything;
* keyword / keyword_2: a keyword of the profile occurs in one place / in two separate places;
* keyword_elsewhere: some other profile's keyword occurs in the post;
* lexical: the post's rare lemmas found in the profile (lexical.py), and lexical_lead: that minus the best
  lexical score of any other candidate;
* e5, e5_lead, e5_lift: cosine, lead and lift again with the reranker (multilingual-e5-small, intentflow/e5.py)
  over the profile's views and example posts; USE's cosine when there is no reranker;
* e5_mean, e5_mean_lead: the mean reranker cosine over the profile's views (a profile close in every
  way), and its lead over the other profiles;
* e5_bg, e5_mean_bg: e5 and e5_mean minus how close the post is to a fixed background of everyday products
  or jobs (background.py): the same yardstick whatever the size and style of the catalogue.

No feature assumes a profile has keywords or a description, or that it is written in the post's language:
the scorer is fitted on many renderings of several catalogues (services.match.training.variants: one
language, with and without keywords, names only, short descriptions) so that a keyword hit is a bonus, not
a requirement.

score = sigmoid(weights . features + bias), in [0, 1]: on the training posts (cross-validated) it is the
share of posts for which that profile was the right one. A profile matches when score >= its own
min_score, or the index's default threshold when min_score is 0.
"""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

FEATURES = ("cosine", "lead", "lift", "keyword", "keyword_2", "keyword_elsewhere", "lexical", "lexical_lead",
            "e5", "e5_lead", "e5_lift", "e5_mean", "e5_mean_lead", "e5_bg", "e5_mean_bg")
LIFT_TOP = 5
SCORER_PATH = Path(__file__).with_name("scorer.json")


@dataclass(frozen=True)
class Candidate:
    profile_id: str
    cosines: tuple[float, ...]          # the profile's view cosines found for the post, best first
    places: int = 0                     # separate places of the post holding one of its keywords
    keywords: tuple[str, ...] = ()      # the keyword spellings found
    lexical: float = 0.0                # LexicalIndex score of the post for this profile
    e5: float | None = None             # best reranker cosine to the profile's views/examples (None: no reranker)
    nearest: str = ""                   # the view or example post that gave it
    negative: float = 0.0               # best reranker cosine to the profile's negative example posts
    negative_text: str = ""             # that negative example ("" = none)
    e5_mean: float | None = None        # mean reranker cosine to the profile's views/examples
    background: float = 0.0             # the post's mean best reranker cosine to background.py names


def features(candidates: list[Candidate]) -> np.ndarray:
    """One row of FEATURES per candidate; every candidate of the post must be passed together, since
    lead, lift and keyword_elsewhere compare a profile with the others."""
    if not candidates:
        return np.zeros((0, len(FEATURES)))
    best = np.array([c.cosines[0] for c in candidates])
    lead, lift = _relative(best)
    e5 = np.array([c.cosines[0] if c.e5 is None else c.e5 for c in candidates])
    e5_lead, e5_lift = _relative(e5)
    e5_mean = np.array([c.cosines[0] if c.e5_mean is None else c.e5_mean for c in candidates])
    e5_mean_lead, _ = _relative(e5_mean)
    background = np.array([c.background for c in candidates])
    reranked = np.array([c.e5 is not None for c in candidates])   # without reranker: lift stands in
    places = np.array([c.places for c in candidates])
    keyword_total = int(np.sum(places >= 1))
    elsewhere = (keyword_total - (places >= 1)) > 0
    lexical = np.array([c.lexical for c in candidates])
    return np.column_stack([best, lead, lift, places >= 1, places >= 2, elsewhere, lexical,
                            lexical - _best_of_others(lexical, alone=0.0), e5, e5_lead, e5_lift, e5_mean,
                            e5_mean_lead, np.where(reranked, e5 - background, lift),
                            np.where(reranked, e5_mean - background, lift)]).astype(np.float64)


def _relative(best: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(lead over the best other candidate, lift over the mean of the LIFT_TOP best)."""
    order = np.sort(best)[::-1]
    runner_up = _best_of_others(best, alone=order[0] - 0.1)
    return best - runner_up, best - float(np.mean(order[:LIFT_TOP]))


def _best_of_others(values: np.ndarray, alone: float) -> np.ndarray:
    """For each position the largest value at any other position; `alone` when there is no other."""
    if len(values) < 2:
        return np.full_like(values, alone)
    order = np.sort(values)[::-1]
    return np.where(values >= order[0], order[1], order[0])


@dataclass(frozen=True)
class Scorer:
    weights: tuple[float, ...]
    bias: float
    threshold: float                    # the default min score, chosen with the weights
    notes: dict = field(default_factory=dict, compare=False)

    def scores(self, candidates: list[Candidate]) -> np.ndarray:
        if not candidates:
            return np.zeros(0)
        logits = features(candidates) @ np.asarray(self.weights) + self.bias
        return 1.0 / (1.0 + np.exp(-logits))

    def to_json(self) -> dict:
        return {"features": list(FEATURES), "weights": [round(w, 6) for w in self.weights],
                "bias": round(self.bias, 6), "threshold": round(self.threshold, 4), "notes": self.notes}

    @classmethod
    def from_json(cls, data: dict) -> Scorer:
        if list(data.get("features", [])) != list(FEATURES):
            raise ValueError(f"scorer was fitted on features {data.get('features')}, this code has {FEATURES}; "
                             "refit with python -m services.match.training.train")
        weights = tuple(float(w) for w in data["weights"])
        if not all(math.isfinite(w) for w in weights):
            raise ValueError("scorer weights must be finite")
        return cls(weights, float(data["bias"]), float(data["threshold"]), dict(data.get("notes", {})))


def load_scorers(path: Path | str = SCORER_PATH) -> dict[str, Scorer]:
    """kind ("product" | "vacancy") -> Scorer."""
    with open(path, encoding="utf-8") as fh:
        data = json.load(fh)
    return {kind: Scorer.from_json(entry) for kind, entry in data.items()}
