"""Erasing an author writes tombstones with the right keys to the real (embedded) broker."""
from __future__ import annotations

import threading
import uuid
from collections import defaultdict

import pytest

from intentflow import topology
from intentflow.kafka_io import (
    OutMessage,
    StreamStage,
    consumer_lag,
    ensure_topics,
    make_consumer,
    make_producer,
    send_all,
    topic_partitions,
)
from intentflow.service import dead_letter_for
from intentflow.settings import KafkaSettings
from services.match.erasure import TombstonesNotWritten, erase_author, keys_by_topic
from services.match.store import complaint_id, open_store
from services.match.store.retention import RecordKeys
from tests.integration.helpers import eventually
from tests.services.match.store.test_retention import FRESH, complaint, job_post
from tests.services.match.store.test_store import add, make_item


@pytest.fixture
def kafka(broker) -> KafkaSettings:
    uid = uuid.uuid4().hex[:8]
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers, **{
        t.setting: f"{t.default}-{uid}" for t in topology.TOPICS})
    ensure_topics(kafka, topic_partitions(kafka))
    return kafka


def records_by_topic(kafka: KafkaSettings) -> dict[str, list]:
    consumer = make_consumer(kafka, None, [kafka.name(t) for t in topology.TOPICS], consumer_timeout_ms=3000)
    found = defaultdict(list)
    for record in consumer:
        found[record.topic].append(record)
    consumer.close()
    return found


def test_every_tombstoned_topic_gets_keys_and_no_other_topic_does():
    assert set(keys_by_topic(RecordKeys())) == {t for t in topology.TOPICS if t.tombstoned}
    assert not (topology.POSTS_RAW.tombstoned or topology.POSTS_DLQ.tombstoned), "not ours to erase by key"


def test_the_tombstones_arrive_on_the_topics_with_the_records_keys(kafka, tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/m.db")
    lead, = add(store, make_item("vk:1", author="olga", created_at=FRESH))
    candidate, = add(store, make_item("vk:2", "v1", kind="candidate", author="olga", created_at=FRESH))
    store.add_complaint(complaint("vk:3", "olga", FRESH))
    job_post(store, "vk:4", "olga", FRESH)
    add(store, make_item("vk:9", author="petr", created_at=FRESH))
    erase = store.erase_author

    def erase_after_a_late_post(author, network=""):  # a post of hers stored between the two phases
        add(store, make_item("vk:late", author="olga", created_at=FRESH))
        return erase(author, network)
    store.erase_author = erase_after_a_late_post

    erasure = erase_author(store, kafka, "olga", "vk")

    late_lead = make_item("vk:late").id
    posts = {"vk:1", "vk:2", "vk:3", "vk:4", "vk:late"}
    expected = {kafka.topic_clean: posts, kafka.topic_classified: posts, kafka.topic_leads: {lead.id, late_lead},
                kafka.topic_hr: {candidate.id, complaint_id("vk:3", "emp")}}
    found = records_by_topic(kafka)
    assert {topic: {r.key.decode() for r in records} for topic, records in found.items()} == expected
    assert all(r.value is None for records in found.values() for r in records), "tombstones: key, null value"
    assert sum(len(records) for records in found.values()) == erasure.tombstones == 14
    assert [i.post.author for i in store.list_items("lead")] == ["petr"]
    store.close()


def test_a_stage_reading_a_tombstoned_topic_commits_tombstones_without_processing_them(kafka):
    producer = make_producer(kafka)
    send_all(producer, [OutMessage(kafka.topic_classified, b"vk:1", None),
                        OutMessage(kafka.topic_classified, b"vk:2", b"a post")])
    producer.close()
    processed, running, group = [], threading.Event(), f"match-{uuid.uuid4().hex[:8]}"
    running.set()
    stage = StreamStage("test", kafka, group, kafka.topic_classified,
                        lambda records: processed.extend(r.value for r in records) or [], running,
                        dead_letter_for(kafka, "test"))
    stage.start()
    try:
        eventually(lambda: consumer_lag(kafka, group, kafka.topic_classified) == 0)
    finally:
        running.clear()
        stage.thread.join(30)
    assert processed == [b"a post"]
    assert kafka.topic_dlq not in records_by_topic(kafka), "a tombstone is no bad record"


def test_without_the_broker_nothing_is_erased_and_the_erasure_can_run_again(tmp_path):
    store = open_store(f"sqlite:///{tmp_path}/m.db")
    add(store, make_item("vk:1", author="olga", created_at=FRESH))
    unreachable = KafkaSettings(bootstrap_servers="127.0.0.1:1", max_block_ms=1000)
    with pytest.raises(TombstonesNotWritten, match="nothing was erased"):
        erase_author(store, unreachable, "olga")
    assert [i.post.author for i in store.list_items("lead")] == ["olga"] and store.audit_entries() == []
    store.close()
