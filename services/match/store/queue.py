"""The work queue of leads and candidates: adding with dedup, leasing, outcomes and reporting."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

from . import rules
from .db import Cursor, StoreBase, insert_sql, marks, now_or
from .errors import NotFound
from .models import (
    KINDS,
    OPEN_STATUSES,
    OUTCOMES,
    STATUS_CONTACTED,
    STATUS_LEASED,
    STATUS_LOST,
    STATUS_NEW,
    STATUS_NOT_A_LEAD,
    STATUS_WON,
    AddResult,
    QueueItem,
    queue_item_id,
)
from .rows import POST_COLUMNS, columns, from_row, to_row

# Oldest first among equal priorities, and id last so paging is stable.
_ORDER = "priority DESC, detected_at ASC, id ASC"
_MERGED_COLUMNS = POST_COLUMNS + ("intent_probability", "match_score", "priority", "evidence",
                                  "related_post_ids")


def _sort_key(item: QueueItem) -> tuple[float, float, str]:
    return (-item.priority, item.detected_at, item.id)


def _item_filter(kind: str, profile_ids: Sequence[str] = (), languages: Sequence[str] = (),
                 include_unmatched: bool = True, statuses: Sequence[str] = (),
                 since: float | None = None) -> tuple[str, list[Any]]:
    """WHERE clause shared by leasing and listing; empty sequences mean "no restriction"."""
    clauses, params = ["kind = ?"], [kind]
    matched = f"profile_id IN ({marks(profile_ids)})" if profile_ids else "profile_id <> ''"
    params += list(profile_ids)
    clauses.append(f"({matched} OR profile_id = '')" if include_unmatched else matched)
    if languages:
        clauses.append(f"post_lang IN ({marks(languages)})")
        params += list(languages)
    if statuses:
        clauses.append(f"status IN ({marks(statuses)})")
        params += list(statuses)
    if since is not None:
        clauses.append("detected_at >= ?")
        params.append(since)
    return " AND ".join(clauses), params


class QueueMixin(StoreBase):
    def _item(self, row: Any) -> QueueItem:
        return from_row(QueueItem, row, self._dialect)

    def _load_item(self, cur: Cursor, kind: str, item_id: str, lock: bool = False) -> QueueItem:
        lock_sql = self._dialect.lock_rows if lock else ""
        row = cur.one(f"SELECT * FROM queue_items WHERE id = ? AND kind = ?{lock_sql}",
                      (item_id, kind))
        if row is None:
            raise NotFound(f"no {kind} item {item_id!r}")
        return self._item(row)

    def get_item(self, item_id: str) -> QueueItem | None:
        with self._tx() as cur:
            row = cur.one("SELECT * FROM queue_items WHERE id = ?", (item_id,))
        return None if row is None else self._item(row)

    def add_queue_item(self, item: QueueItem, dedup_window_s: float = 0.0,
                       now: float | None = None) -> tuple[AddResult, QueueItem]:
        """DUPLICATE if this (kind, post, profile) was added before; MERGED into an open item of the
        same kind and profile whose post has the same network and author and was created within
        dedup_window_s of this one; else CREATED. Returns the item as stored."""
        if item.kind not in KINDS:
            raise ValueError(f"unknown kind {item.kind!r}")
        if not item.post.post_id:
            raise ValueError("queue item needs post.post_id")
        now = now_or(now)
        # A detection always starts life open and unpublished, whatever the caller filled in.
        item = dataclasses.replace(
            item, id=item.id or queue_item_id(item.kind, item.post.post_id, item.profile_id),
            status=STATUS_NEW, lease_owner="", lease_expires_at=0.0, outcome_note="",
            outcome_at=0.0, published=False, detected_at=item.detected_at or now)
        key = (item.kind, item.post.post_id, item.profile_id)
        with self._tx(write=True) as cur:
            # Claiming the post first makes concurrent adds of the same post wait for each other.
            claimed = cur.one("INSERT INTO item_posts (kind, post_id, profile_id, item_id)"
                              " VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING RETURNING item_id",
                              (*key, item.id))
            if claimed is None:
                stored_id = cur.scalar("SELECT item_id FROM item_posts"
                                       " WHERE kind = ? AND post_id = ? AND profile_id = ?", key)
                return AddResult.DUPLICATE, self._load_item(cur, item.kind, stored_id)
            target = None
            if dedup_window_s > 0 and item.post.author:
                target = self._merge_target(cur, item, dedup_window_s)
            if target is None:
                cols, row = columns(QueueItem), to_row(item, self._dialect)
                cur.execute(insert_sql("queue_items", cols), [row[c] for c in cols])
                return AddResult.CREATED, item
            # The merged version has to be published again; clearing the claim keeps a process still
            # delivering the previous version from marking this one published (store/publication.py).
            merged = dataclasses.replace(rules.merge(target, item), published=False)
            row = to_row(merged, self._dialect)
            cur.execute(f"UPDATE queue_items SET {', '.join(f'{c} = ?' for c in _MERGED_COLUMNS)},"
                        " published = ?, publish_claim = '', publish_claim_until = 0 WHERE id = ?",
                        [row[c] for c in _MERGED_COLUMNS] + [False, merged.id])
            cur.execute("UPDATE item_posts SET item_id = ?"
                        " WHERE kind = ? AND post_id = ? AND profile_id = ?", (merged.id, *key))
            return AddResult.MERGED, merged

    def _merge_target(self, cur: Cursor, item: QueueItem, window: float) -> QueueItem | None:
        post = item.post
        # Without this, two replicas adding two posts of one author at once could both miss the
        # other's item and create two; SQLite's BEGIN IMMEDIATE already rules that out.
        cur.lock_key(f"dedup\x1f{item.kind}\x1f{item.profile_id}\x1f{post.network}\x1f{post.author}")
        row = cur.one(
            "SELECT * FROM queue_items WHERE kind = ? AND profile_id = ? AND post_network = ?"
            f" AND post_author = ? AND status IN ({marks(OPEN_STATUSES)})"
            " AND ABS(post_created_at - ?) <= ? ORDER BY ABS(post_created_at - ?), id LIMIT 1"
            f"{self._dialect.lock_rows}",
            (item.kind, item.profile_id, post.network, post.author, *OPEN_STATUSES,
             post.created_at, window, post.created_at))
        return None if row is None else self._item(row)

    def lease_items(self, kind: str, owner: str, profile_ids: Sequence[str] = (),
                    min_score: float = 0.0, languages: Sequence[str] = (), limit: int = 10,
                    lease_seconds: float = 300.0, now: float | None = None,
                    include_unmatched: bool = False) -> list[QueueItem]:
        """Atomically lease up to `limit` available items (new, or leased with an expired lease)
        with match_score >= min_score, highest priority first."""
        if not owner:
            raise ValueError("lease owner must not be empty")
        if limit <= 0:
            return []
        now = now_or(now)
        where, params = _item_filter(kind, profile_ids, languages, include_unmatched)
        with self._tx(write=True) as cur:
            rows = cur.all(
                f"SELECT id FROM queue_items WHERE {where} AND match_score >= ?"
                " AND (status = ? OR (status = ? AND lease_expires_at <= ?))"
                f" ORDER BY {_ORDER} LIMIT ?{self._dialect.skip_locked}",
                params + [min_score, STATUS_NEW, STATUS_LEASED, now, limit])
            ids = [r["id"] for r in rows]
            if not ids:
                return []
            rows = cur.all("UPDATE queue_items SET status = ?, lease_owner = ?,"
                           f" lease_expires_at = ? WHERE id IN ({marks(ids)}) RETURNING *",
                           [STATUS_LEASED, owner, now + lease_seconds] + ids)
        return sorted((self._item(r) for r in rows), key=_sort_key)

    def ack_item(self, kind: str, item_id: str, owner: str, outcome: str, note: str = "",
                 now: float | None = None) -> QueueItem:
        """Record an outcome. A live lease must be held by `owner`; contacted may later become won
        or lost by anyone. Raises NotFound, LeaseConflict or InvalidTransition."""
        now = now_or(now)
        with self._tx(write=True) as cur:
            item = self._load_item(cur, kind, item_id, lock=True)
            rules.check_ack(item, owner, outcome, now)
            # lease_owner keeps who made first contact; a later won/lost by another rep is
            # recorded in outcome_events.
            handler = owner if item.status in OPEN_STATUSES else item.lease_owner
            item = dataclasses.replace(item, status=outcome, lease_owner=handler,
                                       lease_expires_at=0.0, outcome_note=note, outcome_at=now)
            cur.execute("UPDATE queue_items SET status = ?, lease_owner = ?, lease_expires_at = 0,"
                        " outcome_note = ?, outcome_at = ? WHERE id = ?",
                        (outcome, handler, note, now, item_id))
            cur.execute("INSERT INTO outcome_events (item_id, outcome, owner, note, at)"
                        " VALUES (?, ?, ?, ?, ?)", (item_id, outcome, owner, note, now))
        return item

    def release_item(self, kind: str, item_id: str, owner: str,
                     now: float | None = None) -> QueueItem:
        """Give a leased item back to the queue (status new)."""
        now = now_or(now)
        with self._tx(write=True) as cur:
            item = self._load_item(cur, kind, item_id, lock=True)
            rules.check_release(item, owner, now)
            cur.execute("UPDATE queue_items SET status = ?, lease_owner = '', lease_expires_at = 0"
                        " WHERE id = ?", (STATUS_NEW, item_id))
        return dataclasses.replace(item, status=STATUS_NEW, lease_owner="", lease_expires_at=0.0)

    def list_items(self, kind: str, profile_ids: Sequence[str] = (), statuses: Sequence[str] = (),
                   languages: Sequence[str] = (), include_unmatched: bool = True,
                   since: float | None = None, limit: int = 50, offset: int = 0) -> list[QueueItem]:
        """Items by priority desc; `since` filters on detected_at."""
        where, params = _item_filter(kind, profile_ids, languages, include_unmatched, statuses,
                                     since)
        with self._tx() as cur:
            rows = cur.all(f"SELECT * FROM queue_items WHERE {where} ORDER BY {_ORDER}"
                           " LIMIT ? OFFSET ?", params + [limit, offset])
        return [self._item(r) for r in rows]

    def unpublished_items(self, kind: str, limit: int = 100) -> list[QueueItem]:
        """Oldest detections first, so a publisher drains them in order."""
        with self._tx() as cur:
            rows = cur.all("SELECT * FROM queue_items WHERE kind = ? AND published = ?"
                           " ORDER BY detected_at, id LIMIT ?", (kind, False, limit))
        return [self._item(r) for r in rows]

    def funnel(self, kind: str, profile_id: str | None = None, since: float | None = None,
               until: float | None = None) -> dict[str, int]:
        """Counts for the cohort of items detected in [since, until); profile_id None = all
        profiles, '' = unmatched leads. contacted counts items that ever reached contacted,
        won or lost, so won + lost <= contacted and contacted + not_a_lead <= leads."""
        stages = {"contacted": (STATUS_CONTACTED, STATUS_WON, STATUS_LOST), "won": (STATUS_WON,),
                  "lost": (STATUS_LOST,), "not_a_lead": (STATUS_NOT_A_LEAD,)}
        selects, params = ["COUNT(*) AS leads"], []
        for name, outcomes in stages.items():
            selects.append(
                "COALESCE(SUM(CASE WHEN EXISTS (SELECT 1 FROM outcome_events e"
                f" WHERE e.item_id = i.id AND e.outcome IN ({marks(outcomes)}))"
                f" THEN 1 ELSE 0 END), 0) AS {name}")
            params += outcomes
        clauses = ["i.kind = ?"]
        params.append(kind)
        for clause, value in (("i.profile_id = ?", profile_id), ("i.detected_at >= ?", since),
                              ("i.detected_at < ?", until)):
            if value is not None:
                clauses.append(clause)
                params.append(value)
        with self._tx() as cur:
            row = cur.one(f"SELECT {', '.join(selects)} FROM queue_items i"
                          f" WHERE {' AND '.join(clauses)}", params)
        return {k: int(row[k]) for k in ("leads", *stages)}

    def feedback_stats(self, kind: str) -> dict[str, dict[str, int]]:
        """Per profile: how many items reps acked and how many of those were not a lead."""
        with self._tx() as cur:
            rows = cur.all(
                "SELECT profile_id, COUNT(*) AS acked,"
                " COALESCE(SUM(CASE WHEN status = ? THEN 1 ELSE 0 END), 0) AS not_a_lead"
                f" FROM queue_items WHERE kind = ? AND status IN ({marks(OUTCOMES)})"
                " GROUP BY profile_id", (STATUS_NOT_A_LEAD, kind, *OUTCOMES))
        return {r["profile_id"]: {"acked": int(r["acked"]), "not_a_lead": int(r["not_a_lead"])}
                for r in rows}
