"""The Store facade and open_store()."""
from __future__ import annotations

from .audit import AuditEntry, AuditMixin
from .complaints import ComplaintsMixin
from .dialects import dialect_for_url
from .job_posts import JobPostsMixin
from .profiles import ProfilesMixin
from .publication import PublicationMixin
from .queue import QueueMixin
from .retention import RetentionMixin

__all__ = ["AuditEntry", "Store", "open_store"]


class Store(RetentionMixin, ProfilesMixin, QueueMixin, JobPostsMixin, ComplaintsMixin, PublicationMixin,
            AuditMixin):
    """Persistence for the match service, on SQLite or PostgreSQL.

    Thread-safe: every call runs in its own transaction on a pooled connection. Several Store
    instances (replicas) may share one database: writes that read-then-update run under
    BEGIN IMMEDIATE on SQLite and row locks (FOR UPDATE [SKIP LOCKED]) on PostgreSQL, and which of them
    publishes a record is claimed here too (publication.py).
    """


def open_store(url: str, pool_size: int | None = None) -> Store:
    """Open (and create or migrate) the store at `url`:
    `sqlite:///abs/path.db`, `sqlite://rel/path.db`, `sqlite://:memory:` or `postgresql://...`."""
    return Store(dialect_for_url(url), pool_size=pool_size)
