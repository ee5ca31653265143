"""What every service main does: logs, runtime, topics, the stream stage, readiness, and orderly shutdown."""
from __future__ import annotations

import logging
from collections.abc import Callable

from intentflow import logs, topology
from intentflow.kafka_io import OutMessage, StreamStage, ensure_topics
from intentflow.runtime import ServiceRuntime
from intentflow.settings import KafkaSettings, ServerSettings

log = logging.getLogger(__name__)


def all_topics(kafka: KafkaSettings) -> list[str]:
    return [kafka.name(topic) for topic in topology.TOPICS]


def dead_letter_for(kafka: KafkaSettings, service: str) -> Callable[[object, str], OutMessage]:
    """Wrap a consumed record that could not be handled, keeping the original bytes and the reason."""
    def dead_letter(record, reason: str) -> OutMessage:
        headers = [("reason", reason.encode("utf-8")), ("service", service.encode()),
                   ("source", f"{record.topic}/{record.partition}/{record.offset}".encode())]
        return OutMessage(kafka.topic_dlq, record.key, record.value or b"", headers)
    return dead_letter


def start_runtime(name: str, server: ServerSettings, grpc_port: int, metrics_port: int) -> ServiceRuntime:
    logs.configure(name, server.log_level)
    runtime = ServiceRuntime(name, server, grpc_port, metrics_port)
    runtime.install_signal_handlers()
    return runtime


def serve(runtime: ServiceRuntime, kafka: KafkaSettings, load: Callable[[], StreamStage],
          on_stop: Callable[[], None] | None = None) -> None:
    """Serve health (NOT_SERVING) while `load` brings up models and indexes, then consume until
    SIGTERM/SIGINT, drain the stage and stop with the grace period."""
    runtime.start()
    try:
        stage = load()
        ensure_topics(kafka, all_topics(kafka))
    except Exception:
        log.exception("start-up failed")
        runtime.shutdown(before_stop=on_stop)
        raise SystemExit(1) from None
    worker = stage.start()
    if not stage.ready.wait(60):
        log.error("stream stage did not start")
    runtime.mark_serving()
    runtime.wait([worker])
    runtime.shutdown([worker], before_stop=on_stop)
    if runtime.failed:
        raise SystemExit(1)
