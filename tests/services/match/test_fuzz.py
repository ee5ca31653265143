"""Malformed calls to every MatchService RPC on a real server (port 0, auth on, SQLite store): each one is
answered with a proper status code, and the server is still SERVING and useful afterwards. The bounds the
fuzz made necessary (profile sizes, page tokens) are pinned below it."""
from __future__ import annotations

import grpc
import pytest
from grpc_health.v1 import health_pb2

from intentflow import auth
from intentflow.v1 import match_pb2, profiles_pb2
from services.match.servicer import ROLES
from tests.integration.helpers import fuzz_service, fuzz_tokens
from tests.services.match.test_access import Served

FUZZ_CALLS = 7000  # with the ingest fuzz (tests/services/ingest/test_faults.py): 10,000 malformed RPCs
SERVICE = match_pb2.DESCRIPTOR.services_by_name["MatchService"]


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    s = Served(tmp_path_factory.mktemp("fuzz"), embedder)
    s.tokens = {role: s.token(role)[1] for role in auth.ROLES}
    yield s
    s.close()


def test_7000_malformed_calls_each_get_a_proper_status_and_the_server_stays_up(served):
    report = fuzz_service(served.address, SERVICE, fuzz_tokens(served.tokens, ROLES), FUZZ_CALLS, seed=15)
    print(f"\nMatchService: {report.summary()}")
    assert not report.improper, "\n".join(report.improper[:20])

    health = served.health().Check(health_pb2.HealthCheckRequest(), timeout=10)
    assert health.status == health_pb2.HealthCheckResponse.SERVING
    admin = served.stub(served.tokens[auth.ADMIN])
    admin.UpsertProduct(profiles_pb2.ProductProfile(id="after-fuzz", name="Kayaks"), timeout=30)
    assert "after-fuzz" in {p.id for p in admin.ListProducts(match_pb2.ListProfilesRequest(), timeout=30).products}
    served.stub(served.tokens[auth.SALES]).PullLeads(match_pb2.PullLeadsRequest(limit=5), timeout=30)


@pytest.mark.parametrize(("profile", "message"), [
    (profiles_pb2.ProductProfile(id="p", name="Kayaks", keywords=["ж" * 201]), "an entry of keywords is 201"),
    (profiles_pb2.ProductProfile(id="p", name="Kayaks", keywords=["kayak"] * 501), "keywords has 501 entries"),
    (profiles_pb2.ProductProfile(id="p", name="Kayaks", description="a" * 5001), "description is 5001"),
    (profiles_pb2.ProductProfile(id="p", name="Kayaks", min_score=float("nan")), "min_score must be between 0"),
    (profiles_pb2.VacancyProfile(id="v", title="Ж" * 30000), "title is 30000"),
    (profiles_pb2.EmployerProfile(id="e" * 201, names=["Acme"]), "id is 201"),
])
def test_a_profile_over_its_bounds_is_invalid_argument(served, profile, message):
    upsert = getattr(served.stub(served.tokens[auth.ADMIN]), f"Upsert{type(profile).__name__.removesuffix('Profile')}")
    with pytest.raises(grpc.RpcError) as refused:
        upsert(profile, timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT and message in refused.value.details()


def test_a_page_token_past_any_page_is_invalid_argument(served):
    admin = served.stub(served.tokens[auth.ADMIN])
    with pytest.raises(grpc.RpcError) as refused:
        admin.ListCandidates(match_pb2.ListQueueRequest(page_token="9" * 40), timeout=30)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
