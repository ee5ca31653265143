"""What the match service does with each classified post.

Lead priority (documented in the README): priority = 0.5·p + 0.3·min(score, 1) + 0.2·freshness, where
p is the calibrated intent probability, score the product match score (0 for an unmatched lead) and
freshness = 0.5 ** (age_hours / 24), the post's age at detection with a one-day half-life.
"""
from __future__ import annotations

import logging
import time

import numpy as np
from google.protobuf.message import DecodeError

from intentflow.embedding import Embedder
from intentflow.kafka_io import OutMessage
from intentflow.metrics import INDEX_SIZE, RECORDS, SIGNALS, STAGE_SECONDS
from intentflow.nlp.linguistics import Linguistics
from intentflow.service import dead_letter_for
from intentflow.settings import MatchSettings
from intentflow.signals import EMPLOYER_COMPLAINT, FROM_PROTO, JOB_SEEKING, PURCHASE_INTENT
from intentflow.v1 import match_pb2, post_pb2, signals_pb2
from intentflow.wire import BadRecord, encode, timestamp
from services.match.complaints import EmployerWatch, Spike, SpikeDetector
from services.match.convert import complaint_message, post_ref, queue_message
from services.match.matching.catalog import Catalog
from services.match.matching.phrases import pipeline_language
from services.match.matching.profiles import Match, profile_indexes
from services.match.matching.search import CandidateIndex
from services.match.store import AddResult, Complaint, QueueItem, Store, complaint_id, queue_item_id
from services.match.store.models import KIND_CANDIDATE, KIND_LEAD, PostRef
from services.match.subscriptions import SubscriptionHub

SERVICE = "match"
log = logging.getLogger(__name__)


def decode_classified(value: bytes | None) -> post_pb2.ClassifiedPost:
    message = post_pb2.ClassifiedPost()
    try:
        message.ParseFromString(value or b"")
    except DecodeError as exc:
        raise BadRecord(f"invalid ClassifiedPost: {exc}") from None
    if not message.post.id:
        raise BadRecord("ClassifiedPost without a post id")
    return message


def priority(probability: float, score: float, created_at: float, now: float) -> float:
    age_hours = max(0.0, now - created_at) / 3600 if created_at else 0.0
    freshness = 0.5 ** (age_hours / 24)
    return round(0.5 * probability + 0.3 * min(score, 1.0) + 0.2 * freshness, 4)


class MatchEngine:
    def __init__(self, settings: MatchSettings, store: Store, embedder: Embedder, linguistics: Linguistics,
                 hub: SubscriptionHub):
        self.settings = settings
        self.kafka = settings.kafka
        self.store = store
        self.embedder = embedder
        self.hub = hub
        self.linguistics = linguistics
        indexes = profile_indexes(embedder, linguistics, settings.product_min_score, settings.vacancy_min_score)
        self.products, self.vacancies = indexes["product"], indexes["vacancy"]
        self.employers = EmployerWatch(linguistics)
        self.candidates = CandidateIndex(embedder.dim, settings.index_dir, settings.exact_search_limit,
                                         settings.search_nprobe)
        self.dead_letter = dead_letter_for(settings.kafka, SERVICE)
        self.spikes = SpikeDetector(store, settings.alert_multiple, settings.alert_min_count,
                                    settings.alert_baseline_days)

    # ---- start-up and profile changes ----
    def load(self) -> None:
        self.refresh_profiles()
        source = "disk"
        if not self.candidates.load(self.store.count_job_posts()):
            source = "store"
            self.rebuild_candidates()
        log.info("candidate index ready", extra={"source": source, "vectors": self.candidates.size})
        self.prune()

    def rebuild_candidates(self) -> None:
        """Build the search index from the store; posts stored meanwhile are added after the swap."""
        rows = list(self.store.iter_job_posts())
        ids = np.array([r[0] for r in rows], dtype=np.int64)
        vectors = np.vstack([r[3] for r in rows]) if rows else np.zeros((0, self.embedder.dim), np.float32)
        self.candidates.rebuild(ids, vectors)
        known = set(ids.tolist())
        late = [r for r in self.store.iter_job_posts() if r[0] not in known]
        if late:
            self.candidates.add([r[0] for r in late], np.vstack([r[3] for r in late]))

    def maybe_upgrade_index(self) -> None:
        if self.candidates.outgrew_exact_search():
            log.info("candidate index outgrew exact search; rebuilding as IVF", extra={"vectors": self.candidates.size})
            self.rebuild_candidates()

    def import_catalog(self, catalog: Catalog) -> None:
        for product in catalog.products:
            self.store.upsert_product(product)
        for vacancy in catalog.vacancies:
            self.store.upsert_vacancy(vacancy)
        for employer in catalog.employers:
            self.store.upsert_employer(employer)
        self.refresh_profiles()

    def refresh_profiles(self) -> None:
        self.products.replace_all(self.store.list_products())
        self.vacancies.replace_all(self.store.list_vacancies())
        self.employers.replace_all(self.store.list_employers())
        INDEX_SIZE.labels(SERVICE, "products").set(len(self.products))
        INDEX_SIZE.labels(SERVICE, "vacancies").set(len(self.vacancies))

    def prune(self, now: float | None = None) -> int:
        now = time.time() if now is None else now
        removed = self.store.prune_job_posts(now - self.settings.retention_days * 86400)
        self.candidates.remove(removed)
        INDEX_SIZE.labels(SERVICE, "candidates").set(self.candidates.size)
        return len(removed)

    # ---- the stream ----
    def process(self, records) -> list[OutMessage]:
        # Decode the whole batch first: a bad record goes straight to the DLQ instead of failing the
        # batch halfway, after some posts already had effects in the store.
        outputs: list[OutMessage] = []
        messages = []
        for record in records:
            try:
                messages.append(decode_classified(record.value))
            except BadRecord as exc:
                RECORDS.labels(SERVICE, "rejected").inc()
                outputs.append(self.dead_letter(record, str(exc)))
        started = time.perf_counter()
        for message in messages:
            outputs.extend(self.handle(message))
        STAGE_SECONDS.labels(SERVICE, "match_batch").observe(time.perf_counter() - started)
        return outputs

    def handle(self, message: post_pb2.ClassifiedPost, now: float | None = None) -> list[OutMessage]:
        now = time.time() if now is None else now
        positive = {FROM_PROTO[c.signal]: c for c in message.classifications if c.positive}
        RECORDS.labels(SERVICE, "signal" if positive else "no_signal").inc()
        if not positive:
            return []
        post = post_ref(message.post)
        embedding = self._embedding(message)
        doc = self.linguistics.doc(post.text, pipeline_language(post.lang))  # once for both profile kinds
        outputs: list[OutMessage] = []
        if PURCHASE_INTENT in positive:
            matches = self.products.match(embedding, post.text, post.lang, doc=doc)
            outputs += self._enqueue(KIND_LEAD, post, positive[PURCHASE_INTENT], matches, now)
        if JOB_SEEKING in positive:
            verdict = positive[JOB_SEEKING]
            job_id = self.store.add_job_post(post, embedding, verdict.probability)
            self.candidates.add([job_id], embedding.reshape(1, -1))
            matches = self.vacancies.match(embedding, post.text, post.lang, doc=doc)
            outputs += self._enqueue(KIND_CANDIDATE, post, verdict, matches, now)
        if EMPLOYER_COMPLAINT in positive:
            outputs += self._complaints(post, positive[EMPLOYER_COMPLAINT], now)
        return outputs

    def _embedding(self, message: post_pb2.ClassifiedPost) -> np.ndarray:
        if message.embedding and message.embedding_model == self.embedder.name:
            return np.asarray(message.embedding, dtype=np.float32)
        return self.embedder.encode([message.post.text])[0]

    def _enqueue(self, kind: str, post: PostRef, verdict: post_pb2.Classification, matches: list[Match],
                 now: float) -> list[OutMessage]:
        outputs = []
        evidence = [f"{e.rule}: {e.text}" for e in verdict.evidence]
        for match in matches or [None]:
            profile_id = match.profile_id if match else ""
            score = match.score if match else 0.0
            item = QueueItem(
                id=queue_item_id(kind, post.post_id, profile_id), kind=kind, profile_id=profile_id, post=post,
                intent_probability=verdict.probability, match_score=score,
                priority=priority(verdict.probability, score, post.created_at, now),
                evidence=evidence + ([f"keywords: {', '.join(match.keywords)}"] if match and match.keywords else []),
                detected_at=now)
            result, stored = self.store.add_queue_item(item, self.settings.lead_dedup_window_s, now)
            if result is AddResult.DUPLICATE and stored.published:
                continue
            SIGNALS.labels(SERVICE, f"{kind}_{result.value}").inc()
            outputs.append(self._queue_output(stored))
        return outputs

    def _queue_output(self, item: QueueItem) -> OutMessage:
        message = queue_message(item)
        if item.kind == KIND_LEAD:
            event = match_pb2.SubscribeEvent(lead=message)
            topic, fmt, value = self.kafka.topic_leads, self.kafka.leads_format, message
        else:
            event = match_pb2.SubscribeEvent(hr_signal=signals_pb2.HrSignal(candidate=message))
            topic, fmt, value = self.kafka.topic_hr, self.kafka.hr_format, event.hr_signal

        def delivered() -> None:
            self.store.mark_published(item.id)
            self.hub.publish(event, item.profile_id, item.post.lang)
        return OutMessage(topic, item.id.encode(), encode(value, fmt), on_delivered=delivered)

    def _complaints(self, post: PostRef, verdict: post_pb2.Classification, now: float) -> list[OutMessage]:
        outputs = []
        named = self.employers.employers_in(post.text, post.lang)
        for employer_id in list(named) or [""]:
            evidence = [f"{e.rule}: {e.text}" for e in verdict.evidence]
            if employer_id:
                evidence.append(f"employer: {', '.join(named[employer_id])}")
            complaint = Complaint(id=complaint_id(post.post_id, employer_id), post=post, employer_id=employer_id,
                                  probability=verdict.probability, evidence=evidence, detected_at=now)
            created, stored = self.store.add_complaint(complaint, now)
            if not created and stored.published:
                continue
            if created:
                SIGNALS.labels(SERVICE, "complaint").inc()
            outputs.append(self._complaint_output(stored))
            # Only a new complaint can start a spike; a redelivered one was counted the first time.
            spike = self.spikes.check(employer_id, now) if created and employer_id else None
            if spike:
                outputs.append(self._alert_output(spike))
        return outputs

    def _complaint_output(self, complaint: Complaint) -> OutMessage:
        signal = signals_pb2.HrSignal(complaint=complaint_message(complaint))
        event = match_pb2.SubscribeEvent(hr_signal=signal)

        def delivered() -> None:
            self.store.mark_complaint_published(complaint.id)
            self.hub.publish(event, complaint.employer_id, complaint.post.lang)
        return OutMessage(self.kafka.topic_hr, complaint.id.encode(), encode(signal, self.kafka.hr_format),
                          on_delivered=delivered)

    def _alert_output(self, spike: Spike) -> OutMessage:
        SIGNALS.labels(SERVICE, "complaint_alert").inc()
        log.warning("complaint spike", extra={"employer": spike.employer_id, "recent": spike.recent,
                                              "ratio": round(spike.ratio, 2)})
        alert = signals_pb2.ComplaintAlert(
            employer_id=spike.employer_id, recent_count=spike.recent, baseline_per_window=spike.baseline_per_hour,
            ratio=spike.ratio, window_start=timestamp(spike.window_start), window_end=timestamp(spike.window_end))
        return self._hr_output(signals_pb2.HrSignal(alert=alert), f"alert:{spike.employer_id}:{int(spike.window_end)}",
                               spike.employer_id, "")

    def _hr_output(self, signal: signals_pb2.HrSignal, key: str, profile_id: str, lang: str) -> OutMessage:
        event = match_pb2.SubscribeEvent(hr_signal=signal)
        return OutMessage(self.kafka.topic_hr, key.encode(), encode(signal, self.kafka.hr_format),
                          on_delivered=lambda: self.hub.publish(event, profile_id, lang))
