"""What every service main does: logs, runtime, topics, the stream stage, readiness, and orderly shutdown."""
from __future__ import annotations

import logging
from collections.abc import Callable

from kafka.errors import KafkaError

from intentflow import logs, topology
from intentflow.kafka_io import (
    OutMessage,
    StreamStage,
    broker_reachable,
    dead_letter_message,
    ensure_topics,
    topic_partitions,
)
from intentflow.runtime import ServiceRuntime
from intentflow.settings import KafkaSettings, ServerSettings

log = logging.getLogger(__name__)


def all_topics(kafka: KafkaSettings) -> list[str]:
    return [kafka.name(topic) for topic in topology.TOPICS]


def dead_letter_for(kafka: KafkaSettings, service: str) -> Callable[[object, str], OutMessage]:
    """Wrap a consumed record that could not be handled, keeping the original bytes (the first
    KAFKA_DLQ_MAX_BYTES of them, header `truncated` = original size) and the reason."""
    def dead_letter(record, reason: str) -> OutMessage:
        headers = [("reason", reason.encode("utf-8")), ("service", service.encode()),
                   ("source", f"{record.topic}/{record.partition}/{record.offset}".encode())]
        return dead_letter_message(kafka.topic_dlq, record.key, record.value, headers, kafka.dlq_max_bytes)
    return dead_letter


def start_runtime(name: str, server: ServerSettings, grpc_port: int, metrics_port: int,
                  max_workers: int = 16) -> ServiceRuntime:
    """`max_workers`: threads of the gRPC server, one per call in progress (a stream holds one for its life)."""
    logs.configure(name, server.log_level)
    runtime = ServiceRuntime(name, server, grpc_port, metrics_port, max_workers)
    runtime.install_signal_handlers()
    return runtime


def serve(runtime: ServiceRuntime, kafka: KafkaSettings, load: Callable[[], StreamStage],
          on_stop: Callable[[], None] | None = None, on_broker_return: Callable[[], None] | None = None) -> None:
    """Serve health (NOT_SERVING) while `load` brings up models and indexes, then consume until
    SIGTERM/SIGINT, drain the stage and stop with the grace period.

    The broker is watched all along: NOT_SERVING while it is unreachable (also at start); when it comes
    back, topics are created again if missing, the stage's producer and `on_broker_return` (the service's
    own producers) are recreated, and the service serves again."""
    runtime.start()
    try:
        stage = load()
    except Exception:
        log.exception("start-up failed")
        runtime.shutdown(before_stop=on_stop)
        raise SystemExit(1) from None
    try:
        ensure_topics(kafka, topic_partitions(kafka))
    except KafkaError as exc:
        log.error("broker unreachable at start; NOT_SERVING until it is back", extra={"error": str(exc)})
        runtime.broker_up.clear()

    def broker_returned() -> None:
        ensure_topics(kafka, topic_partitions(kafka))
        stage.reset_producer()
        if on_broker_return:
            on_broker_return()

    worker = stage.start()
    runtime.watch_broker(lambda: broker_reachable(kafka), broker_returned, kafka.broker_check_s)
    if not stage.ready.wait(60):
        log.error("stream stage did not start")
    runtime.mark_serving()
    runtime.wait([worker])
    runtime.shutdown([worker], before_stop=on_stop)
    if runtime.failed:
        raise SystemExit(1)
