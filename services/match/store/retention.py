"""Retention and erasure: rows about posts older than the retention period are purged, and one author's rows
are erased on request.

Posts live in three tables (queue_items with their item_posts and outcome_events, complaints, job_posts);
both operations remove from all three by the same batches and report what went, with the keys those records
have on the Kafka topics, so the caller can drop them from the search index and write tombstones. An erasure
also takes the author's posts out of the examples that profiles learned from acked items, and is logged in
the audit log under a hash of its subject.
"""
from __future__ import annotations

import dataclasses
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .audit import AuditMixin, subject_hash
from .db import Cursor, marks, now_or
from .models import KIND_LEAD, Product, Vacancy
from .profiles import ProfilesMixin

# Rows per table per transaction: keeps a purge of millions of rows from holding locks for long.
_BATCH = 500
ERASE_METHOD = "Erase"
EXAMPLES = ("examples", "negative_examples")


@dataclass
class RecordKeys:
    """Keys that stored records have on the topics we own: post ids on posts.clean and posts.classified,
    queue item ids on leads.sales (leads) and signals.hr (candidates), complaint ids on signals.hr."""
    post_ids: set[str] = field(default_factory=set)
    lead_ids: set[str] = field(default_factory=set)
    candidate_ids: set[str] = field(default_factory=set)
    complaint_ids: set[str] = field(default_factory=set)

    def add_item(self, kind: str, item_id: str) -> None:
        (self.lead_ids if kind == KIND_LEAD else self.candidate_ids).add(item_id)

    def __sub__(self, other: RecordKeys) -> RecordKeys:
        return RecordKeys(*(getattr(self, f.name) - getattr(other, f.name) for f in dataclasses.fields(self)))

    def __len__(self) -> int:
        return sum(len(getattr(self, f.name)) for f in dataclasses.fields(self))


@dataclass
class Removed:
    rows: Counter = field(default_factory=Counter)  # table (or "profile examples") -> rows removed
    keys: RecordKeys = field(default_factory=RecordKeys)
    job_post_ids: list[int] = field(default_factory=list)  # for the candidate search index
    texts: set[str] = field(default_factory=set)           # of removed queue items: learned examples may hold them

    @property
    def total(self) -> int:
        return sum(self.rows.values())


def author_scope(author: str, network: str = "") -> tuple[str, list[Any]]:
    """WHERE clause for one author's posts; without a network, the author's name on every network."""
    if not author.strip():
        raise ValueError("an erasure needs the author")
    if network:
        return "post_author = ? AND post_network = ?", [author, network]
    return "post_author = ?", [author]


class RetentionMixin(ProfilesMixin, AuditMixin):
    def purge_before(self, before: float, progress: Callable[[Removed], None] | None = None) -> Removed:
        """Remove every queue item, complaint and job post whose post was created before `before`. Learned
        profile examples stay: they are part of the profile, which users see and edit."""
        return self._remove("post_created_at < ?", [before], progress)

    def author_keys(self, author: str, network: str = "") -> RecordKeys:
        """The Kafka keys of one author's stored records, read without removing anything."""
        where, params = author_scope(author, network)
        keys = RecordKeys()
        with self._tx() as cur:
            items = cur.all(f"SELECT id, kind, post_id FROM queue_items WHERE {where}", params)
            for row in items:
                keys.add_item(row["kind"], row["id"])
                keys.post_ids.add(row["post_id"])
            for ids in _chunks([r["id"] for r in items]):
                keys.post_ids.update(r["post_id"] for r in cur.all(
                    f"SELECT post_id FROM item_posts WHERE item_id IN ({marks(ids)})", ids))
            for row in cur.all(f"SELECT id, post_id FROM complaints WHERE {where}", params):
                keys.complaint_ids.add(row["id"])
                keys.post_ids.add(row["post_id"])
            keys.post_ids.update(r["post_id"] for r in cur.all(f"SELECT post_id FROM job_posts WHERE {where}", params))
        return keys

    def erase_author(self, author: str, network: str = "", now: float | None = None) -> Removed:
        """Remove everything stored about one author's posts, including learned examples, and log the
        erasure (role `cli`, method `Erase`, count of rows, subject = `subject_hash`)."""
        where, params = author_scope(author, network)
        removed = self._remove(where, params)
        forgotten = self._forget_examples(removed.texts)
        if forgotten:
            removed.rows["profile examples"] += forgotten
        self.record_audit("", "cli", ERASE_METHOD, removed.total, now_or(now), subject_hash(author, network))
        return removed

    def _remove(self, where: str, params: list[Any], progress: Callable[[Removed], None] | None = None) -> Removed:
        removed = Removed()
        while True:
            with self._tx(write=True) as cur:
                done = (self._remove_items(cur, where, params, removed)
                        + self._remove_complaints(cur, where, params, removed)
                        + self._remove_job_posts(cur, where, params, removed))
            if progress:
                progress(removed)
            if not done:
                return removed

    @staticmethod
    def _remove_items(cur: Cursor, where: str, params: list[Any], removed: Removed) -> int:
        items = cur.all(f"SELECT id, kind, post_text FROM queue_items WHERE {where} LIMIT ?", params + [_BATCH])
        if not items:
            return 0
        ids = [r["id"] for r in items]
        removed.rows["outcome_events"] += len(cur.all(
            f"DELETE FROM outcome_events WHERE item_id IN ({marks(ids)}) RETURNING id", ids))
        posts = cur.all(f"DELETE FROM item_posts WHERE item_id IN ({marks(ids)}) RETURNING post_id", ids)
        removed.rows["item_posts"] += len(posts)
        removed.keys.post_ids.update(r["post_id"] for r in posts)
        cur.execute(f"DELETE FROM queue_items WHERE id IN ({marks(ids)})", ids)
        removed.rows["queue_items"] += len(ids)
        for row in items:
            removed.keys.add_item(row["kind"], row["id"])
            removed.texts.add(row["post_text"].strip())
        return len(ids)

    @staticmethod
    def _remove_complaints(cur: Cursor, where: str, params: list[Any], removed: Removed) -> int:
        rows = _delete_batch(cur, "complaints", where, params, removed)
        removed.keys.complaint_ids.update(r["id"] for r in rows)
        return len(rows)

    @staticmethod
    def _remove_job_posts(cur: Cursor, where: str, params: list[Any], removed: Removed) -> int:
        rows = _delete_batch(cur, "job_posts", where, params, removed)
        removed.job_post_ids.extend(int(r["id"]) for r in rows)
        return len(rows)

    def _forget_examples(self, texts: set[str]) -> int:
        """Take these post texts out of every product's and vacancy's examples; returns how many went."""
        if not texts:
            return 0
        forgotten = 0
        for cls in (Product, Vacancy):
            for profile in self._list_profiles(cls):
                kept = {name: [t for t in getattr(profile, name) if t not in texts] for name in EXAMPLES}
                dropped = sum(len(getattr(profile, name)) - len(kept[name]) for name in EXAMPLES)
                if dropped:
                    # updated_at 0 = now: match processes see the change and re-index the profile (catch_up)
                    self._upsert_profile(dataclasses.replace(profile, **kept, updated_at=0.0), None)
                    forgotten += dropped
        return forgotten


def _delete_batch(cur: Cursor, table: str, where: str, params: list[Any], removed: Removed) -> list:
    """Delete up to a batch of `table`'s rows matching `where`; counts them and keeps their post ids."""
    rows = cur.all(f"DELETE FROM {table} WHERE id IN (SELECT id FROM {table} WHERE {where} LIMIT ?)"
                   " RETURNING id, post_id", params + [_BATCH])
    removed.rows[table] += len(rows)
    removed.keys.post_ids.update(r["post_id"] for r in rows)
    return rows


def _chunks(values: list[str], size: int = _BATCH) -> list[list[str]]:
    return [values[i:i + size] for i in range(0, len(values), size)]
