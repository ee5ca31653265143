"""Kafka I/O shared by the stream stages: clients, topic creation, and the consume→process→produce→commit loop.

Delivery is at-least-once: a batch's input offsets are committed only after every output of the batch is
acknowledged by the broker (acks=all). Downstream idempotence (deterministic ids, unique keys in the store)
turns the possible redelivery after a crash into exactly-once effects.
"""
from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from intentflow.metrics import BATCH_SIZE, BATCHES, RECORDS
from intentflow.settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutMessage:
    topic: str
    key: bytes | None
    value: bytes
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    # Runs once the broker acknowledged the message (e.g. mark a lead published, notify subscribers).
    on_delivered: Callable[[], None] | None = field(default=None, compare=False)


Processor = Callable[[Sequence], list[OutMessage]]


def make_producer(kafka: KafkaSettings, **overrides) -> KafkaProducer:
    config = dict(bootstrap_servers=kafka.bootstrap_servers.split(","), acks="all", linger_ms=kafka.linger_ms,
                  retries=10, max_in_flight_requests_per_connection=5, compression_type=None)
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(kafka: KafkaSettings, group_id: str | None, topics: Sequence[str] = (), **overrides):
    config = dict(bootstrap_servers=kafka.bootstrap_servers.split(","), group_id=group_id,
                  enable_auto_commit=False, auto_offset_reset="earliest",
                  max_poll_records=kafka.max_poll_records, session_timeout_ms=kafka.session_timeout_ms,
                  heartbeat_interval_ms=kafka.heartbeat_interval_ms)
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


def ensure_topics(kafka: KafkaSettings, topics: Sequence[str]) -> None:
    """Create missing topics; production clusters usually pre-create them, which is fine too."""
    admin = KafkaAdminClient(bootstrap_servers=kafka.bootstrap_servers.split(","))
    try:
        existing = set(admin.list_topics())
        missing = [t for t in dict.fromkeys(topics) if t not in existing]
        for topic in missing:
            try:
                admin.create_topics([NewTopic(topic, kafka.partitions, 1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def send_all(producer: KafkaProducer, messages: Sequence[OutMessage], timeout_s: float = 30.0) -> None:
    """Produce and wait for every acknowledgement; raises if any message was not acknowledged."""
    futures = [producer.send(m.topic, key=m.key, value=m.value, headers=list(m.headers)) for m in messages]
    producer.flush(timeout_s)
    for future in futures:
        future.get(timeout=timeout_s)
    for message in messages:
        if message.on_delivered:
            message.on_delivered()


def consumer_lag(kafka: KafkaSettings, group_id: str, topic: str) -> int:
    """Records in `topic` the group has not committed yet (used to wait until a pipeline is drained)."""
    probe = make_consumer(kafka, group_id, enable_auto_commit=False)
    try:
        partitions = probe.partitions_for_topic(topic) or set()
        tps = [TopicPartition(topic, p) for p in partitions]
        if not tps:
            return 0
        ends = probe.end_offsets(tps)
        return sum(max(0, ends[tp] - (probe.committed(tp) or 0)) for tp in tps)
    finally:
        probe.close(autocommit=False)


class StreamStage:
    """Consume a batch, process it, produce the outputs with acks=all, then commit the input offsets.

    A processor error on a batch falls back to record-by-record processing so one poison record goes to
    the dead-letter topic instead of stalling the partition. A produce failure seeks back and retries the
    batch, so nothing is committed that was not delivered.
    """

    def __init__(self, service: str, kafka: KafkaSettings, group_id: str, topic: str, process: Processor,
                 running: threading.Event, dead_letter: Callable[[object, str], OutMessage],
                 rollback: Callable[[list], None] | None = None):
        self.service = service
        self.kafka = kafka
        self.group_id = group_id
        self.topic = topic
        self.process = process
        self.running = running
        self.dead_letter = dead_letter
        self.rollback = rollback  # undoes in-memory effects of a batch whose outputs were not delivered
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run_logged, name=f"{service}-stream", daemon=True)

    def start(self) -> threading.Thread:
        self.thread.start()
        return self.thread

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:
            log.exception("stream loop crashed", extra={"topic": self.topic})
            raise

    def run(self) -> None:
        consumer = make_consumer(self.kafka, self.group_id, [self.topic])
        producer = make_producer(self.kafka)
        self.ready.set()
        log.info("consuming", extra={"topic": self.topic, "group": self.group_id})
        try:
            while self.running.is_set():
                polled = consumer.poll(timeout_ms=200)
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    continue
                started = time.perf_counter()
                try:
                    outputs = self._process_safely(records)
                    send_all(producer, outputs)
                except KafkaError:
                    log.exception("produce failed; retrying the batch", extra={"records": len(records)})
                    if self.rollback:
                        self.rollback(records)
                    self._rewind(consumer, records)
                    time.sleep(1.0)
                    continue
                self._commit(consumer, records)
                BATCHES.labels(self.service).observe(time.perf_counter() - started)
                BATCH_SIZE.labels(self.service).observe(len(records))
        finally:
            log.info("draining: flushing producer and closing consumer")
            producer.flush(30)
            producer.close(30)
            consumer.close(autocommit=False)

    def _process_safely(self, records: list) -> list[OutMessage]:
        try:
            return self.process(records)
        except Exception:
            log.exception("batch processing failed; retrying record by record", extra={"records": len(records)})
        outputs: list[OutMessage] = []
        for record in records:
            try:
                outputs.extend(self.process([record]))
            except Exception as exc:
                RECORDS.labels(self.service, "error").inc()
                outputs.append(self.dead_letter(record, f"processing error: {type(exc).__name__}: {exc}"))
        return outputs

    @staticmethod
    def _bounds(records: list) -> dict[TopicPartition, tuple[int, int]]:
        """First and last offset of the batch per partition."""
        bounds: dict[TopicPartition, tuple[int, int]] = {}
        for r in records:
            tp = TopicPartition(r.topic, r.partition)
            lo, hi = bounds.get(tp, (r.offset, r.offset))
            bounds[tp] = (min(lo, r.offset), max(hi, r.offset))
        return bounds

    def _commit(self, consumer: KafkaConsumer, records: list) -> None:
        offsets = {tp: OffsetAndMetadata(hi + 1, "", -1) for tp, (_lo, hi) in self._bounds(records).items()}
        try:
            consumer.commit(offsets)
        except CommitFailedError:
            # The group rebalanced mid-batch: the new owner reprocesses, and idempotence absorbs it.
            log.warning("commit failed after a rebalance; records will be redelivered")

    def _rewind(self, consumer: KafkaConsumer, records: list) -> None:
        for tp, (lo, _hi) in self._bounds(records).items():
            consumer.seek(tp, lo)
