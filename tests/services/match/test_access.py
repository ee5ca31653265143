"""Access control of MatchService on a real server (port 0, auth on) over a real SQLite store: roles per RPC,
owners from tokens, Subscribe filtered by role, the audit log, and Subscribe streams beside unary calls."""
from __future__ import annotations

import itertools
import time

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from intentflow import auth
from intentflow.nlp.linguistics import Linguistics
from intentflow.runtime import ServiceRuntime
from intentflow.settings import MatchSettings, ServerSettings
from intentflow.v1 import match_pb2, match_pb2_grpc, profiles_pb2, signals_pb2
from services.match.app import UNARY_WORKERS, add_match_service, grpc_workers
from services.match.application import MatchApplication
from services.match.servicer import ROLES
from services.match.store import PostRef, QueueItem, queue_item_id
from services.match.store.models import KIND_CANDIDATE, KIND_LEAD
from services.match.subscriptions import SubscriptionHub

HUMAN_ROLES = (auth.SALES, auth.RECRUITER, auth.HR_BRAND, auth.ADMIN)
_SEQ = itertools.count()


class Served:
    """A match service behind a real ServiceRuntime (auth on when tokens are made)."""

    def __init__(self, root, embedder, max_streams: int = 1000, with_auth: bool = True):
        self.tokens_file = root / "tokens.json"
        self.token_store = auth.TokenStore(self.tokens_file) if with_auth else None
        self.settings = MatchSettings(database_url=f"sqlite:///{root}/m.db", index_dir=str(root / "index"),
                                      reranker=False, max_streams=max_streams)
        server = ServerSettings(host="127.0.0.1", tokens_file=str(self.tokens_file) if with_auth else "",
                                rate_per_s=0.0, grace_seconds=1.0)
        self.runtime = ServiceRuntime("match-test", server, 0, 0, max_workers=grpc_workers(self.settings))
        self.servicer = add_match_service(self.runtime, self.settings)
        from services.match.store import open_store
        self.store = open_store(self.settings.database_url)
        self.app = MatchApplication(self.settings, self.store, embedder, Linguistics(), SubscriptionHub())
        self.app.load()
        self.servicer.app = self.app
        self.runtime.start()
        self.runtime.mark_serving()
        self.address = f"127.0.0.1:{self.runtime.grpc_port}"
        self._channels: list[grpc.Channel] = []

    def token(self, role: str, name: str = "") -> tuple[str, str]:
        """(token id, token) of a new token."""
        record, token = self.token_store.create(role, name or role)
        return record.id, token

    def stub(self, token: str = "") -> match_pb2_grpc.MatchServiceStub:
        channel = auth.channel(self.address, token=token)
        self._channels.append(channel)
        return match_pb2_grpc.MatchServiceStub(channel)

    def health(self) -> health_pb2_grpc.HealthStub:
        channel = grpc.insecure_channel(self.address)
        self._channels.append(channel)
        return health_pb2_grpc.HealthStub(channel)

    def seed(self, kind: str, owner: str = "") -> str:
        """A new queue item of `kind` (leased to `owner` when given); its id."""
        n = next(_SEQ)
        profile = f"profile-{n}"
        post = PostRef(post_id=f"vk:{n}", network="vk", author=f"a{n}", text="need a kayak", lang="en",
                       created_at=time.time())
        item_id = queue_item_id(kind, post.post_id, profile)
        self.store.add_queue_item(QueueItem(id=item_id, kind=kind, profile_id=profile, post=post, match_score=0.5))
        if owner:
            [leased] = self.store.lease_items(kind, owner, [profile], lease_seconds=600)
            assert leased.id == item_id
        return item_id

    def close(self) -> None:
        for channel in self._channels:
            channel.close()
        self.runtime.shutdown()
        self.store.close()


@pytest.fixture(scope="module")
def served(tmp_path_factory, embedder):
    s = Served(tmp_path_factory.mktemp("access"), embedder)
    s.tokens = {role: s.token(role) for role in auth.ROLES}
    s.stubs = {role: s.stub(token) for role, (_, token) in s.tokens.items()}
    s.anonymous = s.stub()
    yield s
    s.close()


# -- each role against each RPC ----------------------------------------------------------------------------
def _ack(kind):
    return lambda s, owner: match_pb2.AckRequest(id=s.seed(kind, owner), outcome=match_pb2.OUTCOME_CONTACTED)


def _release(kind):
    return lambda s, owner: match_pb2.ReleaseRequest(id=s.seed(kind, owner))


# method -> request for a caller whose token id is `owner` (for acks and releases, an item it has leased)
REQUESTS = {
    "UpsertProduct": lambda s, o: profiles_pb2.ProductProfile(id=f"p{next(_SEQ)}", name="Kayaks"),
    "DeleteProduct": lambda s, o: match_pb2.DeleteProfileRequest(id="nope"),
    "ListProducts": lambda s, o: match_pb2.ListProfilesRequest(),
    "UpsertVacancy": lambda s, o: profiles_pb2.VacancyProfile(id=f"v{next(_SEQ)}", title="Courier"),
    "DeleteVacancy": lambda s, o: match_pb2.DeleteProfileRequest(id="nope"),
    "ListVacancies": lambda s, o: match_pb2.ListProfilesRequest(),
    "UpsertEmployer": lambda s, o: profiles_pb2.EmployerProfile(id=f"e{next(_SEQ)}", names=["Acme"]),
    "DeleteEmployer": lambda s, o: match_pb2.DeleteProfileRequest(id="nope"),
    "ListEmployers": lambda s, o: match_pb2.ListProfilesRequest(),
    "PullLeads": lambda s, o: match_pb2.PullLeadsRequest(product_ids=["none"]),
    "AckLead": _ack(KIND_LEAD),
    "ReleaseLead": _release(KIND_LEAD),
    "ListLeads": lambda s, o: match_pb2.ListQueueRequest(),
    "GetFunnel": lambda s, o: match_pb2.GetFunnelRequest(),
    "PullCandidates": lambda s, o: match_pb2.PullCandidatesRequest(vacancy_ids=["none"]),
    "AckCandidate": _ack(KIND_CANDIDATE),
    "ReleaseCandidate": _release(KIND_CANDIDATE),
    "ListCandidates": lambda s, o: match_pb2.ListQueueRequest(),
    "SearchCandidates": lambda s, o: match_pb2.SearchCandidatesRequest(query="courier job"),
    "ListComplaints": lambda s, o: match_pb2.ListComplaintsRequest(),
    "Subscribe": lambda s, o: match_pb2.SubscribeRequest(),
}
# The intended table (README, Access control), written out independently of servicer.ROLES.
ALLOWED = {
    **{m: {auth.ADMIN} for m in ("UpsertProduct", "DeleteProduct", "UpsertVacancy", "DeleteVacancy",
                                 "UpsertEmployer", "DeleteEmployer")},
    **{m: set(HUMAN_ROLES) for m in ("ListProducts", "ListVacancies", "ListEmployers", "Subscribe")},
    **{m: {auth.SALES, auth.ADMIN} for m in ("PullLeads", "AckLead", "ReleaseLead", "ListLeads", "GetFunnel")},
    **{m: {auth.RECRUITER, auth.ADMIN} for m in ("PullCandidates", "AckCandidate", "ReleaseCandidate",
                                                 "ListCandidates", "SearchCandidates")},
    "ListComplaints": {auth.HR_BRAND, auth.ADMIN},
}


def test_the_tables_cover_every_rpc_of_the_service():
    methods = set(match_pb2.DESCRIPTOR.services_by_name["MatchService"].methods_by_name)
    assert set(REQUESTS) == set(ALLOWED) == set(ROLES) == methods
    assert {m: set(r) for m, r in ROLES.items()} == ALLOWED


def call_code(stub, method: str, request) -> grpc.StatusCode:
    """The status of one call; a Subscribe stream that was let in stays open until its deadline."""
    try:
        if method == "Subscribe":
            next(stub.Subscribe(request, timeout=1.5))
            return grpc.StatusCode.OK
        getattr(stub, method)(request, timeout=30)
        return grpc.StatusCode.OK
    except grpc.RpcError as error:
        if method == "Subscribe" and error.code() == grpc.StatusCode.DEADLINE_EXCEEDED:
            return grpc.StatusCode.OK  # accepted: open and waiting for events
        return error.code()


@pytest.mark.parametrize(("method", "role"), [(m, r) for m in sorted(REQUESTS) for r in (*auth.ROLES, None)])
def test_each_role_against_each_rpc(served, method, role):
    owner = served.tokens[role][0] if role else ""
    stub = served.stubs[role] if role else served.anonymous
    code = call_code(stub, method, REQUESTS[method](served, owner if role in ALLOWED[method] else ""))
    if role is None:
        assert code == grpc.StatusCode.UNAUTHENTICATED
    elif role in ALLOWED[method]:
        assert code == grpc.StatusCode.OK
    else:
        assert code == grpc.StatusCode.PERMISSION_DENIED


def test_a_revoked_or_forged_token_is_unauthenticated(served):
    token_id, token = served.token(auth.SALES, "leaving")
    stub = served.stub(token)
    stub.ListLeads(match_pb2.ListQueueRequest(), timeout=30)
    served.token_store.revoke(token_id)
    with pytest.raises(grpc.RpcError) as revoked:
        stub.ListLeads(match_pb2.ListQueueRequest(), timeout=30)
    assert revoked.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.RpcError) as forged:
        served.stub(f"ift_{served.tokens[auth.ADMIN][0]}_guessed").ListLeads(match_pb2.ListQueueRequest(), timeout=30)
    assert forged.value.code() == grpc.StatusCode.UNAUTHENTICATED


# -- owners come from tokens ---------------------------------------------------------------------------------
def test_a_rep_owns_its_leases_by_token_and_cannot_touch_another_reps(served):
    anna_id, anna_token = served.token(auth.SALES, "anna")
    boris_id, boris_token = served.token(auth.SALES, "boris")
    anna, boris = served.stub(anna_token), served.stub(boris_token)
    item_id = served.seed(KIND_LEAD)
    profile = served.store.get_item(item_id).profile_id

    # the owner field cannot name someone else
    with pytest.raises(grpc.RpcError) as impersonating:
        anna.PullLeads(match_pb2.PullLeadsRequest(owner="boris", product_ids=[profile]), timeout=30)
    assert impersonating.value.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "leases belong to the token" in impersonating.value.details()

    [lead] = anna.PullLeads(match_pb2.PullLeadsRequest(product_ids=[profile]), timeout=30).leads
    assert lead.lead_id == item_id and lead.lease_owner == anna_id

    # boris can neither ack nor release anna's lease, as himself or claiming to be her
    for call in (lambda r: boris.AckLead(match_pb2.AckRequest(outcome=match_pb2.OUTCOME_WON, **r), timeout=30),
                 lambda r: boris.ReleaseLead(match_pb2.ReleaseRequest(**r), timeout=30)):
        with pytest.raises(grpc.RpcError) as as_himself:
            call({"id": item_id})
        assert as_himself.value.code() == grpc.StatusCode.FAILED_PRECONDITION
        with pytest.raises(grpc.RpcError) as as_her:
            call({"id": item_id, "owner": anna_id})
        assert as_her.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # anna can, with the owner left empty or set to her own token id
    acked = anna.AckLead(match_pb2.AckRequest(id=item_id, owner=anna_id, outcome=match_pb2.OUTCOME_CONTACTED),
                         timeout=30)
    assert acked.status == signals_pb2.QUEUE_STATUS_CONTACTED and acked.lease_owner == anna_id

    # every call is in the audit log under the caller's token
    pulls = served.store.audit_entries(token_id=anna_id, method="PullLeads")
    assert [(e.role, e.count) for e in pulls] == [(auth.SALES, 1)]
    assert [(e.method, e.count) for e in served.store.audit_entries(token_id=anna_id, method="AckLead")] == [
        ("AckLead", 1)]
    assert not served.store.audit_entries(token_id=boris_id, method="AckLead"), "refused calls changed nothing"


def test_lease_seconds_and_limits_are_bounded(served):
    stub = served.stubs[auth.SALES]
    for request, message in (
            (match_pb2.PullLeadsRequest(lease_seconds=86401), "lease_seconds must be between 1 and 86400"),
            (match_pb2.PullLeadsRequest(lease_seconds=-5), "lease_seconds must be between 1 and 86400"),
            (match_pb2.PullLeadsRequest(limit=-1), "limit must not be negative"),
            (match_pb2.PullLeadsRequest(min_score=-0.5), "min_score must not be negative")):
        with pytest.raises(grpc.RpcError) as refused:
            stub.PullLeads(request, timeout=30)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert message in refused.value.details()
    stub.PullLeads(match_pb2.PullLeadsRequest(lease_seconds=86400, limit=100000), timeout=30)  # capped limit
    with pytest.raises(grpc.RpcError) as paging:
        stub.ListLeads(match_pb2.ListQueueRequest(page_size=-1), timeout=30)
    assert paging.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.RpcError) as token:
        stub.ListLeads(match_pb2.ListQueueRequest(page_token="-10"), timeout=30)
    assert token.value.code() == grpc.StatusCode.INVALID_ARGUMENT


# -- Subscribe filtered by role ------------------------------------------------------------------------------
def _events(n: int) -> list[tuple[str, match_pb2.SubscribeEvent]]:
    lead = match_pb2.SubscribeEvent(lead=signals_pb2.Lead(lead_id=f"lead-{n}"))
    candidate = match_pb2.SubscribeEvent(hr_signal=signals_pb2.HrSignal(
        candidate=signals_pb2.CandidateSignal(candidate_id=f"candidate-{n}")))
    complaint = match_pb2.SubscribeEvent(hr_signal=signals_pb2.HrSignal(
        complaint=signals_pb2.ComplaintSignal(complaint_id=f"complaint-{n}")))
    alert = match_pb2.SubscribeEvent(hr_signal=signals_pb2.HrSignal(
        alert=signals_pb2.ComplaintAlert(employer_id=f"alert-{n}")))
    return [(f"lead-{n}", lead), (f"candidate-{n}", candidate), (f"complaint-{n}", complaint),
            (f"alert-{n}", alert)]


def _name(event: match_pb2.SubscribeEvent) -> str:
    if event.HasField("lead"):
        return event.lead.lead_id
    signal = getattr(event.hr_signal, event.hr_signal.WhichOneof("signal"))
    return getattr(signal, {"candidate": "candidate_id", "complaint": "complaint_id", "alert": "employer_id"}[
        event.hr_signal.WhichOneof("signal")])


def _wait_for_subscriptions(served, n: int) -> None:
    """Until exactly `n` Subscribe streams are open on the server (bounded, so a bug fails instead of hanging)."""
    deadline = time.monotonic() + 60
    while len(served.app.hub) != n:
        assert time.monotonic() < deadline, f"{len(served.app.hub)} Subscribe streams open, waiting for {n}"
        time.sleep(0.05)


def test_subscribe_sends_each_role_only_its_kinds_of_event(served):
    expected = {auth.SALES: ["lead-1", "lead-2"], auth.RECRUITER: ["candidate-1", "candidate-2"],
                auth.HR_BRAND: ["complaint-1", "alert-1", "complaint-2", "alert-2"],
                auth.ADMIN: [name for n in (1, 2) for name, _ in _events(n)]}
    _wait_for_subscriptions(served, 0)  # streams of earlier tests have closed
    streams = {role: served.stubs[role].Subscribe(match_pb2.SubscribeRequest(), timeout=60) for role in expected}
    try:
        _wait_for_subscriptions(served, len(streams))
        for n in (1, 2):
            for _, event in _events(n):
                served.app.hub.publish(event, "", "")
        # events arrive in order, so anything let through by mistake would show among the first ones
        received = {role: [_name(next(stream)) for _ in expected[role]] for role, stream in streams.items()}
    finally:
        for stream in streams.values():
            stream.cancel()
    assert received == expected


# -- Subscribe streams beside unary calls --------------------------------------------------------------------
def test_idle_streams_leave_threads_for_unary_calls_and_health(tmp_path, embedder):
    cap = 500
    served = Served(tmp_path, embedder, max_streams=cap, with_auth=False)
    assert grpc_workers(served.settings) == cap + UNARY_WORKERS
    streams = []
    try:
        stub = served.stub()
        streams = [stub.Subscribe(match_pb2.SubscribeRequest(), timeout=300) for _ in range(cap)]
        _wait_for_subscriptions(served, cap)
        assert served.servicer.open_streams == cap

        # one more stream is refused at once; unary calls and health still have their threads
        with pytest.raises(grpc.RpcError) as refused:
            next(stub.Subscribe(match_pb2.SubscribeRequest(), timeout=30))
        assert refused.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
        assert "MATCH_MAX_STREAMS=500" in refused.value.details()
        health = served.health().Check(health_pb2.HealthCheckRequest(), timeout=5)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        assert stub.PullLeads(match_pb2.PullLeadsRequest(owner="rep"), timeout=5).leads == []
    finally:
        for stream in streams:
            stream.cancel()
        try:
            # closed streams give their slots back (bounded wait, so a leak fails instead of hanging)
            deadline = time.monotonic() + 60
            while served.servicer.open_streams:
                assert time.monotonic() < deadline, f"{served.servicer.open_streams} streams still hold a slot"
                time.sleep(0.05)
        finally:
            served.close()
    assert len(served.app.hub) == 0
