"""MatchService over gRPC: protobuf in, a MatchApplication call, protobuf out; errors become status codes."""
from __future__ import annotations

import functools
import logging
import queue
import threading

import grpc

from intentflow import topology
from intentflow.metrics import RPCS
from intentflow.v1 import match_pb2, match_pb2_grpc
from services.match import convert
from services.match.application import InvalidRequest, MatchApplication
from services.match.store import InvalidTransition, LeaseConflict, NotFound, StoreError
from services.match.store.models import KIND_CANDIDATE, KIND_LEAD

SERVICE = topology.MATCH
log = logging.getLogger(__name__)
LOADING = "match service is still loading its indexes"
# The first class the error is an instance of decides, so subclasses come before their bases.
ERRORS = (
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
            return response
        RPCS.labels(SERVICE, method.__name__, code.name).inc()
        context.abort(code, message)
    return wrapper


class MatchServicer(match_pb2_grpc.MatchServiceServicer):
    def __init__(self, running: threading.Event):
        self.app: MatchApplication | None = None  # set once profiles and indexes are loaded
        self.running = running

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
        leads = self.app.pull(KIND_LEAD, request.owner, request.product_ids, request.min_score, request.languages,
                              request.limit, request.lease_seconds, request.include_unmatched)
        return match_pb2.PullLeadsResponse(leads=[convert.queue_message(i) for i in leads])

    @rpc
    def PullCandidates(self, request, context):
        candidates = self.app.pull(KIND_CANDIDATE, request.owner, request.vacancy_ids, request.min_score,
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
        return convert.queue_message(self.app.ack(kind, request.id, request.owner, outcome, request.note,
                                                  request.right_profile_id))

    @rpc
    def ReleaseLead(self, request, context):
        return convert.queue_message(self.app.release(KIND_LEAD, request.id, request.owner))

    @rpc
    def ReleaseCandidate(self, request, context):
        return convert.queue_message(self.app.release(KIND_CANDIDATE, request.id, request.owner))

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
    def Subscribe(self, request, context):
        if self.app is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, LOADING)
        RPCS.labels(SERVICE, "Subscribe", "OK").inc()
        subscription = self.app.open_subscription(request)
        try:
            while context.is_active() and self.running.is_set():
                try:
                    yield subscription.events.get(timeout=0.5)
                except queue.Empty:
                    continue
        finally:
            self.app.close_subscription(subscription)
