"""MATCH_RETENTION_DAYS: how long the match store keeps a post and the leads, candidates and complaints found in
it, counted from when the post was written. The match service purges hourly; `intentflow store purge` on demand."""
from __future__ import annotations

DAY_S = 86400.0


def retention_cutoff(retention_days: float, now: float) -> float | None:
    """Posts created before this are purged; None when the retention is 0 (keep forever)."""
    return None if retention_days <= 0 else now - retention_days * DAY_S
