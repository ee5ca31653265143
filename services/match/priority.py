"""Queue priority of a lead or candidate, the order in which reps and recruiters get them.

priority = 0.5·p + 0.3·min(score, 1) + 0.2·freshness, where p is the calibrated intent probability,
score the profile match score (0 for an unmatched lead) and freshness = 0.5 ** (age_hours / 24), the
post's age at `now` with a one-day half-life. The README quotes this formula; change both together.
"""
from __future__ import annotations

FRESHNESS_HALF_LIFE_HOURS = 24


def priority(probability: float, score: float, created_at: float, now: float) -> float:
    age_hours = max(0.0, now - created_at) / 3600 if created_at else 0.0
    freshness = 0.5 ** (age_hours / FRESHNESS_HALF_LIFE_HOURS)
    return round(0.5 * probability + 0.3 * min(score, 1.0) + 0.2 * freshness, 4)
