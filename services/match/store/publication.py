"""Who puts a stored lead, candidate or complaint on its topic: the store decides.

Several match processes share one store, and after a rebalance a process may still be finishing a batch
whose partition another one now reads, so two of them can hold the same record ready to publish. The one
whose atomic claim (UPDATE ... WHERE published = false AND no live claim of another) succeeds publishes it;
the other waits until the record is published or the claim lapses. A claim lapses after `hold_s`, so a
process that died between claiming and delivering does not keep the record off the topic for good.
"""
from __future__ import annotations

from .db import StoreBase, now_or
from .models import Claim

QUEUE_ITEMS, COMPLAINTS = "queue_items", "complaints"


class PublicationMixin(StoreBase):
    def _claim_publication(self, table: str, record_id: str, claimant: str, hold_s: float,
                           now: float | None) -> Claim:
        now = now_or(now)
        with self._tx(write=True) as cur:
            # `claimant` may renew its own claim: a batch whose delivery failed is processed again.
            if cur.one(f"UPDATE {table} SET publish_claim = ?, publish_claim_until = ?"
                       " WHERE id = ? AND published = ? AND (publish_claim IN ('', ?) OR publish_claim_until <= ?)"
                       " RETURNING id", (claimant, now + hold_s, record_id, False, claimant, now)) is not None:
                return Claim.MINE
            published = cur.scalar(f"SELECT published FROM {table} WHERE id = ?", (record_id,))
        if published is None:
            return Claim.GONE
        return Claim.PUBLISHED if published else Claim.HELD

    def _mark_published(self, table: str, record_id: str, claimant: str) -> bool:
        """With `claimant`, only if its claim still stands: a version merged into the item since then cleared
        the claim, and that version still has to go out. Without, unconditionally."""
        sql = f"UPDATE {table} SET published = ?, publish_claim = '', publish_claim_until = 0 WHERE id = ?"
        params: list = [True, record_id]
        if claimant:
            sql, params = sql + " AND publish_claim = ?", params + [claimant]
        with self._tx(write=True) as cur:
            return cur.one(sql + " RETURNING id", params) is not None

    # Public API: thin typed wrappers, one pair per kind of published record.

    def claim_item_publication(self, item_id: str, claimant: str, hold_s: float, now: float | None = None) -> Claim:
        return self._claim_publication(QUEUE_ITEMS, item_id, claimant, hold_s, now)

    def mark_published(self, item_id: str, claimant: str = "") -> bool:
        return self._mark_published(QUEUE_ITEMS, item_id, claimant)

    def claim_complaint_publication(self, complaint_id_: str, claimant: str, hold_s: float,
                                    now: float | None = None) -> Claim:
        return self._claim_publication(COMPLAINTS, complaint_id_, claimant, hold_s, now)

    def mark_complaint_published(self, complaint_id_: str, claimant: str = "") -> bool:
        return self._mark_published(COMPLAINTS, complaint_id_, claimant)
