"""MatchService over gRPC: profiles, the sales queue, the HR queue, recruiter search, Subscribe."""
from __future__ import annotations

import functools
import queue
import time

import grpc

from intentflow.metrics import RPCS
from intentflow.v1 import match_pb2, match_pb2_grpc, signals_pb2
from intentflow.wire import seconds
from services.match import convert
from services.match.engine import MatchEngine, priority
from services.match.store import InvalidTransition, LeaseConflict, NotFound, StoreError
from services.match.store.models import KIND_CANDIDATE, KIND_LEAD, PostRef

SERVICE = "match"
MAX_LIMIT = 500
MAX_TOP_K = 100
OUTCOMES = {match_pb2.OUTCOME_CONTACTED: "contacted", match_pb2.OUTCOME_WON: "won",
            match_pb2.OUTCOME_LOST: "lost", match_pb2.OUTCOME_NOT_A_LEAD: "not_a_lead"}
ERRORS = {NotFound: grpc.StatusCode.NOT_FOUND, LeaseConflict: grpc.StatusCode.FAILED_PRECONDITION,
          InvalidTransition: grpc.StatusCode.FAILED_PRECONDITION, ValueError: grpc.StatusCode.INVALID_ARGUMENT}


class Invalid(Exception):
    pass


def rpc(method):
    """Count calls and map domain errors to gRPC status codes with a clear message."""
    @functools.wraps(method)
    def wrapper(self, request, context):
        if self.engine is None:
            RPCS.labels(SERVICE, method.__name__, "UNAVAILABLE").inc()
            context.abort(grpc.StatusCode.UNAVAILABLE, "match service is still loading its indexes")
        try:
            response = method(self, request, context)
        except Invalid as exc:
            code, message = grpc.StatusCode.INVALID_ARGUMENT, str(exc)
        except (StoreError, ValueError) as exc:
            code = next(c for cls, c in ERRORS.items() if isinstance(exc, cls))
            message = str(exc) or type(exc).__name__
        else:
            RPCS.labels(SERVICE, method.__name__, "OK").inc()
            return response
        RPCS.labels(SERVICE, method.__name__, code.name).inc()
        context.abort(code, message)
    return wrapper


def _limit(value: int, default: int, maximum: int) -> int:
    if value < 0:
        raise Invalid("limit must not be negative")
    return min(value or default, maximum)


def _outcome(value: int) -> str:
    if value not in OUTCOMES:
        raise Invalid("outcome must be one of CONTACTED, WON, LOST, NOT_A_LEAD")
    return OUTCOMES[value]


def _require(value: str, name: str) -> str:
    if not value.strip():
        raise Invalid(f"{name} is required")
    return value


class MatchServicer(match_pb2_grpc.MatchServiceServicer):
    def __init__(self, lease_seconds: int, running):
        self.engine: MatchEngine | None = None  # set once profiles and indexes are loaded
        self.lease_seconds = lease_seconds
        self.running = running

    @property
    def store(self):
        return self.engine.store

    # ---- profiles ----
    @rpc
    def UpsertProduct(self, request, context):
        product = convert.product_from_proto(request)
        _require(product.id, "id")
        _require(product.name, "name")
        self.store.upsert_product(product)
        self.engine.products.upsert(product)
        return convert.product_to_proto(product)

    @rpc
    def DeleteProduct(self, request, context):
        deleted = self.store.delete_product(_require(request.id, "id"))
        self.engine.products.delete(request.id)
        return match_pb2.DeleteProfileResponse(deleted=deleted)

    @rpc
    def ListProducts(self, request, context):
        products = [convert.product_to_proto(p) for p in self.store.list_products()]
        return match_pb2.ListProductsResponse(products=products)

    @rpc
    def UpsertVacancy(self, request, context):
        vacancy = convert.vacancy_from_proto(request)
        _require(vacancy.id, "id")
        _require(vacancy.title, "title")
        self.store.upsert_vacancy(vacancy)
        self.engine.vacancies.upsert(vacancy)
        return convert.vacancy_to_proto(vacancy)

    @rpc
    def DeleteVacancy(self, request, context):
        deleted = self.store.delete_vacancy(_require(request.id, "id"))
        self.engine.vacancies.delete(request.id)
        return match_pb2.DeleteProfileResponse(deleted=deleted)

    @rpc
    def ListVacancies(self, request, context):
        return match_pb2.ListVacanciesResponse(
            vacancies=[convert.vacancy_to_proto(v) for v in self.store.list_vacancies()])

    @rpc
    def UpsertEmployer(self, request, context):
        employer = convert.employer_from_proto(request)
        _require(employer.id, "id")
        if not any(n.strip() for n in employer.names):
            raise Invalid("names: at least one name or alias is required")
        self.store.upsert_employer(employer)
        self.engine.employers.replace_all(self.store.list_employers())
        return convert.employer_to_proto(employer)

    @rpc
    def DeleteEmployer(self, request, context):
        deleted = self.store.delete_employer(_require(request.id, "id"))
        self.engine.employers.replace_all(self.store.list_employers())
        return match_pb2.DeleteProfileResponse(deleted=deleted)

    @rpc
    def ListEmployers(self, request, context):
        return match_pb2.ListEmployersResponse(
            employers=[convert.employer_to_proto(e) for e in self.store.list_employers()])

    # ---- queues (leads and candidates share the semantics) ----
    def _pull(self, kind, owner, profile_ids, min_score, languages, limit, lease_seconds, include_unmatched=False):
        items = self.store.lease_items(
            kind, _require(owner, "owner"), list(profile_ids), min_score, list(languages),
            _limit(limit, 10, MAX_LIMIT), lease_seconds or self.lease_seconds, time.time(), include_unmatched)
        return [convert.queue_message(i) for i in items]

    @rpc
    def PullLeads(self, request, context):
        return match_pb2.PullLeadsResponse(leads=self._pull(
            KIND_LEAD, request.owner, request.product_ids, request.min_score, request.languages, request.limit,
            request.lease_seconds, request.include_unmatched))

    @rpc
    def PullCandidates(self, request, context):
        return match_pb2.PullCandidatesResponse(candidates=self._pull(
            KIND_CANDIDATE, request.owner, request.vacancy_ids, request.min_score, request.languages,
            request.limit, request.lease_seconds))

    def _ack(self, kind, request):
        item = self.store.ack_item(kind, _require(request.id, "id"), _require(request.owner, "owner"),
                                   _outcome(request.outcome), request.note, time.time())
        return convert.queue_message(item)

    @rpc
    def AckLead(self, request, context):
        return self._ack(KIND_LEAD, request)

    @rpc
    def AckCandidate(self, request, context):
        return self._ack(KIND_CANDIDATE, request)

    @rpc
    def ReleaseLead(self, request, context):
        return convert.queue_message(self.store.release_item(
            KIND_LEAD, _require(request.id, "id"), _require(request.owner, "owner"), time.time()))

    @rpc
    def ReleaseCandidate(self, request, context):
        return convert.queue_message(self.store.release_item(
            KIND_CANDIDATE, _require(request.id, "id"), _require(request.owner, "owner"), time.time()))

    def _list(self, kind, request):
        try:
            offset = int(request.page_token or 0)
        except ValueError:
            raise Invalid("page_token is not one this service issued") from None
        size = _limit(request.page_size, 50, MAX_LIMIT)
        statuses = [convert.STATUS_FROM_PROTO[s] for s in request.statuses if s in convert.STATUS_FROM_PROTO]
        items = self.store.list_items(kind, list(request.profile_ids), statuses, list(request.languages),
                                      request.include_unmatched or not request.profile_ids, None, size + 1, offset)
        token = str(offset + size) if len(items) > size else ""
        return [convert.queue_message(i) for i in items[:size]], token

    @rpc
    def ListLeads(self, request, context):
        leads, token = self._list(KIND_LEAD, request)
        return match_pb2.ListLeadsResponse(leads=leads, next_page_token=token)

    @rpc
    def ListCandidates(self, request, context):
        candidates, token = self._list(KIND_CANDIDATE, request)
        return match_pb2.ListCandidatesResponse(candidates=candidates, next_page_token=token)

    @rpc
    def GetFunnel(self, request, context):
        since = seconds(request.since) if request.HasField("since") else None
        until = seconds(request.until) if request.HasField("until") else None
        counts = self.store.funnel(KIND_LEAD, request.product_id or None, since, until)
        judged = counts["contacted"] + counts["not_a_lead"]
        return match_pb2.Funnel(product_id=request.product_id,
                                rep_precision=counts["contacted"] / judged if judged else 0.0,
                                **{k: counts[k] for k in ("leads", "contacted", "won", "lost", "not_a_lead")})

    # ---- recruiter search and complaints ----
    @rpc
    def SearchCandidates(self, request, context):
        top_k = _limit(request.top_k, 10, MAX_TOP_K)
        query = self._query_vector(request)
        since = seconds(request.since) if request.HasField("since") else None
        words = [w.lower() for w in request.location_words if w.strip()]
        hits, k = [], top_k * 10
        while True:
            found = self.engine.candidates.search(query, k)
            posts = self.store.get_job_posts([i for i, _ in found])
            hits = [(i, s) for i, s in found if i in posts and _passes(posts[i][0], request.languages, since, words)]
            if len(hits) >= top_k or len(found) < k:
                break
            k *= 4
        return match_pb2.SearchCandidatesResponse(hits=[
            match_pb2.CandidateHit(candidate=_search_hit(job_id, *posts[job_id], score), score=score)
            for job_id, score in hits[:top_k]])

    def _query_vector(self, request):
        if request.vacancy_id:
            vacancy = self.store.get_vacancy(request.vacancy_id)
            if vacancy is None:
                raise NotFound(f"vacancy {request.vacancy_id!r} not found")
            text = f"{vacancy.title}. {vacancy.description} {' '.join(vacancy.keywords)}"
        else:
            text = _require(request.query, "query or vacancy_id")
        return self.engine.embedder.encode([text])[0]

    @rpc
    def ListComplaints(self, request, context):
        since = seconds(request.since) if request.HasField("since") else None
        complaints = self.store.list_complaints(request.employer_id or None, since,
                                                _limit(request.limit, 100, MAX_LIMIT))
        return match_pb2.ListComplaintsResponse(complaints=[convert.complaint_message(c) for c in complaints])

    # ---- streaming ----
    def Subscribe(self, request, context):
        if self.engine is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "match service is still loading its indexes")
        RPCS.labels(SERVICE, "Subscribe", "OK").inc()
        subscription = self.engine.hub.open(request)
        try:
            while context.is_active() and self.running.is_set():
                try:
                    yield subscription.events.get(timeout=0.5)
                except queue.Empty:
                    continue
        finally:
            self.engine.hub.close(subscription)


def _passes(post: PostRef, languages, since: float | None, words: list[str]) -> bool:
    text = post.text.lower()
    return ((not languages or post.lang in languages) and (since is None or post.created_at >= since)
            and all(w in text for w in words))


def _search_hit(job_id: int, post: PostRef, probability: float, score: float) -> signals_pb2.CandidateSignal:
    return signals_pb2.CandidateSignal(
        candidate_id=f"jobpost_{job_id}", post=convert.to_post(post), job_seeking_probability=probability,
        match_score=score, priority=priority(probability, score, post.created_at, time.time()))
