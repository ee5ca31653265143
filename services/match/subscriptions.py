"""Fan-out of delivered leads and HR signals to Subscribe streams."""
from __future__ import annotations

import queue
import threading
from collections.abc import Collection
from dataclasses import dataclass, field

from intentflow import auth, topology
from intentflow.metrics import RECORDS
from intentflow.v1 import match_pb2

BUFFER = 1000
LEAD, CANDIDATE, COMPLAINT, ALERT = "lead", "candidate", "complaint", "alert"
EVENT_KINDS = frozenset({LEAD, CANDIDATE, COMPLAINT, ALERT})
# With auth on, what each role's Subscribe stream may carry, whatever the request asks for.
KINDS_BY_ROLE = {auth.SALES: frozenset({LEAD}), auth.RECRUITER: frozenset({CANDIDATE}),
                 auth.HR_BRAND: frozenset({COMPLAINT, ALERT}), auth.ADMIN: EVENT_KINDS}


def event_kind(event: match_pb2.SubscribeEvent) -> str:
    if event.HasField("lead"):
        return LEAD
    return {"candidate": CANDIDATE, "complaint": COMPLAINT, "alert": ALERT}.get(
        event.hr_signal.WhichOneof("signal") or "", "")


@dataclass
class Subscription:
    request: match_pb2.SubscribeRequest
    events: queue.Queue
    kinds: frozenset[str] = field(default=EVENT_KINDS)  # event kinds the caller may receive

    def wants(self, event: match_pb2.SubscribeEvent, profile_id: str, lang: str) -> bool:
        if event_kind(event) not in self.kinds:
            return False
        req = self.request
        kind_ok = (not req.leads and not req.hr_signals) or (req.leads if event.HasField("lead") else req.hr_signals)
        return (kind_ok and (not req.profile_ids or profile_id in req.profile_ids)
                and (not req.languages or lang in req.languages))


class SubscriptionHub:
    def __init__(self):
        self._subs: list[Subscription] = []
        self._lock = threading.Lock()

    def open(self, request: match_pb2.SubscribeRequest, kinds: Collection[str] | None = None) -> Subscription:
        sub = Subscription(request, queue.Queue(BUFFER), EVENT_KINDS if kinds is None else frozenset(kinds))
        with self._lock:
            self._subs.append(sub)
        return sub

    def close(self, sub: Subscription) -> None:
        with self._lock:
            if sub in self._subs:
                self._subs.remove(sub)

    def publish(self, event: match_pb2.SubscribeEvent, profile_id: str, lang: str) -> None:
        with self._lock:
            subs = list(self._subs)
        for sub in subs:
            if sub.wants(event, profile_id, lang):
                try:
                    sub.events.put_nowait(event)
                except queue.Full:
                    # A stalled client must not stall the pipeline; it can catch up with ListLeads.
                    RECORDS.labels(topology.MATCH, "subscriber_dropped").inc()

    def __len__(self) -> int:
        return len(self._subs)
