"""Posts classified as employer complaints, turned into HR signals: complaints and spike alerts."""
from __future__ import annotations

import logging
from functools import partial
from typing import TYPE_CHECKING

from intentflow import topology
from intentflow.metrics import SIGNALS
from intentflow.v1 import post_pb2, signals_pb2
from intentflow.wire import timestamp
from services.match.complaints import EmployerWatch, Spike, SpikeDetector
from services.match.convert import complaint_message, evidence_lines
from services.match.publishing import Output, Publisher, Stored
from services.match.store import Complaint, PostRef, Store, complaint_id

if TYPE_CHECKING:
    from spacy.tokens import Doc

SERVICE = topology.MATCH
log = logging.getLogger(__name__)


class ComplaintSignals:
    """One complaint per watchlist employer the post names (or one naming none), each stored and
    published once however often the post is redelivered, and an alert when an employer's rate spikes."""

    def __init__(self, store: Store, employers: EmployerWatch, spikes: SpikeDetector, publisher: Publisher):
        self.store = store
        self.employers = employers
        self.spikes = spikes
        self.publisher = publisher

    def handle(self, post: PostRef, verdict: post_pb2.Classification, now: float,
               doc: Doc | None = None) -> list[Output]:
        outputs = []
        named = self.employers.employers_in(post.text, post.lang, doc)
        for employer_id in list(named) or [""]:
            evidence = evidence_lines(verdict)
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

    def _complaint_output(self, complaint: Complaint) -> Output:
        stored = Stored(partial(self.store.claim_complaint_publication, complaint.id),
                        partial(self.store.mark_complaint_published, complaint.id))
        return self.publisher.hr(signals_pb2.HrSignal(complaint=complaint_message(complaint)), complaint.id,
                                 complaint.employer_id, complaint.post.lang, stored)

    def _alert_output(self, spike: Spike) -> Output:
        SIGNALS.labels(SERVICE, "complaint_alert").inc()
        log.warning("complaint spike", extra={"employer": spike.employer_id, "recent": spike.recent,
                                              "ratio": round(spike.ratio, 2)})
        alert = signals_pb2.ComplaintAlert(
            employer_id=spike.employer_id, recent_count=spike.recent, baseline_per_window=spike.baseline_per_hour,
            ratio=spike.ratio, window_start=timestamp(spike.window_start), window_end=timestamp(spike.window_end))
        key = f"alert:{spike.employer_id}:{int(spike.window_end)}"
        return self.publisher.hr(signals_pb2.HrSignal(alert=alert), key, spike.employer_id, "")
