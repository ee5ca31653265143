"""StreamStage's poison-record handling and dead letters, without a broker; the producers' settings, on the
embedded one."""
from __future__ import annotations

import threading
from types import SimpleNamespace

from intentflow import topology
from intentflow.kafka_io import OutMessage, StreamStage, dead_letter_message, make_producer, topic_partitions
from intentflow.service import dead_letter_for
from intentflow.settings import KafkaSettings

KAFKA = KafkaSettings(bootstrap_servers="127.0.0.1:1", max_message_bytes=10_000, dlq_max_bytes=100)


def record(offset: int, value: bytes) -> SimpleNamespace:
    return SimpleNamespace(topic="posts.raw", partition=0, offset=offset, key=b"k%d" % offset, value=value)


def stage(process, rollback=None) -> StreamStage:
    return StreamStage("test", KAFKA, "g", "posts.raw", process, threading.Event(),
                       dead_letter_for(KAFKA, "test"), rollback)


def test_dead_letters_keep_the_first_bytes_and_the_original_size():
    message = dead_letter_message("posts.dlq", b"key", b"x" * 500, [("reason", b"too big")], 100)
    assert message.value == b"x" * 100 and dict(message.headers) == {"reason": b"too big", "truncated": b"500"}
    small = dead_letter_message("posts.dlq", None, None, [], 100)
    assert small.value == b"" and small.headers == []


def test_a_record_whose_output_is_too_large_goes_to_the_dlq_alone():
    rolled_back = []

    def process(records):
        return [OutMessage("posts.clean", r.key, r.value * (10_000 if r.value == b"big" else 1)) for r in records]
    batch = [record(1, b"ok"), record(2, b"big"), record(3, b"ok")]
    outputs = stage(process, rolled_back.append)._process_safely(batch)
    assert [(m.topic, m.key) for m in outputs] == [("posts.clean", b"k1"), ("posts.dlq", b"k2"), ("posts.clean", b"k3")]
    assert dict(outputs[1].headers)["reason"].startswith(b"output too large")
    assert len(rolled_back) == 1, "the failed batch attempt is rolled back before record-by-record"


def test_a_failing_record_goes_to_the_dlq_truncated():
    def process(records):
        if any(r.value.startswith(b"poison") for r in records):
            raise RuntimeError("boom")
        return []
    outputs = stage(process)._process_safely([record(1, b"fine"), record(2, b"poison" * 100)])
    [dead] = outputs
    headers = dict(dead.headers)
    assert headers["source"] == b"posts.raw/0/2" and headers["truncated"] == b"600" and len(dead.value) == 100
    assert b"RuntimeError: boom" in headers["reason"]


def test_dead_letters_acknowledged_in_a_failed_attempt_are_not_sent_again():
    s = stage(lambda records: [])
    dead = [s.dead_letter(record(n, b"bad"), "bad") for n in range(3)]
    clean = OutMessage("posts.clean", b"k", b"v")
    s._remember_dead_letters([dead[0], clean])
    assert s._not_yet_delivered([dead[0], dead[1], clean, dead[2]]) == [dead[1], clean, dead[2]]


def test_topics_are_created_with_the_partitions_the_topology_declares():
    partitions = topic_partitions(KafkaSettings(partitions=4))
    assert partitions["posts.dlq"] == topology.POSTS_DLQ.partitions == 1
    assert partitions["posts.clean"] == 4


def test_a_stage_on_a_tombstoned_topic_skips_tombstones_and_the_raw_stage_dead_letters_them():
    def tombstone(offset: int) -> SimpleNamespace:
        return SimpleNamespace(topic="posts.classified", partition=0, offset=offset, key=b"vk:1", value=None)
    classified = StreamStage("test", KAFKA, "g", "posts.classified", lambda records: [], threading.Event(),
                             dead_letter_for(KAFKA, "test"))
    batch = [record(1, b"post"), tombstone(2)]
    assert classified.skips_tombstones and classified._live(batch) == batch[:1]
    raw = stage(lambda records: [])
    assert not raw.skips_tombstones and raw._live(batch) == batch, "a null value on posts.raw is bad input"


def test_producers_are_not_idempotent(broker):
    """kafka-python makes producers idempotent by default, and an idempotent producer takes a broker's
    DUPLICATE_SEQUENCE_NUMBER for an acknowledgement. tansu saves a batch's sequence number before the batch:
    stopped in between, it answers the retry so, and a stage commits input whose outputs were never stored
    (one lead of 1,000 lost in the fault-stream test). Without idempotence the retry is written again."""
    producer = make_producer(KafkaSettings(bootstrap_servers=broker.bootstrap_servers))
    try:
        assert producer.config["enable_idempotence"] is False
    finally:
        producer.close(5)
