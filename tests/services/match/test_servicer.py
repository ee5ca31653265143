"""MatchService through a real gRPC server on a free port, over a SQLite store: status codes and messages."""
from __future__ import annotations

import threading
from concurrent import futures

import grpc
import pytest

from intentflow.v1 import match_pb2, match_pb2_grpc, profiles_pb2, signals_pb2
from services.match import convert
from services.match.servicer import MatchServicer
from services.match.store import OUTCOMES, STATUSES, PostRef, QueueItem, queue_item_id
from services.match.store.models import KIND_LEAD
from tests.services.match.conftest import new_app


@pytest.fixture
def served(tmp_path, embedder):
    """(servicer, stub) for a MatchServicer with a loaded application behind a real server."""
    app = new_app(tmp_path, embedder)
    app.load()
    running = threading.Event()
    running.set()
    servicer = MatchServicer(running)
    servicer.app = app
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=4))
    match_pb2_grpc.add_MatchServiceServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        yield servicer, match_pb2_grpc.MatchServiceStub(channel)
    running.clear()
    server.stop(None)
    app.store.close()


def rpc_error(call, request) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as raised:
        call(request, timeout=10)
    return raised.value


def test_a_store_error_reaches_the_client_with_its_code_and_message(served):
    servicer, stub = served
    servicer.app.store.close()  # every store call now raises a plain StoreError
    error = rpc_error(stub.ListProducts, match_pb2.ListProfilesRequest())
    assert error.code() == grpc.StatusCode.FAILED_PRECONDITION
    assert error.details() == "store is closed"


def test_an_unexpected_error_is_internal_with_a_clear_message(served, monkeypatch):
    servicer, stub = served

    def broken():
        raise RuntimeError("index exploded")
    monkeypatch.setattr(servicer.app, "list_vacancies", broken)
    error = rpc_error(stub.ListVacancies, match_pb2.ListProfilesRequest())
    assert error.code() == grpc.StatusCode.INTERNAL
    assert error.details() == "internal error: RuntimeError: index exploded"


def test_bad_input_and_missing_items_get_their_own_codes(served):
    _, stub = served
    nameless = rpc_error(stub.UpsertProduct, profiles_pb2.ProductProfile(id="p1"))
    assert (nameless.code(), nameless.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "name is required")
    no_outcome = rpc_error(stub.AckLead, match_pb2.AckRequest(id="lead_x", owner="rep"))
    assert no_outcome.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert no_outcome.details() == "outcome must be one of CONTACTED, WON, LOST, NOT_A_LEAD, WRONG_PROFILE"
    missing = rpc_error(stub.AckLead, match_pb2.AckRequest(id="lead_x", owner="rep",
                                                           outcome=match_pb2.OUTCOME_WON))
    assert missing.code() == grpc.StatusCode.NOT_FOUND
    unknown_vacancy = rpc_error(stub.SearchCandidates, match_pb2.SearchCandidatesRequest(vacancy_id="nope"))
    assert unknown_vacancy.code() == grpc.StatusCode.NOT_FOUND


def test_a_service_still_loading_answers_unavailable(served):
    servicer, stub = served
    servicer.app = None
    error = rpc_error(stub.ListProducts, match_pb2.ListProfilesRequest())
    assert error.code() == grpc.StatusCode.UNAVAILABLE


def test_a_lead_is_pulled_acked_and_counted_over_grpc(served):
    servicer, stub = served
    stub.UpsertProduct(profiles_pb2.ProductProfile(id="laptops", name="Laptops"), timeout=30)
    assert [p.id for p in stub.ListProducts(match_pb2.ListProfilesRequest()).products] == ["laptops"]
    post = PostRef(post_id="vk:1", network="vk", author="a", text="need a laptop", lang="en", created_at=1.0)
    servicer.app.store.add_queue_item(QueueItem(id=queue_item_id(KIND_LEAD, post.post_id, "laptops"), kind=KIND_LEAD,
                                                profile_id="laptops", post=post, match_score=0.5))
    [lead] = stub.PullLeads(match_pb2.PullLeadsRequest(owner="rep", product_ids=["laptops"])).leads
    assert lead.status == signals_pb2.QUEUE_STATUS_LEASED and lead.lease_owner == "rep"
    acked = stub.AckLead(match_pb2.AckRequest(id=lead.lead_id, owner="rep", outcome=match_pb2.OUTCOME_CONTACTED))
    assert acked.status == signals_pb2.QUEUE_STATUS_CONTACTED
    funnel = stub.GetFunnel(match_pb2.GetFunnelRequest(product_id="laptops"))
    assert (funnel.leads, funnel.contacted, funnel.rep_precision) == (1, 1, 1.0)


def test_every_store_status_and_outcome_has_a_wire_value():
    assert set(convert.STATUS_TO_PROTO) == set(STATUSES)
    assert sorted(convert.OUTCOME_FROM_PROTO.values()) == sorted(OUTCOMES)
    assert convert.OUTCOME_TO_PROTO["not_a_lead"] == match_pb2.OUTCOME_NOT_A_LEAD


def test_with_auth_off_the_request_names_the_owner_and_calls_are_audited_anonymously(served):
    servicer, stub = served
    post = PostRef(post_id="vk:2", network="vk", author="b", text="need a tent", lang="en", created_at=1.0)
    servicer.app.store.add_queue_item(QueueItem(id=queue_item_id(KIND_LEAD, post.post_id, "tents"), kind=KIND_LEAD,
                                                profile_id="tents", post=post, match_score=0.5))
    [lead] = stub.PullLeads(match_pb2.PullLeadsRequest(owner="olga", product_ids=["tents"]), timeout=30).leads
    assert lead.lease_owner == "olga"
    no_owner = rpc_error(stub.ReleaseLead, match_pb2.ReleaseRequest(id=lead.lead_id))
    assert (no_owner.code(), no_owner.details()) == (grpc.StatusCode.INVALID_ARGUMENT, "owner is required")
    [pulled] = servicer.app.store.audit_entries(method="PullLeads")
    assert (pulled.token_id, pulled.role, pulled.count) == ("", "", 1)
