"""The match service's Kafka outputs (leads and HR signals), which process sends each, and what runs once the
broker has them."""
from __future__ import annotations

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
from services.match.store import Claim
from services.match.subscriptions import SubscriptionHub

CLAIM_POLL_S = 0.2


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
    longer than a delivery may take (then that process died, and this one sends it)."""

    def __init__(self, kafka: KafkaSettings, hub: SubscriptionHub, claimant: str = "",
                 clock: Callable[[], float] = time.time, sleep: Callable[[float], object] = time.sleep):
        self.kafka = kafka
        self.hub = hub
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
        one whose publication the store grants this process."""
        return [output.message if isinstance(output, Pending) else output
                for output in outputs if not isinstance(output, Pending) or self._granted(output.stored)]

    def _granted(self, stored: Stored) -> bool:
        while True:
            claim = stored.claim(self.claimant, self.hold_s, self.clock())
            if claim is not Claim.HELD:
                return claim is Claim.MINE
            self.sleep(CLAIM_POLL_S)
