"""The match service's Kafka outputs (leads and HR signals) and what runs once the broker has them."""
from __future__ import annotations

from collections.abc import Callable

from intentflow.kafka_io import OutMessage
from intentflow.settings import KafkaSettings
from intentflow.v1 import match_pb2, signals_pb2
from intentflow.wire import encode
from services.match.subscriptions import SubscriptionHub


class Publisher:
    """Subscribe streams get an event only after the broker acknowledged it, so a subscriber never sees a
    lead or signal the topic lacks. `then` runs first, typically marking the record published in the
    store so a redelivered post does not publish it again."""

    def __init__(self, kafka: KafkaSettings, hub: SubscriptionHub):
        self.kafka = kafka
        self.hub = hub

    def lead(self, lead: signals_pb2.Lead, key: str, profile_id: str, lang: str,
             then: Callable[[], object] | None = None) -> OutMessage:
        return self._output(self.kafka.topic_leads, encode(lead, self.kafka.leads_format),
                            match_pb2.SubscribeEvent(lead=lead), key, profile_id, lang, then)

    def hr(self, signal: signals_pb2.HrSignal, key: str, profile_id: str, lang: str,
           then: Callable[[], object] | None = None) -> OutMessage:
        return self._output(self.kafka.topic_hr, encode(signal, self.kafka.hr_format),
                            match_pb2.SubscribeEvent(hr_signal=signal), key, profile_id, lang, then)

    def _output(self, topic: str, value: bytes, event: match_pb2.SubscribeEvent, key: str, profile_id: str,
                lang: str, then: Callable[[], object] | None) -> OutMessage:
        def delivered() -> None:
            if then is not None:
                then()
            self.hub.publish(event, profile_id, lang)
        return OutMessage(topic, key.encode(), value, on_delivered=delivered)
