"""Connection handling and transactions shared by every part of the Store."""
from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator, Mapping, Sequence
from typing import Any

from . import schema
from .dialects import Dialect
from .errors import StoreError
from .pool import ConnectionPool

Row = Mapping[str, Any]


def now_or(now: float | None) -> float:
    return time.time() if now is None else float(now)


def marks(values: Sequence[Any]) -> str:
    """Placeholders for an IN (...) list; callers must not pass an empty sequence."""
    return ", ".join("?" * len(values))


def insert_sql(table: str, cols: Sequence[str], tail: str = "") -> str:
    return f"INSERT INTO {table} ({', '.join(cols)}) VALUES ({marks(cols)}){tail}"


class Cursor:
    """A DB-API cursor that takes '?' placeholders on both engines."""

    def __init__(self, raw: Any, dialect: Dialect):
        self._raw = raw
        self._dialect = dialect

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        return self._raw.execute(self._dialect.sql(sql), tuple(params))

    def one(self, sql: str, params: Sequence[Any] = ()) -> Row | None:
        return self.execute(sql, params).fetchone()

    def all(self, sql: str, params: Sequence[Any] = ()) -> list[Row]:
        return self.execute(sql, params).fetchall()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        row = self.execute(sql, params).fetchone()
        return None if row is None else next(iter(dict(row).values()))

    def lock_key(self, key: str) -> None:
        """Serialise writers on `key` until the transaction ends."""
        sql = self._dialect.lock_key_sql()
        if sql is not None:
            self.execute(sql, (key,))


class StoreBase:
    def __init__(self, dialect: Dialect, pool_size: int | None = None):
        self._dialect = dialect
        self._pool = ConnectionPool(dialect.connect, dialect.is_reusable,
                                    pool_size or dialect.default_pool_size)
        try:
            self._migrate()
        except BaseException:
            self._pool.close()
            raise

    @contextlib.contextmanager
    def _tx(self, write: bool = False) -> Iterator[Cursor]:
        """One transaction on a pooled connection. Never nest: a nested call would borrow a second
        connection, which deadlocks a size-1 pool and would not see the outer transaction's rows."""
        with self._pool.connection() as conn:
            raw = conn.cursor()
            raw.execute(self._dialect.begin_write if write else self._dialect.begin_read)
            try:
                yield Cursor(raw, self._dialect)
                raw.execute("COMMIT")
            except BaseException:
                # The connection may be gone; the pool then drops it instead of reusing it.
                with contextlib.suppress(Exception):
                    raw.execute("ROLLBACK")
                raise

    def _migrate(self) -> None:
        with self._tx(write=True) as cur:
            # Two replicas starting together must not both run the same CREATE statements.
            cur.lock_key("schema")
            cur.execute(schema.VERSION_TABLE)
            current = cur.scalar("SELECT MAX(version) FROM schema_version") or 0
            if current > schema.SCHEMA_VERSION:
                raise StoreError(f"database schema v{current} is newer than this code "
                                 f"(v{schema.SCHEMA_VERSION}); upgrade the service")
            for version in range(current + 1, schema.SCHEMA_VERSION + 1):
                for stmt in schema.statements(version, self._dialect):
                    cur.execute(stmt)
                cur.execute("INSERT INTO schema_version (version, applied_at) VALUES (?, ?)",
                            (version, time.time()))

    def schema_version(self) -> int:
        with self._tx() as cur:
            return int(cur.scalar("SELECT MAX(version) FROM schema_version") or 0)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
