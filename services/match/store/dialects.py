"""Everything that differs between SQLite and PostgreSQL, kept in one place.

Queries elsewhere are written once, with '?' placeholders and the ON CONFLICT upsert syntax that
both engines understand (SQLite >= 3.35 for RETURNING); a dialect only fills in the gaps.
"""
from __future__ import annotations

import json
import os
import sqlite3
import time
from functools import lru_cache
from typing import Any


class Dialect:
    name: str
    json_type: str
    blob_type: str
    serial_pk: str  # auto-increment integer primary key whose values are never reused
    begin_write: str
    begin_read: str
    lock_rows: str  # appended to a SELECT that will be followed by an UPDATE of the same rows
    skip_locked: str  # like lock_rows, but concurrent callers skip each other's rows
    default_pool_size: int = 8

    def connect(self) -> Any:
        raise NotImplementedError

    def sql(self, query: str) -> str:
        return query

    def encode_json(self, value: Any) -> Any:
        return json.dumps(value, ensure_ascii=False)

    def decode_json(self, value: Any) -> Any:
        return json.loads(value) if isinstance(value, (str, bytes)) else value

    def lock_key_sql(self) -> str | None:
        """SQL taking one text parameter that serialises writers on that key, or None if the
        write transaction itself already excludes every other writer."""
        return None

    def is_reusable(self, conn: Any) -> bool:
        raise NotImplementedError


class SQLiteDialect(Dialect):
    name = "sqlite"
    json_type = "TEXT"
    blob_type = "BLOB"
    serial_pk = "INTEGER PRIMARY KEY AUTOINCREMENT"
    # IMMEDIATE takes the database write lock up front, so the read-then-update inside a write
    # transaction cannot interleave with another connection or process.
    begin_write = "BEGIN IMMEDIATE"
    begin_read = "BEGIN"
    lock_rows = ""
    skip_locked = ""
    busy_timeout_s = 30.0

    def __init__(self, path: str):
        self.path = path
        self.memory = path in ("", ":memory:")
        # A private in-memory database lives and dies with its one connection.
        self.default_pool_size = 1 if self.memory else 4

    def connect(self) -> sqlite3.Connection:
        # The pool hands a connection to one thread at a time, but not always the same thread.
        conn = sqlite3.connect(
            ":memory:" if self.memory else self.path,
            timeout=self.busy_timeout_s,
            isolation_level=None,  # we issue BEGIN/COMMIT ourselves
            check_same_thread=False,
        )
        conn.row_factory = sqlite3.Row
        if not self.memory:
            # WAL lets readers run while a writer commits, across processes too.
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        """WAL is a property of the file, set once; switching needs an exclusive lock and SQLite answers
        'locked' at once instead of waiting for the busy timeout, so concurrent openers retry."""
        deadline = time.monotonic() + self.busy_timeout_s
        while conn.execute("PRAGMA journal_mode").fetchone()[0].lower() != "wal":
            try:
                conn.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)

    def is_reusable(self, conn: sqlite3.Connection) -> bool:
        return not conn.in_transaction


class PostgresDialect(Dialect):
    name = "postgresql"
    json_type = "JSONB"
    blob_type = "BYTEA"
    serial_pk = "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY"
    begin_write = "BEGIN"
    begin_read = "BEGIN READ ONLY"
    lock_rows = " FOR UPDATE"
    skip_locked = " FOR UPDATE SKIP LOCKED"
    connect_timeout_s = 10

    def __init__(self, url: str):
        self.url = url

    def connect(self) -> Any:
        import psycopg
        from psycopg.conninfo import conninfo_to_dict
        from psycopg.rows import dict_row

        extra = {} if "connect_timeout" in conninfo_to_dict(self.url) else {
            "connect_timeout": self.connect_timeout_s}
        return psycopg.connect(self.url, autocommit=True, row_factory=dict_row, **extra)

    def sql(self, query: str) -> str:
        return _pyformat(query)

    def encode_json(self, value: Any) -> Any:
        from psycopg.types.json import Jsonb

        return Jsonb(value)

    def lock_key_sql(self) -> str:
        # Advisory locks are per database; mixing in the schema keeps stores in different
        # schemas (tenants, parallel tests) from blocking each other.
        return "SELECT pg_advisory_xact_lock(hashtext(current_schema() || ':' || ?))"

    def is_reusable(self, conn: Any) -> bool:
        from psycopg.pq import TransactionStatus

        return not conn.closed and conn.info.transaction_status == TransactionStatus.IDLE


@lru_cache(maxsize=512)
def _pyformat(query: str) -> str:
    return query.replace("%", "%%").replace("?", "%s")


def dialect_for_url(url: str) -> Dialect:
    """`sqlite://<path>` (so `sqlite:///abs/file.db`, `sqlite://rel.db`, `sqlite://:memory:`)
    or `postgresql://...` / `postgres://...` (any libpq URI, e.g. `?options=-csearch_path%3Dx`)."""
    if url.startswith("sqlite://"):
        path = url[len("sqlite://"):]
        if path not in ("", ":memory:"):
            parent = os.path.dirname(path)
            if parent:
                os.makedirs(parent, exist_ok=True)
        return SQLiteDialect(path)
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresDialect(url)
    raise ValueError(f"unsupported store url {url!r}: expected sqlite://... or postgresql://...")
