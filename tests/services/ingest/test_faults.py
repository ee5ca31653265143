"""Limits and poison records on the real broker: oversized posts, 2 MB records, 10,000 malformed records and
3,000 malformed SubmitPosts calls."""
from __future__ import annotations

import contextlib
import json
import random
import threading
import time
import uuid
from collections import Counter

import grpc
import pytest
from google.protobuf.timestamp_pb2 import Timestamp
from grpc_health.v1 import health_pb2

from intentflow import auth
from intentflow.kafka_io import (
    ProducerHolder,
    StreamStage,
    consumer_lag,
    ensure_topics,
    make_consumer,
    make_producer,
    topic_partitions,
)
from intentflow.runtime import ServiceRuntime
from intentflow.settings import IngestSettings, KafkaSettings, ServerSettings
from intentflow.v1 import ingest_pb2, ingest_pb2_grpc, post_pb2
from intentflow.wire import decode
from services.ingest.app import ROLES, SERVICE, IngestHandler, IngestServicer
from tests.integration.helpers import eventually, fuzz_service, fuzz_tokens, health_status
from tools.broker import EmbeddedBroker

FUZZ_RECORDS = 10000
RPC_FUZZ_CALLS = 3000  # with the match fuzz (tests/services/match/test_fuzz.py): 10,000 malformed RPCs
INGEST = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"]


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    with EmbeddedBroker(log_file=tmp_path_factory.mktemp("broker") / "broker.log") as running:
        yield running


@pytest.fixture
def settings(broker) -> IngestSettings:
    uid = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_raw=f"raw-{uid}",
                          topic_clean=f"clean-{uid}", topic_dlq=f"dlq-{uid}")
    ensure_topics(kafka, topic_partitions(kafka))
    return IngestSettings(kafka=kafka, group_id=f"ingest-{uid}")


def read_all(kafka: KafkaSettings, topic: str) -> list:
    """Every record of `topic` as it is now."""
    consumer = make_consumer(kafka, None, [topic], consumer_timeout_ms=2000, max_partition_fetch_bytes=4 << 20,
                             fetch_max_bytes=8 << 20)
    records = list(consumer)
    consumer.close()
    return records


class RunningStage:
    def __init__(self, settings: IngestSettings):
        self.handler = IngestHandler(settings)
        self.running = threading.Event()
        self.running.set()
        self.stage = StreamStage(SERVICE, settings.kafka, settings.group_id, settings.kafka.topic_raw,
                                 self.handler.process, self.running, self.handler.dead_letter, self.handler.rollback)
        self.thread = self.stage.start()

    def drained(self, kafka: KafkaSettings, group: str) -> bool:
        assert self.thread.is_alive(), "the stream loop crashed"
        return consumer_lag(kafka, group, kafka.topic_raw) == 0

    def stop(self) -> None:
        self.running.clear()
        self.thread.join(60)


def produce(kafka: KafkaSettings, records: list[tuple[bytes | None, bytes | None]]) -> None:
    producer = make_producer(kafka, max_request_size=8 << 20)
    for key, value in records:
        producer.send(kafka.topic_raw, key=key, value=value)
    producer.flush(60)
    producer.close()


def valid_post(text: str = "Посоветуйте ноутбук для учёбы до 40к") -> bytes:
    return json.dumps({"id": uuid.uuid4().hex, "network": "vk", "author": "anna", "text": text}).encode()


# -- SubmitPosts ------------------------------------------------------------------------------------------
@contextlib.contextmanager
def serving(settings: IngestSettings, tokens_file: str = ""):
    """The ingest API on a real server on port 0 (auth on when a tokens file is given); yields its runtime."""
    runtime = ServiceRuntime("ingest-test", ServerSettings(grace_seconds=0.5, tokens_file=tokens_file, rate_per_s=0),
                             0, 0)
    producer = ProducerHolder(settings.kafka)
    servicer = IngestServicer(IngestHandler(settings), producer, runtime.broker_up)
    runtime.add_service(INGEST.full_name, lambda s: ingest_pb2_grpc.add_IngestServiceServicer_to_server(servicer, s),
                        roles=ROLES)
    runtime.start()
    runtime.mark_serving()
    try:
        yield runtime
    finally:
        runtime.shutdown()
        producer.close(5)


@pytest.fixture
def ingest_api(settings):
    with serving(settings) as runtime, grpc.insecure_channel(
            f"127.0.0.1:{runtime.grpc_port}", options=[("grpc.max_send_message_length", 8 << 20)]) as channel:
        yield ingest_pb2_grpc.IngestServiceStub(channel), runtime


def test_oversized_posts_are_rejected_with_a_reason_never_unavailable(settings, ingest_api):
    stub, _ = ingest_api
    huge = post_pb2.Post(id="huge", network="vk", text="б" * 1_000_000)  # 2 MB of UTF-8
    long = post_pb2.Post(id="long", network="vk", text="слово " * 5000)
    fine = post_pb2.Post(id="fine", network="vk", text="Посоветуйте ноутбук для учёбы до 40к")
    response = stub.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[huge, long, fine]), timeout=60)
    verdicts = {v.post_id: v for v in response.verdicts}
    assert verdicts["huge"].verdict == ingest_pb2.VERDICT_REJECTED and "too large" in verdicts["huge"].reason
    assert verdicts["long"].verdict == ingest_pb2.VERDICT_REJECTED and "too long" in verdicts["long"].reason
    assert verdicts["fine"].verdict == ingest_pb2.VERDICT_ACCEPTED
    dead = {r.key: r for r in read_all(settings.kafka, settings.kafka.topic_dlq)}
    assert set(dead) == {b"vk:huge", b"vk:long"}
    headers = dict(dead[b"vk:huge"].headers)
    assert len(dead[b"vk:huge"].value) == settings.kafka.dlq_max_bytes
    assert int(headers["truncated"]) == huge.ByteSize() and headers["reason"].startswith(b"post is too large")


def test_a_created_at_in_the_future_is_clamped_to_now(settings, ingest_api):
    stub, _ = ingest_api
    tomorrow = Timestamp(seconds=int(time.time()) + 86400)
    post = post_pb2.Post(id="future", network="vk", text="Хочу купить велосипед, что посоветуете?",
                         created_at=tomorrow)
    verdict = stub.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[post]), timeout=60).verdicts[0]
    assert verdict.verdict == ingest_pb2.VERDICT_ACCEPTED and "clamped" in verdict.reason
    [record] = read_all(settings.kafka, settings.kafka.topic_clean)
    assert decode(record.value, post_pb2.Post()).created_at.seconds <= time.time()


def test_submit_posts_fails_fast_while_the_broker_is_down(ingest_api):
    stub, runtime = ingest_api
    runtime.broker_up.clear()  # what the broker watch does when the broker is unreachable
    with pytest.raises(grpc.RpcError) as failure:
        stub.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[post_pb2.Post(id="1", network="vk", text="hi")]),
                         timeout=60)
    assert failure.value.code() == grpc.StatusCode.UNAVAILABLE and "unreachable" in failure.value.details()


def test_3000_malformed_submit_posts_calls_each_get_a_proper_status_and_the_server_stays_up(settings, tmp_path):
    tokens_file = tmp_path / "tokens.json"
    store = auth.TokenStore(tokens_file)
    tokens = {role: store.create(role, role)[1] for role in auth.ROLES}
    with serving(settings, str(tokens_file)) as runtime:
        address = f"127.0.0.1:{runtime.grpc_port}"
        report = fuzz_service(address, INGEST, fuzz_tokens(tokens, ROLES), RPC_FUZZ_CALLS, seed=15)
        print(f"\nIngestService: {report.summary()}")
        assert not report.improper, "\n".join(report.improper[:20])

        assert health_status(address) == health_pb2.HealthCheckResponse.SERVING
        with auth.channel(address, token=tokens[auth.INGEST]) as channel:
            verdict = ingest_pb2_grpc.IngestServiceStub(channel).SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[
                post_pb2.Post(id="after-fuzz", network="vk", text="Посоветуйте ноутбук для учёбы")]), timeout=60)
        assert verdict.verdicts[0].verdict == ingest_pb2.VERDICT_ACCEPTED


# -- the posts.raw stream ---------------------------------------------------------------------------------
def test_a_2_mb_record_lands_on_the_dlq_once_truncated_and_the_stream_continues(settings):
    kafka = settings.kafka
    big = b'{"id": "big", "network": "vk", "text": "' + b"x" * (2 << 20) + b'"}'
    produce(kafka, [(b"vk:big", big), (b"vk:after", valid_post())])
    stage = RunningStage(settings)
    try:
        eventually(lambda: stage.drained(kafka, settings.group_id), timeout_s=120)
    finally:
        stage.stop()
    [dead] = read_all(kafka, kafka.topic_dlq)
    headers = dict(dead.headers)
    assert dead.key == b"vk:big" and len(dead.value) == kafka.dlq_max_bytes and dead.value == big[:len(dead.value)]
    assert int(headers["truncated"]) == len(big) and headers["source"].startswith(kafka.topic_raw.encode())
    assert headers["reason"].startswith(b"post is too large")
    assert len(read_all(kafka, kafka.topic_clean)) == 1, "the post after the big one went through"


def malformed(rng: random.Random, n: int) -> bytes | None:
    """One of many kinds of bad input; none of them is a valid post."""
    kind = n % 12
    if kind == 0:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
    if kind == 1:
        return b"{" + bytes(rng.getrandbits(8) for _ in range(rng.randint(0, 200)))
    if kind == 2:
        return json.dumps({"id": rng.choice([None, 5, [], {}]), "network": "vk", "text": "hi"}).encode()
    if kind == 3:
        return json.dumps({"id": str(n), "network": "", "text": "привет"}).encode()
    if kind == 4:
        return json.dumps({"id": str(n), "network": "vk", "text": "\u200b \n\t"}).encode()
    if kind == 5:
        valid = post_pb2.Post(id=str(n), network="vk", text="Посоветуйте ноутбук").SerializeToString()
        return valid[:rng.randint(1, len(valid) - 1)]
    if kind == 6:
        return b""
    if kind == 7:
        return json.dumps({"id": str(n), "network": "vk", "text": "ok",
                           "metadata": {str(i): "v" for i in range(100)}}).encode()
    if kind == 8:
        return ("[" * 200 + "]" * 200).encode() if n % 24 == 8 else b'{"id": "' + b"\xff\xfe" * 10 + b'"}'
    if kind == 9:
        return json.dumps({"id": str(n), "network": "vk", "text": "a" * 30000}).encode()
    if kind == 10:
        return json.dumps({"id": str(n), "network": "vk", "text": "hi", "created_at": "yesterday"}).encode()
    return None if n % 24 == 11 else b'{"id": "x", "network": "vk", "text": "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"}'


def test_10000_malformed_records_never_crash_the_stage_and_each_reaches_the_dlq_once(settings):
    kafka = settings.kafka
    rng = random.Random(15)
    produce(kafka, [(f"fuzz-{n}".encode(), malformed(rng, n)) for n in range(FUZZ_RECORDS)])
    stage = RunningStage(settings)
    try:
        # Lag alone is not enough here: tansu reports a partition's end as the start of its last batch + 1,
        # so a group can look caught up while the last batch is still being processed.
        eventually(lambda: stage.drained(kafka, settings.group_id)
                   and len(read_all(kafka, kafka.topic_dlq)) >= FUZZ_RECORDS, timeout_s=280, interval_s=2)
    finally:
        stage.stop()
    dead = read_all(kafka, kafka.topic_dlq)
    sources = Counter(dict(r.headers)["source"] for r in dead)
    reasons = Counter(dict(r.headers)["reason"].decode().split(":")[0] for r in dead)
    print(f"\n{FUZZ_RECORDS} malformed records, {len(dead)} dead letters from {len(sources)} sources; reasons: "
          + ", ".join(f"{reason} {n}" for reason, n in reasons.most_common()))
    assert len(sources) == FUZZ_RECORDS and set(sources.values()) == {1}, "every bad record in the DLQ once"
    assert {r.key for r in dead} == {f"fuzz-{n}".encode() for n in range(FUZZ_RECORDS)}
    assert all(dict(r.headers)["reason"] for r in dead)
    assert read_all(kafka, kafka.topic_clean) == []
