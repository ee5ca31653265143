"""The match service's Kafka outputs (leads and HR signals), which process sends each, and what runs once the
broker has them."""
from __future__ import annotations

import logging
import os
import socket
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from intentflow.kafka_io import OutMessage
from intentflow.settings import KafkaSettings
from intentflow.v1 import match_pb2, signals_pb2
from intentflow.wire import encode
from services.match.delivered import DeliveredKeys
from services.match.store import Claim, TakenOver
from services.match.subscriptions import SubscriptionHub

CLAIM_POLL_S = 0.2
log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    """The store's record behind an output (a queue item or a complaint): how to claim its publication and how
    to mark it published, both given this process's claimant id (store/publication.py)."""
    claim: Callable[[str, float, float], Claim]   # (claimant, hold_s, now)
    mark_published: Callable[[str], object]       # (claimant)


@dataclass(frozen=True)
class Pending:
    """An output of a stored record: sent only if the store grants this process its publication."""
    message: OutMessage
    stored: Stored


Output = OutMessage | Pending


def claimant_id() -> str:
    """Unique per process, and says which process it is when read in the store."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"


class Publisher:
    """Subscribe streams get an event only after the broker acknowledged it, so a subscriber never sees a
    lead or signal the topic lacks; the record is marked published first, so a redelivered post does not
    publish it again.

    Several match processes may hold the same stored record ready to publish (after a rebalance, a process
    can still be finishing the batch whose partition another one now reads). `settle` claims each one in the
    store just before the batch is sent: only the claim holder sends it, and a process that finds another's
    live claim waits until the record is published (then drops it) or the claim lapses after `hold_s`,
    longer than a delivery may take (then that process died, and this one sends it, unless the topic shows the
    dead process delivered it in the moment before it could mark it published)."""

    def __init__(self, kafka: KafkaSettings, hub: SubscriptionHub, claimant: str = "",
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], object] = time.sleep,
                 delivered: DeliveredKeys | None = None):
        self.kafka = kafka
        self.hub = hub
        self.delivered = delivered or DeliveredKeys(kafka)
        self.claimant = claimant or claimant_id()
        self.hold_s = 2 * (kafka.delivery_timeout_ms / 1000 + 5)  # StreamStage waits up to this for acks
        self.clock = clock
        self.sleep = sleep

    def lead(self, lead: signals_pb2.Lead, key: str, profile_id: str, lang: str, stored: Stored | None = None
             ) -> Output:
        return self._output(self.kafka.topic_leads, encode(lead, self.kafka.leads_format),
                            match_pb2.SubscribeEvent(lead=lead), key, profile_id, lang, stored)

    def hr(self, signal: signals_pb2.HrSignal, key: str, profile_id: str, lang: str, stored: Stored | None = None
           ) -> Output:
        return self._output(self.kafka.topic_hr, encode(signal, self.kafka.hr_format),
                            match_pb2.SubscribeEvent(hr_signal=signal), key, profile_id, lang, stored)

    def _output(self, topic: str, value: bytes, event: match_pb2.SubscribeEvent, key: str, profile_id: str,
                lang: str, stored: Stored | None) -> Output:
        def delivered() -> None:
            if stored is not None:
                stored.mark_published(self.claimant)
            self.hub.publish(event, profile_id, lang)
        message = OutMessage(topic, key.encode(), value, on_delivered=delivered)
        return message if stored is None else Pending(message, stored)

    def settle(self, outputs: Sequence[Output]) -> list[OutMessage]:
        """The messages of a batch this process is to send, in order: every plain message, and each pending
        one whose publication the store grants this process and that is not on its topic already."""
        granted: list[OutMessage] = []
        taken_over: list[tuple[Pending, float]] = []
        for output in self._latest(outputs):
            if not isinstance(output, Pending):
                granted.append(output)
                continue
            grant = self._grant(output.stored)
            if grant is Claim.MINE or isinstance(grant, TakenOver):
                granted.append(output.message)
            if isinstance(grant, TakenOver):
                taken_over.append((output, grant.since))
        sent_by_the_dead = self._already_on_topic(taken_over)
        return [m for m in granted if id(m) not in sent_by_the_dead]

    @staticmethod
    def _latest(outputs: Sequence[Output]) -> list[Output]:
        """Each stored record once, as its last output in the batch has it. A post can come twice in one batch
        (an upstream stage retried a batch the broker had stored), and the store grants this process its
        claim for both copies, so both would be sent."""
        last = {(o.message.topic, o.message.key): n for n, o in enumerate(outputs) if isinstance(o, Pending)}
        return [o for n, o in enumerate(outputs)
                if not isinstance(o, Pending) or last[(o.message.topic, o.message.key)] == n]

    def _grant(self, stored: Stored) -> Claim | TakenOver:
        while True:
            grant = stored.claim(self.claimant, self.hold_s, self.clock())
            if grant is not Claim.HELD:
                return grant
            self.sleep(CLAIM_POLL_S)

    def _already_on_topic(self, taken_over: list[tuple[Pending, float]]) -> set[int]:
        """The ids of the messages among `taken_over` that the process which held their claims delivered before
        it died; each is marked published under this process's claim and not sent again. Its Subscribe events
        went to that process's subscribers, if anyone's."""
        found: set[int] = set()
        for topic in {p.message.topic for p, _ in taken_over}:
            mine = [(p, since) for p, since in taken_over if p.message.topic == topic]
            keys = self.delivered.find(topic, {p.message.key for p, _ in mine}, min(since for _, since in mine))
            for pending, _ in mine:
                if pending.message.key in keys:
                    pending.stored.mark_published(self.claimant)
                    found.add(id(pending.message))
            log.warning("took over the lapsed claims of a process that died", extra={
                "topic": topic, "records": len(mine), "already_on_topic": len(keys)})
        return found
