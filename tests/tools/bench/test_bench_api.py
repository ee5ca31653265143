"""The API part of the benchmark (tools/bench/api.py) against a real MatchService with auth on: its clients
send the configured token, and without one they report the refusals instead of hanging."""
from __future__ import annotations

import io
import json
from types import SimpleNamespace

import pytest

from intentflow import auth
from intentflow.embedding import load_embedder
from services.match.store import Vacancy
from services.match.store.models import KIND_LEAD
from tests.services.match.test_access import Served
from tools.bench import api
from tools.bench.progress import Progress
from tools.stack import LocalStack


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    running = Served(tmp_path_factory.mktemp("bench-api"), load_embedder("use-multilingual", 1))
    running.app.upsert_vacancy(Vacancy("courier", "Courier", description="deliveries by bike"))
    yield running
    running.close()
    running.runtime.shutdown()


def bench_api(served: Served, token: str, tmp_path) -> dict:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"vacancies": [{"id": "courier"}]}))
    stack = SimpleNamespace(client_token=token,
                            channel=lambda service, token="": auth.channel(served.address, token=token))
    return api.run(stack, ["ищу работу курьером"], str(catalog), calls=3, progress=Progress(io.StringIO()))


def test_the_clients_send_the_configured_token(served, tmp_path):
    token_id, token = served.token(auth.ADMIN, "bench")
    for _ in range(60):  # the warm-up pulls lease the first 40
        served.seed(KIND_LEAD)
    results = bench_api(served, token, tmp_path)
    assert results["PullLeads"]["errors"] == 0 and results["SearchCandidates"]["errors"] == 0
    assert results["PullLeads"]["mean_items"] > 0
    calls = served.store.audit_entries(token_id=token_id)
    assert {e.method for e in calls} >= {"PullLeads", "SearchCandidates"}


def test_without_a_token_the_refusals_are_counted(served, tmp_path):
    results = bench_api(served, "", tmp_path)
    pulls = results["PullLeads"]
    assert pulls["errors"] == api.CLIENTS * 4 and "UNAUTHENTICATED" in pulls["first_error"], "warm-up and 3 calls each"


def test_a_stack_finds_the_client_token_as_the_cli_does(tmp_path, monkeypatch):
    for name in ("INTENTFLOW_TOKEN", "INTENTFLOW_TOKEN_FILE"):
        monkeypatch.delenv(name, raising=False)
    assert LocalStack(tmp_path).client_token == ""
    (tmp_path / "admin.token").write_text("ift_abc_secret\n")
    assert LocalStack(tmp_path, env={"INTENTFLOW_TOKEN_FILE": str(tmp_path / "admin.token")}).client_token \
        == "ift_abc_secret"
    assert LocalStack(tmp_path, env={"INTENTFLOW_TOKEN": "ift_x_y"}).client_token == "ift_x_y"
