"""The match service's domain operations in plain Python, whoever calls them (gRPC, the stream, tests).

MatchApplication owns the store and the in-memory views built from it (product, vacancy and employer
indexes, the candidate index) and changes both together, so a profile saved over gRPC is matched by the
next post. Bad input raises InvalidRequest; the store raises NotFound, LeaseConflict and
InvalidTransition. Mapping those to status codes is the servicer's job.
"""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Collection, Sequence

import numpy as np

from intentflow import topology
from intentflow.embedding import Embedder
from intentflow.metrics import INDEX_SIZE
from intentflow.nlp.linguistics import Linguistics
from intentflow.settings import MatchSettings
from intentflow.v1 import match_pb2
from services.match.candidates import CandidateFilter, CandidateHit, CandidatePosts
from services.match.complaints import EmployerWatch
from services.match.matching.catalog import Catalog
from services.match.matching.profiles import profile_indexes
from services.match.retention import retention_cutoff
from services.match.store import OUTCOMES, Complaint, Employer, NotFound, Product, QueueItem, Store, Vacancy
from services.match.store.models import KIND_LEAD, NEGATIVE_OUTCOMES, POSITIVE_OUTCOMES, STATUS_WRONG_PROFILE
from services.match.subscriptions import Subscription, SubscriptionHub

SERVICE = topology.MATCH
MAX_LIMIT = 500
MAX_TOP_K = 100
MAX_LEASE_SECONDS = 86400
MAX_LEARNED = 200   # example posts kept per profile and sign (matching uses the last MAX_EXAMPLES)
log = logging.getLogger(__name__)
MAX_PAGE_OFFSET = 2**31 - 1
# Bounds of a profile: each change re-encodes and re-lemmatises it, so an unbounded one would hold a
# thread for minutes (a 44,000-character keyword took 24 s). The catalogue stays far below them.
MAX_ID_CHARS = 200
MAX_TERM_CHARS = 200          # a name, title, location, owner team, keyword, alias or language
MAX_TERMS = 500               # keywords, excluded keywords, aliases or languages of one profile
MAX_DESCRIPTION_CHARS = 5000
MAX_EXAMPLE_CHARS = 5000      # a learned example (a post) is cut to this


class InvalidRequest(Exception):
    """The caller's input is missing or out of range; retrying it unchanged cannot succeed."""


def _require(value: str, name: str) -> str:
    if not value.strip():
        raise InvalidRequest(f"{name} is required")
    return value


def _limit(value: int, default: int, maximum: int) -> int:
    """0 asks for the default; anything above the maximum is capped rather than refused."""
    if value < 0:
        raise InvalidRequest("limit must not be negative")
    return min(value or default, maximum)


def _lease_seconds(value: float, default: int) -> float:
    """0 asks for the default; otherwise 1..MAX_LEASE_SECONDS, anything else is refused."""
    if value == 0:
        return default
    if not 1 <= value <= MAX_LEASE_SECONDS:
        raise InvalidRequest(f"lease_seconds must be between 1 and {MAX_LEASE_SECONDS} "
                             f"(0 = the default of {default}), got {value:g}")
    return value


def _min_score(value: float) -> float:
    if not value >= 0:  # NaN too
        raise InvalidRequest("min_score must not be negative")
    return value


def _check_profile(profile: Product | Vacancy | Employer) -> None:
    """Refuse a profile over the bounds above, naming the field."""
    def text(name: str, value: str, limit: int) -> None:
        if len(value) > limit:
            raise InvalidRequest(f"{name} is {len(value)} characters long, the limit is {limit}")

    def texts(name: str, values: Sequence[str], count: int, limit: int) -> None:
        if len(values) > count:
            raise InvalidRequest(f"{name} has {len(values)} entries, the limit is {count}")
        for value in values:
            text(f"an entry of {name}", value, limit)

    text("id", profile.id, MAX_ID_CHARS)
    for name in ("name", "title", "location", "owner_team"):
        text(name, getattr(profile, name, ""), MAX_TERM_CHARS)
    text("description", getattr(profile, "description", ""), MAX_DESCRIPTION_CHARS)
    for name in ("keywords", "excluded_keywords", "languages", "names"):
        texts(name, getattr(profile, name, ()), MAX_TERMS, MAX_TERM_CHARS)
    for name in ("examples", "negative_examples"):
        texts(name, getattr(profile, name, ()), MAX_LEARNED, MAX_EXAMPLE_CHARS)
    if not 0 <= getattr(profile, "min_score", 0.0) <= 1:  # NaN too
        raise InvalidRequest("min_score must be between 0 and 1 (0 = the service's default)")


def _reranker(settings: MatchSettings):
    """The e5 reranker (intentflow/e5.py) unless MATCH_RERANKER is off."""
    if not getattr(settings, "reranker", True):
        return None
    from intentflow.e5 import load_e5
    return load_e5(settings.model.encoder_threads)


class MatchApplication:
    def __init__(self, settings: MatchSettings, store: Store, embedder: Embedder, linguistics: Linguistics,
                 hub: SubscriptionHub):
        self.settings = settings
        self.store = store
        self.embedder = embedder
        self.linguistics = linguistics
        self.hub = hub
        indexes = profile_indexes(embedder, linguistics, settings.product_min_score, settings.vacancy_min_score,
                                  reranker=_reranker(settings))
        self.products, self.vacancies = indexes["product"], indexes["vacancy"]
        self.employers = EmployerWatch(linguistics)
        self.candidates = CandidatePosts(settings, store, embedder.dim)
        self._profiles_stamp: tuple[tuple[int, int], ...] = ()

    # ---- start-up and housekeeping ----
    def load(self) -> None:
        self.refresh_profiles()
        self.candidates.load()
        self.prune()

    def import_catalog(self, catalog: Catalog) -> None:
        for product in catalog.products:
            self.store.upsert_product(product)
        for vacancy in catalog.vacancies:
            self.store.upsert_vacancy(vacancy)
        for employer in catalog.employers:
            self.store.upsert_employer(employer)
        self.refresh_profiles()

    def refresh_profiles(self) -> None:
        self._profiles_stamp = self.store.profiles_stamp()  # first: a change made meanwhile is caught up later
        self.products.replace_all(self.store.list_products())
        self.vacancies.replace_all(self.store.list_vacancies())
        self.employers.replace_all(self.store.list_employers())
        self._count_profiles()

    def catch_up(self) -> None:
        """Take in what other match processes sharing the store wrote: profile changes (made over their API
        or learned from their acks) and the job posts of their partitions. One query each when nothing
        changed."""
        stamp = self.store.profiles_stamp()
        if stamp != self._profiles_stamp:
            self._profiles_stamp = stamp
            self.products.follow(self.store.list_products())
            self.vacancies.follow(self.store.list_vacancies())
            self.employers.replace_all(self.store.list_employers())
            self._count_profiles()
        self.candidates.catch_up()

    def _count_profiles(self) -> None:
        INDEX_SIZE.labels(SERVICE, "products").set(len(self.products))
        INDEX_SIZE.labels(SERVICE, "vacancies").set(len(self.vacancies))

    def prune(self, now: float | None = None) -> int:
        """Purge posts older than the retention period (MATCH_RETENTION_DAYS) with their leads, candidates
        and complaints; returns how many rows went."""
        cutoff = retention_cutoff(self.settings.retention_days, time.time() if now is None else now)
        if cutoff is None:
            return 0
        removed = self.store.purge_before(cutoff)
        self.candidates.forget(removed.job_post_ids)
        if removed.total:
            log.info("purged posts past retention", extra={"rows": removed.total, "tables": dict(removed.rows)})
        return removed.total

    def close(self) -> None:
        self.candidates.save()  # a restart then loads the index instead of rebuilding it
        self.store.close()

    # ---- profiles ----
    def upsert_product(self, product: Product) -> Product:
        _require(product.id, "id")
        _require(product.name, "name")
        _check_profile(product)
        product = self.store.upsert_product(product)  # as stored (updated_at set), so catch_up sees no change
        self.products.upsert(product)
        return product

    def delete_product(self, product_id: str) -> bool:
        deleted = self.store.delete_product(_require(product_id, "id"))
        self.products.delete(product_id)
        return deleted

    def list_products(self) -> list[Product]:
        return self.store.list_products()

    def upsert_vacancy(self, vacancy: Vacancy) -> Vacancy:
        _require(vacancy.id, "id")
        _require(vacancy.title, "title")
        _check_profile(vacancy)
        vacancy = self.store.upsert_vacancy(vacancy)
        self.vacancies.upsert(vacancy)
        return vacancy

    def delete_vacancy(self, vacancy_id: str) -> bool:
        deleted = self.store.delete_vacancy(_require(vacancy_id, "id"))
        self.vacancies.delete(vacancy_id)
        return deleted

    def list_vacancies(self) -> list[Vacancy]:
        return self.store.list_vacancies()

    def upsert_employer(self, employer: Employer) -> Employer:
        _require(employer.id, "id")
        if not any(n.strip() for n in employer.names):
            raise InvalidRequest("names: at least one name or alias is required")
        _check_profile(employer)
        self.store.upsert_employer(employer)
        # Aliases of different employers share one phrase index, so it is rebuilt as a whole.
        self.employers.replace_all(self.store.list_employers())
        return employer

    def delete_employer(self, employer_id: str) -> bool:
        deleted = self.store.delete_employer(_require(employer_id, "id"))
        self.employers.replace_all(self.store.list_employers())
        return deleted

    def list_employers(self) -> list[Employer]:
        return self.store.list_employers()

    # ---- queues: leads and candidates share the semantics, `kind` tells them apart ----
    def pull(self, kind: str, owner: str, profile_ids: Sequence[str] = (), min_score: float = 0.0,
             languages: Sequence[str] = (), limit: int = 0, lease_seconds: float = 0,
             include_unmatched: bool = False) -> list[QueueItem]:
        return self.store.lease_items(
            kind, _require(owner, "owner"), list(profile_ids), _min_score(min_score), list(languages),
            _limit(limit, 10, MAX_LIMIT), _lease_seconds(lease_seconds, self.settings.lease_seconds), time.time(),
            include_unmatched)

    def ack(self, kind: str, item_id: str, owner: str, outcome: str, note: str = "",
            right_profile_id: str = "") -> QueueItem:
        """Records the outcome, then lets it teach matching (`learn`)."""
        _require(item_id, "id")
        _require(owner, "owner")
        if outcome not in OUTCOMES:
            raise InvalidRequest(f"outcome must be one of {', '.join(o.upper() for o in OUTCOMES)}")
        if right_profile_id and outcome != STATUS_WRONG_PROFILE:
            raise InvalidRequest("right_profile_id goes with the WRONG_PROFILE outcome only")
        if right_profile_id and self._index(kind).get(right_profile_id) is None:
            raise NotFound(f"{'product' if kind == KIND_LEAD else 'vacancy'} {right_profile_id!r} not found")
        item = self.store.ack_item(kind, item_id, owner, outcome, note, time.time())
        self.learn(kind, item, outcome, right_profile_id)
        return item

    def _index(self, kind: str):
        return self.products if kind == KIND_LEAD else self.vacancies

    def learn(self, kind: str, item: QueueItem, outcome: str, right_profile_id: str = "") -> None:
        """An acked outcome becomes an example post of the profiles concerned, used by the next post
        matched (no redeploy): contacted/won -> positive example of the matched profile; not_a_lead /
        wrong_profile -> negative example of it; wrong_profile with right_profile_id -> positive example
        of that one. The examples are stored with the profile, so they survive restarts and show in
        ListProducts/ListVacancies, where a user can also edit them."""
        text = item.post.text.strip()[:MAX_EXAMPLE_CHARS]
        if not text:
            return
        changes = []
        if item.profile_id and outcome in POSITIVE_OUTCOMES:
            changes.append((item.profile_id, "examples"))
        if item.profile_id and outcome in NEGATIVE_OUTCOMES:
            changes.append((item.profile_id, "negative_examples"))
        if right_profile_id:
            changes.append((right_profile_id, "examples"))
        for profile_id, field in changes:
            profile = self._index(kind).get(profile_id)
            if profile is None:
                continue
            values = ([v for v in getattr(profile, field) if v != text] + [text])[-MAX_LEARNED:]
            other = "negative_examples" if field == "examples" else "examples"
            changed = dataclasses.replace(profile, **{field: values,
                                                      other: [v for v in getattr(profile, other) if v != text]},
                                          updated_at=0.0)
            if kind == KIND_LEAD:
                self.upsert_product(changed)
            else:
                self.upsert_vacancy(changed)

    def release(self, kind: str, item_id: str, owner: str) -> QueueItem:
        return self.store.release_item(kind, _require(item_id, "id"), _require(owner, "owner"), time.time())

    def list_items(self, kind: str, profile_ids: Sequence[str] = (), statuses: Sequence[str] = (),
                   languages: Sequence[str] = (), include_unmatched: bool = False, page_size: int = 0,
                   page_token: str = "") -> tuple[list[QueueItem], str]:
        """One page by priority and the token of the next ("" after the last). Without a profile filter
        unmatched items are listed too."""
        try:
            offset = int(page_token or 0)
        except ValueError:
            raise InvalidRequest("page_token is not one this service issued") from None
        if not 0 <= offset <= MAX_PAGE_OFFSET:
            raise InvalidRequest("page_token is not one this service issued")
        size = _limit(page_size, 50, MAX_LIMIT)
        items = self.store.list_items(kind, list(profile_ids), list(statuses), list(languages),
                                      include_unmatched or not profile_ids, None, size + 1, offset)
        return items[:size], str(offset + size) if len(items) > size else ""

    def funnel(self, product_id: str = "", since: float | None = None, until: float | None = None) -> dict:
        """Lead counts per stage for one product ("" = all) and rep_precision = contacted / judged."""
        counts = self.store.funnel(KIND_LEAD, product_id or None, since, until)
        judged = counts["contacted"] + counts["not_a_lead"]
        return {**counts, "rep_precision": counts["contacted"] / judged if judged else 0.0}

    # ---- recruiter search and complaints ----
    def search_candidates(self, query: str = "", vacancy_id: str = "", top_k: int = 0,
                          languages: Sequence[str] = (), since: float | None = None,
                          location_words: Sequence[str] = ()) -> list[CandidateHit]:
        """Job seekers closest to a free-text query or to a vacancy profile, best first."""
        top_k = _limit(top_k, 10, MAX_TOP_K)
        vector = self._query_vector(query, vacancy_id)
        where = CandidateFilter(tuple(languages), since, tuple(w.lower() for w in location_words if w.strip()))
        return self.candidates.search(vector, top_k, where)

    def _query_vector(self, query: str, vacancy_id: str) -> np.ndarray:
        if vacancy_id:
            vacancy = self.store.get_vacancy(vacancy_id)
            if vacancy is None:
                raise NotFound(f"vacancy {vacancy_id!r} not found")
            text = f"{vacancy.title}. {vacancy.description} {' '.join(vacancy.keywords)}"
        else:
            text = _require(query, "query or vacancy_id")
        return self.embedder.encode([text])[0]

    def list_complaints(self, employer_id: str = "", since: float | None = None, limit: int = 0) -> list[Complaint]:
        return self.store.list_complaints(employer_id or None, since, _limit(limit, 100, MAX_LIMIT))

    # ---- Subscribe streams ----
    def open_subscription(self, request: match_pb2.SubscribeRequest,
                          kinds: Collection[str] | None = None) -> Subscription:
        """A subscription to the events `request` asks for, of the event kinds in `kinds` only (lead,
        candidate, complaint, alert; None = every kind)."""
        return self.hub.open(request, kinds)

    def close_subscription(self, subscription: Subscription) -> None:
        self.hub.close(subscription)
