"""Who puts a stored lead, candidate or complaint on its topic: the store decides.

Several match processes share one store, and after a rebalance a process may still be finishing a batch
whose partition another one now reads, so two of them can hold the same record ready to publish. The one
whose atomic claim (UPDATE ... WHERE published = false AND no live claim of another) succeeds publishes it;
the other waits until the record is published or the claim lapses. A claim lapses after `hold_s`, so a
process that died between claiming and delivering does not keep the record off the topic for good; the one
that takes the claim over learns when the lapsed claim began (`TakenOver`), because the dead process may have
delivered the record in the moment before it could mark it published.
"""
from __future__ import annotations

from .db import StoreBase, now_or
from .models import Claim, TakenOver

QUEUE_ITEMS, COMPLAINTS = "queue_items", "complaints"


class PublicationMixin(StoreBase):
    def _claim_publication(self, table: str, record_id: str, claimant: str, hold_s: float,
                           now: float | None) -> Claim | TakenOver:
        now = now_or(now)
        with self._tx(write=True) as cur:
            row = cur.one(f"SELECT published, publish_claim, publish_claim_until FROM {table} WHERE id = ?"
                          + self._dialect.lock_rows, (record_id,))
            if row is None:
                return Claim.GONE
            if row["published"]:
                return Claim.PUBLISHED
            # `claimant` may renew its own claim: a batch whose delivery failed is processed again.
            own_or_free = row["publish_claim"] in ("", claimant)
            if not own_or_free and row["publish_claim_until"] > now:
                return Claim.HELD
            cur.one(f"UPDATE {table} SET publish_claim = ?, publish_claim_until = ? WHERE id = ? RETURNING id",
                    (claimant, now + hold_s, record_id))
        # Every claimant holds a claim for the same `hold_s`, so the lapsed one began `hold_s` before it ended.
        return Claim.MINE if own_or_free else TakenOver(since=row["publish_claim_until"] - hold_s)

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
