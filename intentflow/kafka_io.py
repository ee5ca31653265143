"""Kafka I/O shared by the stream stages: clients, topic creation, and the consume→process→produce→commit loop.

Delivery is at-least-once: a batch's input offsets are committed only after every output of the batch is
acknowledged by the broker (acks=all). Downstream idempotence (deterministic ids, unique keys in the store)
turns the possible redelivery after a crash into exactly-once effects.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from kafka.errors import CommitFailedError, KafkaError, TopicAlreadyExistsError
from kafka.structs import OffsetAndMetadata, TopicPartition

from intentflow import topology
from intentflow.metrics import BATCH_SIZE, BATCHES, PARTITIONS, RECORDS
from intentflow.settings import KafkaSettings

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class OutMessage:
    topic: str
    key: bytes | None
    value: bytes | None  # None = a tombstone (the key's records are deleted by compaction)
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    # Runs once the broker acknowledged the message (e.g. mark a lead published, notify subscribers).
    on_delivered: Callable[[], None] | None = field(default=None, compare=False)


Processor = Callable[[Sequence], list[OutMessage]]


def client_security_config(kafka: KafkaSettings) -> dict[str, Any]:
    """kafka-python options for the broker's security protocol (TLS and SASL). Every producer, consumer and
    admin client is built with them, so a broker that needs credentials is reached the same way by all.

    The password file is read on each call: a client made after the secret was rotated (e.g. the producer
    recreated when the broker comes back) uses the new one."""
    config: dict[str, Any] = {"security_protocol": kafka.security_protocol}
    if kafka.uses_tls:
        config.update(ssl_cafile=kafka.ssl_cafile or None, ssl_certfile=kafka.ssl_certfile or None,
                      ssl_keyfile=kafka.ssl_keyfile or None)
    if kafka.uses_sasl:
        config.update(sasl_mechanism=kafka.sasl_mechanism, sasl_plain_username=kafka.sasl_username,
                      sasl_plain_password=_sasl_password(kafka))
    return config


def _sasl_password(kafka: KafkaSettings) -> str:
    if kafka.sasl_password:
        return kafka.sasl_password
    try:
        return Path(kafka.sasl_password_file).read_text("utf-8").strip()
    except OSError as exc:
        raise ValueError(f"KAFKA_SASL_PASSWORD_FILE={kafka.sasl_password_file}: {exc.strerror}") from None


def _client_config(kafka: KafkaSettings) -> dict[str, Any]:
    """What every client needs: where the brokers are and how to talk to them securely."""
    return {"bootstrap_servers": kafka.bootstrap_servers.split(","), **client_security_config(kafka)}


def make_producer(kafka: KafkaSettings, **overrides) -> KafkaProducer:
    """A producer that fails fast when the broker is unreachable (max_block_ms, delivery_timeout_ms)
    instead of blocking its caller for minutes.

    Idempotence is off (kafka-python turns it on by default): a retried batch may then be written twice,
    which the pipeline absorbs (deterministic ids, unique keys). With it on, a broker that saves a batch's
    sequence number before the batch itself (the embedded tansu does) and stops in between answers the
    retry DUPLICATE_SEQUENCE_NUMBER, which the client takes for an acknowledgement: the input offsets are
    committed and the records are lost."""
    config = dict(_client_config(kafka), acks="all", enable_idempotence=False, linger_ms=kafka.linger_ms,
                  retries=10, max_in_flight_requests_per_connection=5, compression_type=None,
                  max_block_ms=kafka.max_block_ms, delivery_timeout_ms=kafka.delivery_timeout_ms,
                  request_timeout_ms=min(30000, kafka.delivery_timeout_ms - kafka.linger_ms),
                  max_request_size=max(kafka.max_message_bytes + 1024, 1048576),
                  bootstrap_timeout_ms=kafka.max_block_ms)
    config.update(overrides)
    return KafkaProducer(**config)


def make_consumer(kafka: KafkaSettings, group_id: str | None, topics: Sequence[str] = (), **overrides):
    config = dict(_client_config(kafka), group_id=group_id,
                  enable_auto_commit=False, auto_offset_reset="earliest",
                  max_poll_records=kafka.max_poll_records, session_timeout_ms=kafka.session_timeout_ms,
                  heartbeat_interval_ms=kafka.heartbeat_interval_ms)
    config.update(overrides)
    return KafkaConsumer(*topics, **config)


class ProducerHolder:
    """One producer, created on first use and recreated after the broker comes back: a producer built
    while the broker was down (or that saw it restart) is dropped rather than trusted."""

    def __init__(self, kafka: KafkaSettings, **overrides):
        self.kafka = kafka
        self.overrides = overrides
        self._producer: KafkaProducer | None = None
        self._lock = threading.Lock()

    def get(self) -> KafkaProducer:
        with self._lock:
            if self._producer is None:
                self._producer = make_producer(self.kafka, **self.overrides)
            return self._producer

    def reset(self) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.close(timeout=1)
            except Exception:
                log.warning("closing the old producer failed", exc_info=True)

    def close(self, timeout_s: float = 30) -> None:
        with self._lock:
            producer, self._producer = self._producer, None
        if producer is not None:
            try:
                producer.flush(timeout_s)
            except KafkaError:  # the broker is gone: what was not acknowledged was not committed either
                log.warning("producer did not flush on close", exc_info=True)
            producer.close(timeout_s)


def broker_reachable(kafka: KafkaSettings, timeout_s: float = 1.0) -> bool:
    """Whether any bootstrap server accepts a TCP connection (plain Kafka protocol, nothing broker-specific)."""
    for server in kafka.bootstrap_servers.split(","):
        host, _, port = server.strip().rpartition(":")
        if not host or not port.isdigit():
            continue
        try:
            with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_s):
                return True
        except OSError:
            continue
    return False


def topic_partitions(kafka: KafkaSettings) -> dict[str, int]:
    """Every topic of the topology under its configured name, with the partitions it is created with."""
    return {kafka.name(t): topology.partitions_of(t, kafka.partitions) for t in topology.TOPICS}


def ensure_topics(kafka: KafkaSettings, topics: Sequence[str] | Mapping[str, int]) -> None:
    """Create missing topics (with the partitions given, else KAFKA_TOPIC_PARTITIONS); production clusters
    usually pre-create them, which is fine too: existing topics are left as they are."""
    wanted = dict(topics) if isinstance(topics, Mapping) else dict.fromkeys(topics, kafka.partitions)
    admin = KafkaAdminClient(**_client_config(kafka), bootstrap_timeout_ms=max(kafka.max_block_ms, 1000))
    try:
        existing = set(admin.list_topics())
        for topic, partitions in wanted.items():
            if topic in existing:
                continue
            try:
                admin.create_topics([NewTopic(topic, partitions or kafka.partitions, 1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


def dead_letter_message(topic: str, key: bytes | None, value: bytes | None, headers: list[tuple[str, bytes]],
                        max_bytes: int) -> OutMessage:
    """A dead letter that always fits: a value above `max_bytes` keeps its first bytes, and the header
    `truncated` gives the original size. Headers and key are capped too, so the DLQ never refuses it."""
    value = value or b""
    headers = [(name, data[:4096]) for name, data in headers]
    if len(value) > max_bytes:
        headers.append(("truncated", str(len(value)).encode()))
        value = value[:max_bytes]
    return OutMessage(topic, key[:4096] if key else key, value, headers)


def message_size(message: OutMessage) -> int:
    """Bytes a message takes in a record batch, roughly (value, key, headers and some overhead)."""
    return (len(message.value or b"") + len(message.key or b"")
            + sum(len(name) + len(data) + 8 for name, data in message.headers) + 64)


class DeliveryFailed(KafkaError):
    """Some messages of a batch were not acknowledged; `delivered` lists those that were."""

    def __init__(self, cause: Exception, delivered: list[OutMessage]):
        super().__init__(f"{type(cause).__name__}: {cause}")
        self.cause = cause
        self.delivered = delivered


def send_all(producer: KafkaProducer, messages: Sequence[OutMessage], timeout_s: float = 30.0) -> None:
    """Produce and wait for every acknowledgement; raises DeliveryFailed if any message was not acknowledged."""
    futures = []
    try:
        for m in messages:
            futures.append(producer.send(m.topic, key=m.key, value=m.value, headers=list(m.headers)))
        producer.flush(timeout_s)
    except Exception as exc:
        raise DeliveryFailed(exc, _acknowledged(messages, futures)) from exc
    failure = None
    for future in futures:
        try:
            future.get(timeout=timeout_s)
        except Exception as exc:
            failure = failure or exc
    if failure is not None:
        raise DeliveryFailed(failure, _acknowledged(messages, futures)) from failure
    for message in messages:
        if message.on_delivered:
            message.on_delivered()


def _acknowledged(messages: Sequence[OutMessage], futures: list) -> list[OutMessage]:
    return [m for m, f in zip(messages, futures) if f.is_done and f.succeeded()]


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
    the dead-letter topic instead of stalling the partition; so does a record whose output would be larger
    than the broker accepts. Dead letters are truncated to fit (`dead_letter_message`), so they are never
    refused. A produce failure seeks back and retries the batch with a new producer, so nothing is
    committed that was not delivered; dead letters already acknowledged in a failed attempt are not sent
    again, so every bad record reaches the DLQ once.
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
        self.producer = ProducerHolder(kafka)
        self.skips_tombstones = any(t.tombstoned and kafka.name(t) == topic for t in topology.TOPICS)
        self.ready = threading.Event()
        self.thread = threading.Thread(target=self._run_logged, name=f"{service}-stream", daemon=True)
        self._dead_lettered: set[bytes] = set()  # `source` of dead letters acknowledged, batch not committed

    def start(self) -> threading.Thread:
        self.thread.start()
        return self.thread

    def reset_producer(self) -> None:
        """Drop the producer; the next batch makes a new one (called when the broker comes back)."""
        self.producer.reset()

    def _run_logged(self) -> None:
        try:
            self.run()
        except Exception:
            log.exception("stream loop crashed", extra={"topic": self.topic})
            raise

    def _consumer(self) -> KafkaConsumer:
        """The consumer; waits (while running) for a broker to bootstrap from."""
        while True:
            try:
                return make_consumer(self.kafka, self.group_id, [self.topic],
                                     bootstrap_timeout_ms=self.kafka.max_block_ms)
            except KafkaError as exc:
                if not self.running.is_set():
                    raise
                log.warning("broker unreachable; retrying", extra={"topic": self.topic, "error": str(exc)})
                time.sleep(1.0)

    def run(self) -> None:
        consumer = self._consumer()
        self.ready.set()
        log.info("consuming", extra={"topic": self.topic, "group": self.group_id})
        failures = 0
        try:
            while self.running.is_set():
                try:
                    polled = consumer.poll(timeout_ms=200)
                except KafkaError:
                    log.warning("poll failed; retrying", exc_info=True)
                    time.sleep(1.0)
                    continue
                # Shows, per process, that a consumer group spreads the partitions (several replicas).
                PARTITIONS.labels(self.service).set(len(consumer.assignment()))
                records = [r for batch in polled.values() for r in batch]
                if not records:
                    continue
                started = time.perf_counter()
                live = self._live(records)
                outputs = self._process_safely(live) if live else []
                try:
                    send_all(self.producer.get(), self._not_yet_delivered(outputs),
                             timeout_s=self.kafka.delivery_timeout_ms / 1000 + 5)
                except KafkaError as exc:
                    failures += 1
                    log.warning("produce failed; retrying the batch with a new producer",
                                extra={"records": len(records), "error": str(exc), "attempt": failures})
                    self._remember_dead_letters(getattr(exc, "delivered", []))
                    if self.rollback:
                        self.rollback(records)
                    self.producer.reset()
                    self._rewind(consumer, records)
                    time.sleep(min(10.0, 0.5 * 2 ** min(failures, 5)))
                    continue
                failures = 0
                self._commit(consumer, records)
                self._dead_lettered.clear()
                BATCHES.labels(self.service).observe(time.perf_counter() - started)
                BATCH_SIZE.labels(self.service).observe(len(records))
        finally:
            log.info("draining: flushing producer and closing consumer")
            try:
                self.producer.close(30)
            except Exception:
                log.warning("producer did not flush on close", exc_info=True)
            consumer.close(autocommit=False)

    def _live(self, records: list) -> list:
        """The records to process: on a topic `intentflow erase` writes tombstones to, those are deletion
        markers (committed with the batch, never processed or dead-lettered)."""
        return [r for r in records if r.value is not None] if self.skips_tombstones else records

    def _fits(self, message: OutMessage) -> OutMessage | None:
        """The message as it will be produced (a dead letter truncated to fit), or None if it is too large."""
        if message.topic == self.kafka.topic_dlq:
            if len(message.value) > self.kafka.dlq_max_bytes or message_size(message) > self.kafka.max_message_bytes:
                return dead_letter_message(message.topic, message.key, message.value, list(message.headers),
                                           self.kafka.dlq_max_bytes)
            return message
        return message if message_size(message) <= self.kafka.max_message_bytes else None

    def _checked(self, outputs: list[OutMessage]) -> list[OutMessage] | None:
        fitted = [self._fits(m) for m in outputs]
        return None if any(m is None for m in fitted) else fitted

    def _process_safely(self, records: list) -> list[OutMessage]:
        try:
            outputs = self._checked(self.process(records))
            if outputs is not None:
                return outputs
            log.warning("an output is larger than the broker accepts; retrying record by record",
                        extra={"records": len(records)})
        except Exception:
            log.exception("batch processing failed; retrying record by record", extra={"records": len(records)})
        if self.rollback:  # the failed attempt must leave no trace (e.g. posts counted as seen)
            self.rollback(records)
        outputs: list[OutMessage] = []
        for record in records:
            try:
                produced = self.process([record])
            except Exception as exc:
                RECORDS.labels(self.service, "error").inc()
                outputs.append(self._fits(self.dead_letter(record, f"processing error: {type(exc).__name__}: {exc}")))
                continue
            checked = self._checked(produced)
            if checked is None:
                RECORDS.labels(self.service, "error").inc()
                size = max(message_size(m) for m in produced)
                outputs.append(self._fits(self.dead_letter(
                    record, f"output too large: {size} bytes, the limit is {self.kafka.max_message_bytes}")))
            else:
                outputs.extend(checked)
        return outputs

    @staticmethod
    def _source(message: OutMessage) -> bytes | None:
        return next((data for name, data in message.headers if name == "source"), None)

    def _remember_dead_letters(self, delivered: list[OutMessage]) -> None:
        for message in delivered:
            if message.topic == self.kafka.topic_dlq and self._source(message):
                self._dead_lettered.add(self._source(message))

    def _not_yet_delivered(self, outputs: list[OutMessage]) -> list[OutMessage]:
        if not self._dead_lettered:
            return outputs
        return [m for m in outputs
                if not (m.topic == self.kafka.topic_dlq and self._source(m) in self._dead_lettered)]

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
        except KafkaError as exc:
            # The broker went away after acknowledging the outputs: a later commit covers these offsets,
            # or they are redelivered after a restart and idempotence absorbs it.
            log.warning("commit failed; records may be redelivered", extra={"error": str(exc)})

    def _rewind(self, consumer: KafkaConsumer, records: list) -> None:
        for tp, (lo, _hi) in self._bounds(records).items():
            consumer.seek(tp, lo)
