"""Which records a match process that died had already put on a topic.

A process marks a lead published only after the broker acknowledged it; killed in between, it leaves a lead
on the topic that the store still calls unpublished. The process that takes its lapsed claim over reads the
topic from the moment that claim began and skips the keys it finds there, so the lead is not sent twice.
This reads only standard Kafka: ListOffsets by timestamp, then fetches up to the end offsets, keeping the
records whose own timestamps are late enough."""
from __future__ import annotations

import time
from collections.abc import Collection

from kafka import TopicPartition

from intentflow.kafka_io import make_consumer
from intentflow.settings import KafkaSettings

# Record timestamps are the producer host's clock (CreateTime) and the claim's the store client's: allow for
# hosts whose clocks disagree by up to this much.
CLOCK_SKEW_S = 60.0
POLL_MS = 500


class TopicScanTimeout(RuntimeError):
    """The topic could not be read to its end in time: the batch is retried rather than risk a duplicate."""


class DeliveredKeys:
    """`find(topic, keys, since)`: the keys among `keys` of records written to `topic` at or after `since`."""

    def __init__(self, kafka: KafkaSettings, timeout_s: float = 60.0):
        self.kafka = kafka
        self.timeout_s = timeout_s

    def find(self, topic: str, keys: Collection[bytes], since: float) -> set[bytes]:
        consumer = make_consumer(self.kafka, None, enable_auto_commit=False)
        try:
            partitions = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic) or ())]
            if not partitions:
                return set()
            consumer.assign(partitions)
            return self._scan(consumer, partitions, set(keys), since - CLOCK_SKEW_S)
        finally:
            consumer.close()

    def _scan(self, consumer, partitions: list[TopicPartition], keys: set[bytes], since: float) -> set[bytes]:
        since_ms = max(0, int(since * 1000))
        firsts = consumer.offsets_for_times({tp: since_ms for tp in partitions})
        beginnings, ends = consumer.beginning_offsets(partitions), consumer.end_offsets(partitions)
        unread: dict[TopicPartition, int] = {}
        for tp in partitions:
            first = firsts.get(tp)
            if first is None or ends.get(tp, 0) <= beginnings.get(tp, 0):  # nothing at or after `since`
                continue
            consumer.seek(tp, first.offset)
            # Read at least the batch holding the first record: some brokers report the end offset of a
            # partition before the last records of its last batch.
            unread[tp] = max(ends.get(tp, 0), first.offset + 1)
        consumer.pause(*[tp for tp in partitions if tp not in unread])
        found: set[bytes] = set()
        deadline = time.monotonic() + self.timeout_s
        while unread:
            if time.monotonic() > deadline:
                raise TopicScanTimeout(f"could not read {sorted(str(tp) for tp in unread)} to their end "
                                       f"within {self.timeout_s:.0f} s")
            for tp, records in consumer.poll(timeout_ms=POLL_MS).items():
                # A seek lands on a batch; earlier records of that batch may come back too.
                found.update(r.key for r in records if r.key in keys and r.timestamp >= since_ms)
                if tp in unread and consumer.position(tp) >= unread[tp]:
                    del unread[tp]
                    consumer.pause(tp)
        return found
