"""Runs every store test on SQLite and on PostgreSQL (a fresh schema per test).

PostgreSQL comes from INTENTFLOW_TEST_PG_URL; if it is unreachable the PG tests fail, because a
silently skipped backend is how dialect bugs reach production. INTENTFLOW_SKIP_PG=1 opts out.
"""
from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator

import pytest

from services.match.store import Store, open_store
from tools.pgschema import with_search_path

PG_URL = os.environ.get("INTENTFLOW_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/test")
SKIP_PG = os.environ.get("INTENTFLOW_SKIP_PG") == "1"


def _admin_connection():
    import psycopg

    try:
        return psycopg.connect(PG_URL, autocommit=True, connect_timeout=5)
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL unreachable at {PG_URL} ({exc}); "
                    "set INTENTFLOW_SKIP_PG=1 to run the SQLite tests only", pytrace=False)


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path) -> Iterator[str]:
    if request.param == "sqlite":
        yield f"sqlite://{tmp_path}/store.db"
        return
    if SKIP_PG:
        pytest.skip("INTENTFLOW_SKIP_PG=1")
    from psycopg import sql

    schema = f"test_store_{uuid.uuid4().hex[:12]}"
    with _admin_connection() as admin:
        admin.execute(sql.SQL("CREATE SCHEMA {}").format(sql.Identifier(schema)))
    try:
        yield with_search_path(PG_URL, schema)
    finally:
        with _admin_connection() as admin:
            admin.execute(sql.SQL("DROP SCHEMA {} CASCADE").format(sql.Identifier(schema)))


@pytest.fixture
def open_instance(store_url) -> Iterator[Callable[[], Store]]:
    """Opens independent Store instances on the test database, like separate replicas would."""
    opened: list[Store] = []

    def factory() -> Store:
        opened.append(open_store(store_url))
        return opened[-1]

    yield factory
    for s in opened:
        s.close()


@pytest.fixture
def store(open_instance) -> Store:
    return open_instance()
