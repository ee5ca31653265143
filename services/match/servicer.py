"""MatchService over gRPC: protobuf in, a MatchApplication call, protobuf out; errors become status codes.

Access control: ROLES says which roles may call each method (the runtime's auth interceptor enforces it
when auth is on). The caller's identity comes from its token, never from the request: with auth on, the
owner of pulls, acks and releases is the token id (a request naming another owner is PERMISSION_DENIED),
and a Subscribe stream carries only the event kinds of the caller's role. Every read or change of queue
items, complaints and profiles is written to the store's audit log (token id, role, method, count).
Subscribe streams are capped (max_streams), so they cannot take the threads unary calls and health need.
"""
from __future__ import annotations

import functools
import logging
import queue
import threading

import grpc

from intentflow import auth, topology
from intentflow.metrics import RPCS
from intentflow.v1 import match_pb2, match_pb2_grpc
from services.match import convert
from services.match.application import InvalidRequest, MatchApplication
from services.match.store import InvalidTransition, LeaseConflict, NotFound, StoreError
from services.match.store.models import KIND_CANDIDATE, KIND_LEAD
from services.match.subscriptions import KINDS_BY_ROLE

SERVICE = topology.MATCH
log = logging.getLogger(__name__)
LOADING = "match service is still loading its indexes"
DEFAULT_MAX_STREAMS = 1000

_READ_PROFILES = {auth.SALES, auth.RECRUITER, auth.HR_BRAND, auth.ADMIN}
_LEADS = ("PullLeads", "AckLead", "ReleaseLead", "ListLeads", "GetFunnel")
_CANDIDATES = ("PullCandidates", "AckCandidate", "ReleaseCandidate", "ListCandidates", "SearchCandidates")
# Who may call what when auth is on (a method missing here would be admin-only).
ROLES: dict[str, frozenset[str]] = {
    **{m: frozenset({auth.ADMIN}) for m in ("UpsertProduct", "DeleteProduct", "UpsertVacancy", "DeleteVacancy",
                                            "UpsertEmployer", "DeleteEmployer")},
    **{m: frozenset(_READ_PROFILES) for m in ("ListProducts", "ListVacancies", "ListEmployers")},
    **{m: frozenset({auth.SALES, auth.ADMIN}) for m in _LEADS},
    **{m: frozenset({auth.RECRUITER, auth.ADMIN}) for m in _CANDIDATES},
    "ListComplaints": frozenset({auth.HR_BRAND, auth.ADMIN}),
    # Open to every human role, filtered by role (subscriptions.KINDS_BY_ROLE).
    "Subscribe": frozenset(_READ_PROFILES),
}

# Items each call returned or changed, for the audit log.
AUDIT_COUNT = {
    **{m: (lambda r: 1) for m in ("UpsertProduct", "UpsertVacancy", "UpsertEmployer", "AckLead", "AckCandidate",
                                  "ReleaseLead", "ReleaseCandidate")},
    **{m: (lambda r: int(r.deleted)) for m in ("DeleteProduct", "DeleteVacancy", "DeleteEmployer")},
    "ListProducts": lambda r: len(r.products),
    "ListVacancies": lambda r: len(r.vacancies),
    "ListEmployers": lambda r: len(r.employers),
    "PullLeads": lambda r: len(r.leads),
    "ListLeads": lambda r: len(r.leads),
    "PullCandidates": lambda r: len(r.candidates),
    "ListCandidates": lambda r: len(r.candidates),
    "GetFunnel": lambda r: r.leads,
    "SearchCandidates": lambda r: len(r.hits),
    "ListComplaints": lambda r: len(r.complaints),
}


class PermissionDenied(Exception):
    """The caller's token does not allow this request (e.g. acting as another owner)."""


# The first class the error is an instance of decides, so subclasses come before their bases.
ERRORS = (
    (PermissionDenied, grpc.StatusCode.PERMISSION_DENIED),
    (InvalidRequest, grpc.StatusCode.INVALID_ARGUMENT),
    (NotFound, grpc.StatusCode.NOT_FOUND),
    (LeaseConflict, grpc.StatusCode.FAILED_PRECONDITION),
    (InvalidTransition, grpc.StatusCode.FAILED_PRECONDITION),
    # Any other deliberate refusal of the store, e.g. it is closed while the service shuts down.
    (StoreError, grpc.StatusCode.FAILED_PRECONDITION),
    (ValueError, grpc.StatusCode.INVALID_ARGUMENT),
)


def status_for(exc: Exception) -> tuple[grpc.StatusCode, str]:
    """Every error gets a code and a message; one not in ERRORS is a bug, reported as INTERNAL."""
    for cls, code in ERRORS:
        if isinstance(exc, cls):
            return code, str(exc) or type(exc).__name__
    return grpc.StatusCode.INTERNAL, f"internal error: {type(exc).__name__}: {exc}"


def rpc(method):
    """Count calls and answer errors with a status code and a clear message (never UNKNOWN)."""
    @functools.wraps(method)
    def wrapper(self, request, context):
        if self.app is None:
            RPCS.labels(SERVICE, method.__name__, "UNAVAILABLE").inc()
            context.abort(grpc.StatusCode.UNAVAILABLE, LOADING)
        try:
            response = method(self, request, context)
        except Exception as exc:
            code, message = status_for(exc)
            if code is grpc.StatusCode.INTERNAL:
                log.exception("%s failed", method.__name__)
        else:
            RPCS.labels(SERVICE, method.__name__, "OK").inc()
            count = AUDIT_COUNT.get(method.__name__)
            if count is not None:
                self.audit(method.__name__, count(response))
            return response
        RPCS.labels(SERVICE, method.__name__, code.name).inc()
        context.abort(code, message)
    return wrapper


def caller() -> tuple[str, str]:
    """(token id, role) of the caller; ("", "") with auth off."""
    identity = auth.current_identity()
    return (identity.token_id, identity.role) if identity else ("", "")


def owner_for(requested: str) -> str:
    """The owner of a pull, ack or release: the caller's token id with auth on (a request naming someone
    else is refused), the request's owner with auth off."""
    identity = auth.current_identity()
    if identity is None:
        return requested
    if requested and requested != identity.token_id:
        raise PermissionDenied(f"owner {requested!r} is not the caller: leases belong to the token that pulls "
                               f"them (leave owner empty or set it to {identity.token_id!r})")
    return identity.token_id


class MatchServicer(match_pb2_grpc.MatchServiceServicer):
    def __init__(self, running: threading.Event, max_streams: int = DEFAULT_MAX_STREAMS):
        self.app: MatchApplication | None = None  # set once profiles and indexes are loaded
        self.running = running
        self.max_streams = max_streams
        self._streams = 0
        self._streams_lock = threading.Lock()

    @property
    def open_streams(self) -> int:
        return self._streams

    def audit(self, method: str, count: int) -> None:
        """One audit row; a failure to write it is logged, not turned into a failed call (the change, if
        any, is already made)."""
        token_id, role = caller()
        try:
            self.app.store.record_audit(token_id, role, method, count)
        except StoreError as exc:  # e.g. closed while the service stops
            log.warning("audit entry not written: %s", exc, extra={"method": method, "token_id": token_id})
        except Exception:
            log.exception("cannot write the audit log", extra={"method": method, "token_id": token_id})

    # ---- profiles ----
    @rpc
    def UpsertProduct(self, request, context):
        return convert.product_to_proto(self.app.upsert_product(convert.product_from_proto(request)))

    @rpc
    def DeleteProduct(self, request, context):
        return match_pb2.DeleteProfileResponse(deleted=self.app.delete_product(request.id))

    @rpc
    def ListProducts(self, request, context):
        return match_pb2.ListProductsResponse(
            products=[convert.product_to_proto(p) for p in self.app.list_products()])

    @rpc
    def UpsertVacancy(self, request, context):
        return convert.vacancy_to_proto(self.app.upsert_vacancy(convert.vacancy_from_proto(request)))

    @rpc
    def DeleteVacancy(self, request, context):
        return match_pb2.DeleteProfileResponse(deleted=self.app.delete_vacancy(request.id))

    @rpc
    def ListVacancies(self, request, context):
        return match_pb2.ListVacanciesResponse(
            vacancies=[convert.vacancy_to_proto(v) for v in self.app.list_vacancies()])

    @rpc
    def UpsertEmployer(self, request, context):
        return convert.employer_to_proto(self.app.upsert_employer(convert.employer_from_proto(request)))

    @rpc
    def DeleteEmployer(self, request, context):
        return match_pb2.DeleteProfileResponse(deleted=self.app.delete_employer(request.id))

    @rpc
    def ListEmployers(self, request, context):
        return match_pb2.ListEmployersResponse(
            employers=[convert.employer_to_proto(e) for e in self.app.list_employers()])

    # ---- queues (leads and candidates share the semantics) ----
    @rpc
    def PullLeads(self, request, context):
        leads = self.app.pull(KIND_LEAD, owner_for(request.owner), request.product_ids, request.min_score,
                              request.languages, request.limit, request.lease_seconds, request.include_unmatched)
        return match_pb2.PullLeadsResponse(leads=[convert.queue_message(i) for i in leads])

    @rpc
    def PullCandidates(self, request, context):
        candidates = self.app.pull(KIND_CANDIDATE, owner_for(request.owner), request.vacancy_ids, request.min_score,
                                   request.languages, request.limit, request.lease_seconds)
        return match_pb2.PullCandidatesResponse(candidates=[convert.queue_message(i) for i in candidates])

    @rpc
    def AckLead(self, request, context):
        return self._ack(KIND_LEAD, request)

    @rpc
    def AckCandidate(self, request, context):
        return self._ack(KIND_CANDIDATE, request)

    def _ack(self, kind: str, request):
        outcome = convert.OUTCOME_FROM_PROTO.get(request.outcome, "")
        return convert.queue_message(self.app.ack(kind, request.id, owner_for(request.owner), outcome, request.note,
                                                  request.right_profile_id))

    @rpc
    def ReleaseLead(self, request, context):
        return convert.queue_message(self.app.release(KIND_LEAD, request.id, owner_for(request.owner)))

    @rpc
    def ReleaseCandidate(self, request, context):
        return convert.queue_message(self.app.release(KIND_CANDIDATE, request.id, owner_for(request.owner)))

    @rpc
    def ListLeads(self, request, context):
        leads, token = self._list(KIND_LEAD, request)
        return match_pb2.ListLeadsResponse(leads=leads, next_page_token=token)

    @rpc
    def ListCandidates(self, request, context):
        candidates, token = self._list(KIND_CANDIDATE, request)
        return match_pb2.ListCandidatesResponse(candidates=candidates, next_page_token=token)

    def _list(self, kind: str, request):
        statuses = [convert.STATUS_FROM_PROTO[s] for s in request.statuses if s in convert.STATUS_FROM_PROTO]
        items, token = self.app.list_items(kind, request.profile_ids, statuses, request.languages,
                                           request.include_unmatched, request.page_size, request.page_token)
        return [convert.queue_message(i) for i in items], token

    @rpc
    def GetFunnel(self, request, context):
        funnel = self.app.funnel(request.product_id, convert.optional_seconds(request, "since"),
                                 convert.optional_seconds(request, "until"))
        return convert.funnel_message(request.product_id, funnel)

    # ---- recruiter search and complaints ----
    @rpc
    def SearchCandidates(self, request, context):
        hits = self.app.search_candidates(request.query, request.vacancy_id, request.top_k, request.languages,
                                          convert.optional_seconds(request, "since"), request.location_words)
        return match_pb2.SearchCandidatesResponse(hits=[convert.candidate_hit(h) for h in hits])

    @rpc
    def ListComplaints(self, request, context):
        complaints = self.app.list_complaints(request.employer_id, convert.optional_seconds(request, "since"),
                                              request.limit)
        return match_pb2.ListComplaintsResponse(complaints=[convert.complaint_message(c) for c in complaints])

    # ---- streaming ----
    def _take_stream(self) -> bool:
        with self._streams_lock:
            if self._streams >= self.max_streams:
                return False
            self._streams += 1
            return True

    def _give_stream(self) -> None:
        with self._streams_lock:
            self._streams -= 1

    def Subscribe(self, request, context):
        if self.app is None:
            RPCS.labels(SERVICE, "Subscribe", "UNAVAILABLE").inc()
            context.abort(grpc.StatusCode.UNAVAILABLE, LOADING)
        if not self._take_stream():
            RPCS.labels(SERVICE, "Subscribe", "RESOURCE_EXHAUSTED").inc()
            context.abort(grpc.StatusCode.RESOURCE_EXHAUSTED,
                          f"too many Subscribe streams open (MATCH_MAX_STREAMS={self.max_streams}); retry later")
        subscription, sent = None, 0
        try:
            identity = auth.current_identity()
            kinds = None if identity is None else KINDS_BY_ROLE.get(identity.role, frozenset())
            RPCS.labels(SERVICE, "Subscribe", "OK").inc()
            subscription = self.app.open_subscription(request, kinds)
            while context.is_active() and self.running.is_set():
                try:
                    event = subscription.events.get(timeout=0.5)
                except queue.Empty:
                    continue
                yield event
                sent += 1
        finally:
            if subscription is not None:
                self.app.close_subscription(subscription)
            self._give_stream()  # before the audit write, which may wait for the database
            if subscription is not None:
                self.audit("Subscribe", sent)
