"""Table definitions, versioned so later releases can migrate an existing database in place."""
from __future__ import annotations

from .dialects import Dialect

# Written once for both engines; {json}, {blob} and {serial} come from the dialect, and DOUBLE
# PRECISION because PostgreSQL's REAL is only float4 (SQLite maps both to REAL affinity).
_POST = """
    post_id TEXT NOT NULL,
    post_network TEXT NOT NULL DEFAULT '',
    post_author TEXT NOT NULL DEFAULT '',
    post_url TEXT NOT NULL DEFAULT '',
    post_text TEXT NOT NULL DEFAULT '',
    post_lang TEXT NOT NULL DEFAULT '',
    post_created_at DOUBLE PRECISION NOT NULL DEFAULT 0,
    post_parent_id TEXT NOT NULL DEFAULT ''"""

_V1 = [
    """CREATE TABLE IF NOT EXISTS products (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        keywords {json} NOT NULL,
        excluded_keywords {json} NOT NULL,
        languages {json} NOT NULL,
        min_score DOUBLE PRECISION NOT NULL DEFAULT 0,
        owner_team TEXT NOT NULL DEFAULT '',
        updated_at DOUBLE PRECISION NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS vacancies (
        id TEXT PRIMARY KEY,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        keywords {json} NOT NULL,
        location TEXT NOT NULL DEFAULT '',
        updated_at DOUBLE PRECISION NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS employers (
        id TEXT PRIMARY KEY,
        names {json} NOT NULL,
        updated_at DOUBLE PRECISION NOT NULL DEFAULT 0)""",
    """CREATE TABLE IF NOT EXISTS queue_items (
        id TEXT PRIMARY KEY,
        kind TEXT NOT NULL,
        profile_id TEXT NOT NULL DEFAULT '',{post},
        intent_probability DOUBLE PRECISION NOT NULL DEFAULT 0,
        match_score DOUBLE PRECISION NOT NULL DEFAULT 0,
        priority DOUBLE PRECISION NOT NULL DEFAULT 0,
        evidence {json} NOT NULL,
        status TEXT NOT NULL,
        lease_owner TEXT NOT NULL DEFAULT '',
        lease_expires_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        outcome_note TEXT NOT NULL DEFAULT '',
        outcome_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        related_post_ids {json} NOT NULL,
        detected_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        published BOOLEAN NOT NULL DEFAULT FALSE)""",
    "CREATE INDEX IF NOT EXISTS queue_items_lease ON queue_items (kind, status, priority)",
    "CREATE INDEX IF NOT EXISTS queue_items_author ON queue_items (kind, profile_id, post_author)",
    "CREATE INDEX IF NOT EXISTS queue_items_detected ON queue_items (kind, detected_at)",
    "CREATE INDEX IF NOT EXISTS queue_items_published ON queue_items (kind, published)",
    # Every post that produced or was merged into an item: makes re-adding a post idempotent.
    """CREATE TABLE IF NOT EXISTS item_posts (
        kind TEXT NOT NULL,
        post_id TEXT NOT NULL,
        profile_id TEXT NOT NULL,
        item_id TEXT NOT NULL,
        PRIMARY KEY (kind, post_id, profile_id))""",
    """CREATE TABLE IF NOT EXISTS outcome_events (
        id {serial},
        item_id TEXT NOT NULL,
        outcome TEXT NOT NULL,
        owner TEXT NOT NULL DEFAULT '',
        note TEXT NOT NULL DEFAULT '',
        at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS outcome_events_item ON outcome_events (item_id)",
    """CREATE TABLE IF NOT EXISTS job_posts (
        id {serial},{post},
        probability DOUBLE PRECISION NOT NULL DEFAULT 0,
        embedding {blob} NOT NULL,
        UNIQUE (post_id))""",
    "CREATE INDEX IF NOT EXISTS job_posts_created ON job_posts (post_created_at)",
    """CREATE TABLE IF NOT EXISTS complaints (
        id TEXT PRIMARY KEY,
        employer_id TEXT NOT NULL DEFAULT '',{post},
        probability DOUBLE PRECISION NOT NULL DEFAULT 0,
        evidence {json} NOT NULL,
        detected_at DOUBLE PRECISION NOT NULL DEFAULT 0,
        UNIQUE (post_id, employer_id))""",
    "CREATE INDEX IF NOT EXISTS complaints_employer ON complaints (employer_id, detected_at)",
]

# v2: a complaint is marked published once its signal is acked on signals.hr, so a crash between the
# insert and the ack re-publishes it on redelivery instead of losing the signal.
_V2 = ["ALTER TABLE complaints ADD COLUMN published BOOLEAN NOT NULL DEFAULT FALSE"]

# v3: example posts per product and vacancy (pasted by the user or learned from acked outcomes), which
# matching uses as extra views (examples) or vetoes (negative_examples).
_V3 = [f"ALTER TABLE {table} ADD COLUMN {column} {{json}} NOT NULL DEFAULT '[]'"
       for table in ("products", "vacancies") for column in ("examples", "negative_examples")]

# v4: who read or changed what over the API: one row per call (token id and role of the caller, the method,
# how many items it returned or changed).
_V4 = [
    """CREATE TABLE IF NOT EXISTS audit_log (
        id {serial},
        token_id TEXT NOT NULL DEFAULT '',
        role TEXT NOT NULL DEFAULT '',
        method TEXT NOT NULL,
        count INTEGER NOT NULL DEFAULT 0,
        at DOUBLE PRECISION NOT NULL)""",
    "CREATE INDEX IF NOT EXISTS audit_log_at ON audit_log (at)",
    "CREATE INDEX IF NOT EXISTS audit_log_token ON audit_log (token_id, at)",
]

# v5: when each employer's last complaint alert went out, so a restart does not send it again.
_V5 = ["""CREATE TABLE IF NOT EXISTS complaint_alerts (
        employer_id TEXT PRIMARY KEY,
        last_alert_at DOUBLE PRECISION NOT NULL)"""]

# v6: which match process is publishing a lead, candidate or complaint and until when, so that several match
# processes sharing the store never publish one record twice (store/publication.py).
_V6 = [f"ALTER TABLE {table} ADD COLUMN {column}" for table in ("queue_items", "complaints")
       for column in ("publish_claim TEXT NOT NULL DEFAULT ''",
                      "publish_claim_until DOUBLE PRECISION NOT NULL DEFAULT 0")]

# v7: retention and erasure (store/retention.py). Purges find old rows by the post's time and erasures one
# author's rows, on every table that holds posts; an erasure's audit row names its subject by a hash only.
_V7 = ["ALTER TABLE audit_log ADD COLUMN subject TEXT NOT NULL DEFAULT ''",
       "CREATE INDEX IF NOT EXISTS queue_items_post_created ON queue_items (post_created_at)",
       "CREATE INDEX IF NOT EXISTS complaints_post_created ON complaints (post_created_at)"] + [
    f"CREATE INDEX IF NOT EXISTS {table}_post_author ON {table} (post_author, post_network)"
    for table in ("queue_items", "complaints", "job_posts")]

MIGRATIONS: dict[int, list[str]] = {1: _V1, 2: _V2, 3: _V3, 4: _V4, 5: _V5, 6: _V6, 7: _V7}
SCHEMA_VERSION = max(MIGRATIONS)


def statements(version: int, dialect: Dialect) -> list[str]:
    return [s.format(json=dialect.json_type, blob=dialect.blob_type, serial=dialect.serial_pk,
                     post=_POST) for s in MIGRATIONS[version]]


VERSION_TABLE = """CREATE TABLE IF NOT EXISTS schema_version (
    version INTEGER PRIMARY KEY,
    applied_at DOUBLE PRECISION NOT NULL)"""
