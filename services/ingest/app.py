"""Ingest service main: the posts.raw stream and the SubmitPosts API share one pipeline."""
from __future__ import annotations

import logging
import threading

import grpc

from intentflow import auth, topology
from intentflow.kafka_io import OutMessage, ProducerHolder, StreamStage, dead_letter_message, send_all
from intentflow.metrics import RECORDS, RPCS
from intentflow.service import dead_letter_for, serve, start_runtime
from intentflow.settings import IngestSettings, from_env
from intentflow.v1 import ingest_pb2, ingest_pb2_grpc
from intentflow.wire import BadRecord, decode_post, encode, post_key
from services.ingest.pipeline import Decision, IngestPipeline

SERVICE = topology.INGEST
MAX_BATCH = 1000
OUTCOME = {ingest_pb2.VERDICT_ACCEPTED: "accepted", ingest_pb2.VERDICT_DUPLICATE: "duplicate",
           ingest_pb2.VERDICT_REJECTED: "rejected"}
ROLES = {"SubmitPosts": {auth.INGEST, auth.ADMIN}}  # who may call what when auth is on
log = logging.getLogger(__name__)


class IngestHandler:
    """Turns decisions into output messages; used by the stream and by the API."""

    def __init__(self, settings: IngestSettings):
        self.kafka = settings.kafka
        self.pipeline = IngestPipeline(settings)
        self.dead_letter = dead_letter_for(settings.kafka, SERVICE)

    def outputs_for(self, decision: Decision, key: bytes | None, raw_value: bytes, record=None) -> list[OutMessage]:
        RECORDS.labels(SERVICE, OUTCOME[decision.verdict]).inc()
        if decision.verdict == ingest_pb2.VERDICT_ACCEPTED:
            return [OutMessage(self.kafka.topic_clean, post_key(decision.post).encode(), encode(decision.post))]
        if decision.verdict == ingest_pb2.VERDICT_REJECTED:
            if record is not None:  # from posts.raw: the dead letter names its source record
                return [self.dead_letter(record, decision.reason)]
            return [dead_letter_message(self.kafka.topic_dlq, key, raw_value,
                                        [("reason", decision.reason.encode()), ("service", SERVICE.encode())],
                                        self.kafka.dlq_max_bytes)]
        return []

    def process(self, records) -> list[OutMessage]:
        outputs: list[OutMessage] = []
        for record in records:
            try:
                post = decode_post(record.value)
            except BadRecord as exc:
                RECORDS.labels(SERVICE, "rejected").inc()
                outputs.append(self.dead_letter(record, str(exc)))
                continue
            outputs.extend(self.outputs_for(self.pipeline.admit(post), record.key, record.value, record))
        return outputs

    def rollback(self, records) -> None:
        """The batch was not delivered and will be re-read: its posts must not count as seen."""
        for record in records:
            try:
                self.pipeline.seen.forget(self.pipeline.seen_keys(decode_post(record.value)))
            except BadRecord:
                continue


class IngestServicer(ingest_pb2_grpc.IngestServiceServicer):
    def __init__(self, handler: IngestHandler, producer: ProducerHolder, broker_up: threading.Event | None = None):
        self.handler = handler
        self.producer = producer
        self.broker_up = broker_up  # cleared while the broker is unreachable: fail fast instead of hanging

    def _unavailable(self, context, message: str) -> None:
        RPCS.labels(SERVICE, "SubmitPosts", "UNAVAILABLE").inc()
        context.abort(grpc.StatusCode.UNAVAILABLE, message)

    def SubmitPosts(self, request, context):
        if len(request.posts) > MAX_BATCH:
            RPCS.labels(SERVICE, "SubmitPosts", "INVALID_ARGUMENT").inc()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_BATCH} posts per call")
        if self.broker_up is not None and not self.broker_up.is_set():
            self._unavailable(context, f"Kafka broker {self.handler.kafka.bootstrap_servers} is unreachable; "
                                       "nothing was accepted, retry the batch later")
        verdicts, outputs, decisions = [], [], []
        for post in request.posts:
            decision = self.handler.pipeline.admit(post)
            decisions.append(decision)
            outputs.extend(self.handler.outputs_for(decision, post_key(post).encode(), post.SerializeToString()))
            verdicts.append(ingest_pb2.PostVerdict(
                post_id=post.id, verdict=decision.verdict, reason=decision.reason,
                lang=decision.post.lang if decision.post else ""))
        try:
            send_all(self.producer.get(), outputs, timeout_s=self.handler.kafka.delivery_timeout_ms / 1000 + 5)
        except Exception as exc:  # any delivery failure: the caller may retry the whole batch
            self.handler.pipeline.forget(decisions)
            self.producer.reset()  # a new producer for the next call, in case this one is stuck
            self._unavailable(context, f"could not publish to Kafka at {self.handler.kafka.bootstrap_servers}: "
                                       f"{exc}; nothing was accepted, retry the batch")
        RPCS.labels(SERVICE, "SubmitPosts", "OK").inc()
        return ingest_pb2.SubmitPostsResponse(verdicts=verdicts)


def main() -> None:
    settings = from_env(IngestSettings)
    runtime = start_runtime(SERVICE, settings.server, settings.grpc_port, settings.metrics_port)
    handler = IngestHandler(settings)
    producer = ProducerHolder(settings.kafka)
    servicer = IngestServicer(handler, producer, runtime.broker_up)
    runtime.add_service(
        ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name,
        lambda server: ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, server), roles=ROLES)
    serve(runtime, settings.kafka,
          lambda: StreamStage(SERVICE, settings.kafka, settings.group_id, settings.kafka.topic_raw,
                              handler.process, runtime.running, handler.dead_letter, handler.rollback),
          on_stop=lambda: producer.close(30), on_broker_return=producer.reset)
