"""What the match service does with each classified post: leads for products, candidates for vacancies,
complaints about employers. Queue priority is defined in services.match.priority."""
from __future__ import annotations

import time
from functools import partial

import numpy as np
from google.protobuf.message import DecodeError

from intentflow import topology
from intentflow.kafka_io import OutMessage
from intentflow.metrics import RECORDS, SIGNALS, STAGE_SECONDS
from intentflow.service import dead_letter_for
from intentflow.signals import EMPLOYER_COMPLAINT, FROM_PROTO, JOB_SEEKING, PURCHASE_INTENT
from intentflow.v1 import post_pb2, signals_pb2
from intentflow.wire import BadRecord
from services.match.application import MatchApplication
from services.match.complaint_signals import ComplaintSignals
from services.match.complaints import SpikeDetector
from services.match.convert import evidence_lines, post_ref, queue_message
from services.match.matching.profiles import Match
from services.match.matching.tokens import post_doc
from services.match.priority import priority
from services.match.publishing import Output, Publisher, Stored
from services.match.store import AddResult, PostRef, QueueItem, queue_item_id
from services.match.store.models import KIND_CANDIDATE, KIND_LEAD

SERVICE = topology.MATCH


def decode_classified(value: bytes | None) -> post_pb2.ClassifiedPost:
    message = post_pb2.ClassifiedPost()
    try:
        message.ParseFromString(value or b"")
    except DecodeError as exc:
        raise BadRecord(f"invalid ClassifiedPost: {exc}") from None
    if not message.post.id:
        raise BadRecord("ClassifiedPost without a post id")
    return message


class MatchEngine:
    def __init__(self, app: MatchApplication):
        settings = app.settings
        self.app = app
        self.dead_letter = dead_letter_for(settings.kafka, SERVICE)
        self.publisher = Publisher(settings.kafka, app.hub)
        spikes = SpikeDetector(app.store, settings.alert_multiple, settings.alert_min_count,
                               settings.alert_baseline_days)
        self.complaints = ComplaintSignals(app.store, app.employers, spikes, self.publisher)

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
        pending: list[Output] = []
        for message in messages:
            pending.extend(self.handle(message))
        # Claimed after the whole batch, right before it is sent, so a claim needs to outlast a delivery only.
        outputs += self.publisher.settle(pending)
        STAGE_SECONDS.labels(SERVICE, "match_batch").observe(time.perf_counter() - started)
        return outputs

    def handle(self, message: post_pb2.ClassifiedPost, now: float | None = None) -> list[Output]:
        now = time.time() if now is None else now
        positive = {FROM_PROTO[c.signal]: c for c in message.classifications if c.positive}
        RECORDS.labels(SERVICE, "signal" if positive else "no_signal").inc()
        if not positive:
            return []
        app = self.app
        post = post_ref(message.post)
        embedding = self._embedding(message)
        doc = post_doc(app.linguistics, message)  # once for both profile kinds, from classify's lemmas if sent
        query = None
        if PURCHASE_INTENT in positive or JOB_SEEKING in positive:   # the reranker's view of the post, once
            query = self._second_embedding(message)
            if query is None:
                query = app.products.query_vector(post.text, embedding)
        outputs: list[Output] = []
        if PURCHASE_INTENT in positive:
            matches = app.products.match(embedding, post.text, post.lang, doc=doc, rerank_vector=query)
            outputs += self._enqueue(KIND_LEAD, post, positive[PURCHASE_INTENT], matches, now)
        if JOB_SEEKING in positive:
            verdict = positive[JOB_SEEKING]
            app.candidates.add(post, embedding, verdict.probability)
            matches = app.vacancies.match(embedding, post.text, post.lang, doc=doc, rerank_vector=query)
            outputs += self._enqueue(KIND_CANDIDATE, post, verdict, matches, now)
        if EMPLOYER_COMPLAINT in positive:
            outputs += self.complaints.handle(post, positive[EMPLOYER_COMPLAINT], now, doc)
        return outputs

    def _embedding(self, message: post_pb2.ClassifiedPost) -> np.ndarray:
        # Classify sends its embedding along; re-encode only if it came from another model.
        if message.embedding and message.embedding_model == self.app.embedder.name:
            return np.asarray(message.embedding, dtype=np.float32)
        return self.app.embedder.encode([message.post.text])[0]

    def _second_embedding(self, message: post_pb2.ClassifiedPost) -> np.ndarray | None:
        # Classify's stream gate already embedded flagged posts with e5; reuse it when it is our re-ranker's.
        reranker = self.app.products.reranker
        if reranker is not None and message.second_embedding and message.second_embedding_model == reranker.name:
            return np.asarray(message.second_embedding, dtype=np.float32)
        return None

    def _enqueue(self, kind: str, post: PostRef, verdict: post_pb2.Classification, matches: list[Match],
                 now: float) -> list[Output]:
        outputs = []
        for match in matches or [None]:  # a post that matched no profile is still one (unmatched) item
            profile_id = match.profile_id if match else ""
            score = match.score if match else 0.0
            item = QueueItem(
                id=queue_item_id(kind, post.post_id, profile_id), kind=kind, profile_id=profile_id, post=post,
                intent_probability=verdict.probability, match_score=score,
                priority=priority(verdict.probability, score, post.created_at, now),
                evidence=evidence_lines(verdict) + (match.evidence() if match else []),
                detected_at=now)
            result, stored = self.app.store.add_queue_item(item, self.app.settings.lead_dedup_window_s, now)
            if result is AddResult.DUPLICATE and stored.published:
                continue
            SIGNALS.labels(SERVICE, f"{kind}_{result.value}").inc()
            outputs.append(self._queue_output(stored))
        return outputs

    def _queue_output(self, item: QueueItem) -> Output:
        message = queue_message(item)
        store = self.app.store
        stored = Stored(partial(store.claim_item_publication, item.id), partial(store.mark_published, item.id))
        if item.kind == KIND_LEAD:
            return self.publisher.lead(message, item.id, item.profile_id, item.post.lang, stored)
        return self.publisher.hr(signals_pb2.HrSignal(candidate=message), item.id, item.profile_id,
                                 item.post.lang, stored)
