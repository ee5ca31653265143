"""The local stack's layout, without starting it: replicas, their ports, and the store several match processes
need."""
from __future__ import annotations

import pytest

from tools.stack import LocalStack, require_shared_store

PG = "postgresql://postgres@127.0.0.1:5432/test"


def test_replicas_get_their_own_ports_and_join_their_services_group(tmp_path):
    stack = LocalStack(tmp_path, env={"INTENTFLOW_DATABASE_URL": PG}, classify_replicas=2, match_replicas=3)
    assert stack.replicas("classify") == ["classify", "classify-2"]
    assert stack.replicas("match") == ["match", "match-2", "match-3"]
    assert len({port for ports in stack.ports.values() for port in ports}) == 2 * len(stack.ports)


@pytest.mark.parametrize("url", ["sqlite:///var/intentflow.db", ""])
def test_several_match_processes_refuse_a_store_they_cannot_share(tmp_path, monkeypatch, url):
    monkeypatch.delenv("INTENTFLOW_DATABASE_URL", raising=False)  # "": the stack's own SQLite default
    with pytest.raises(ValueError, match="INTENTFLOW_DATABASE_URL=postgresql://"):
        LocalStack(tmp_path, env={"INTENTFLOW_DATABASE_URL": url} if url else {}, match_replicas=2)
    require_shared_store(1, url)  # one match process is fine on SQLite
    require_shared_store(2, PG)
