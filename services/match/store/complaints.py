"""Employer complaints found in posts."""
from __future__ import annotations

import dataclasses

from .db import StoreBase, insert_sql, now_or
from .models import Complaint, complaint_id
from .rows import columns, from_row, to_row


class ComplaintsMixin(StoreBase):
    def add_complaint(self, complaint: Complaint, now: float | None = None) -> tuple[bool, Complaint]:
        """(True, the stored complaint) if new; (False, the earlier one) if this (post_id, employer_id)
        was already recorded, so a caller can tell whether its signal still has to be published."""
        if not complaint.post.post_id:
            raise ValueError("complaint needs post.post_id")
        default_id = complaint_id(complaint.post.post_id, complaint.employer_id)
        complaint = dataclasses.replace(complaint, id=complaint.id or default_id, published=False,
                                        detected_at=complaint.detected_at or now_or(now))
        cols, row = columns(Complaint), to_row(complaint, self._dialect)
        with self._tx(write=True) as cur:
            if cur.one(insert_sql("complaints", cols, " ON CONFLICT DO NOTHING RETURNING id"),
                       [row[c] for c in cols]) is not None:
                return True, complaint
            earlier = cur.one("SELECT * FROM complaints WHERE post_id = ? AND employer_id = ?",
                              (complaint.post.post_id, complaint.employer_id))
        return False, from_row(Complaint, earlier, self._dialect)

    def list_complaints(self, employer_id: str | None = None, since: float | None = None,
                        limit: int = 100) -> list[Complaint]:
        """Newest detections first; employer_id None = all, '' = no watchlist employer."""
        where, params = self._complaint_filter(employer_id, since, None)
        with self._tx() as cur:
            rows = cur.all(f"SELECT * FROM complaints WHERE {where}"
                           " ORDER BY detected_at DESC, id LIMIT ?", params + [limit])
        return [from_row(Complaint, r, self._dialect) for r in rows]

    def claim_alert(self, employer_id: str, at: float, min_gap_s: float) -> bool:
        """True (and `at` stored as the employer's last alert time) when no alert for `employer_id` went out
        in the `min_gap_s` before `at`; False otherwise. Atomic, so replicas and restarts alert once."""
        with self._tx(write=True) as cur:
            return cur.one("INSERT INTO complaint_alerts (employer_id, last_alert_at) VALUES (?, ?)"
                           " ON CONFLICT (employer_id) DO UPDATE SET last_alert_at = excluded.last_alert_at"
                           " WHERE complaint_alerts.last_alert_at <= ? RETURNING employer_id",
                           (employer_id, at, at - min_gap_s)) is not None

    def last_alert_at(self, employer_id: str) -> float | None:
        with self._tx() as cur:
            value = cur.scalar("SELECT last_alert_at FROM complaint_alerts WHERE employer_id = ?", (employer_id,))
        return None if value is None else float(value)

    def count_complaints(self, employer_id: str | None = None, since: float | None = None,
                         until: float | None = None) -> int:
        """Complaints detected in [since, until)."""
        where, params = self._complaint_filter(employer_id, since, until)
        with self._tx() as cur:
            return int(cur.scalar(f"SELECT COUNT(*) FROM complaints WHERE {where}", params))

    @staticmethod
    def _complaint_filter(employer_id: str | None, since: float | None,
                          until: float | None) -> tuple[str, list]:
        clauses, params = ["1 = 1"], []
        for clause, value in (("employer_id = ?", employer_id), ("detected_at >= ?", since),
                              ("detected_at < ?", until)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        return " AND ".join(clauses), params
