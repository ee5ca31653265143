"""Queue rules that need no database: merging duplicate posts and allowed status changes."""
from __future__ import annotations

import dataclasses

from .errors import InvalidTransition, LeaseConflict
from .models import (
    OUTCOMES,
    STATUS_CONTACTED,
    STATUS_LEASED,
    STATUS_LOST,
    STATUS_NEW,
    STATUS_WON,
    QueueItem,
)


def _unique(values: list[str], drop: str = "") -> list[str]:
    return [v for v in dict.fromkeys(values) if v and v != drop]


def merge(existing: QueueItem, new: QueueItem) -> QueueItem:
    """Fold a new post by the same author into an open item.

    The newest post is shown to the rep, because it is the freshest context to reply to; scores
    take the maximum so a merge never pushes an item below a lease filter it used to pass.
    """
    new_is_newer = new.post.created_at > existing.post.created_at
    newest, older = (new, existing) if new_is_newer else (existing, new)
    return dataclasses.replace(
        existing,
        post=newest.post,
        intent_probability=max(existing.intent_probability, new.intent_probability),
        match_score=max(existing.match_score, new.match_score),
        priority=max(existing.priority, new.priority),
        evidence=_unique(newest.evidence + older.evidence),
        related_post_ids=_unique(existing.related_post_ids + [older.post.post_id]
                                 + new.related_post_ids, drop=newest.post.post_id),
    )


def _require_live_lease_holder(item: QueueItem, owner: str, now: float) -> None:
    # A live lease belongs to its owner; an expired one protects nobody, since lease_items would
    # hand the item to the next caller anyway.
    if item.status == STATUS_LEASED and item.lease_expires_at > now and item.lease_owner != owner:
        raise LeaseConflict(f"item {item.id} is leased by {item.lease_owner!r} until "
                            f"{item.lease_expires_at:.0f}, not by {owner!r}")


def check_ack(item: QueueItem, owner: str, outcome: str, now: float) -> None:
    if outcome not in OUTCOMES:
        raise InvalidTransition(f"unknown outcome {outcome!r}; expected one of {OUTCOMES}")
    if item.status in (STATUS_NEW, STATUS_LEASED):
        _require_live_lease_holder(item, owner, now)
        return
    # Any rep may close a deal another rep started: the lease was only about first contact.
    if item.status == STATUS_CONTACTED and outcome in (STATUS_WON, STATUS_LOST):
        return
    raise InvalidTransition(f"item {item.id} is {item.status!r}; cannot become {outcome!r}")


def check_release(item: QueueItem, owner: str, now: float) -> None:
    if item.status != STATUS_LEASED:
        raise InvalidTransition(f"item {item.id} is {item.status!r}, not leased")
    _require_live_lease_holder(item, owner, now)
