"""Two match processes sharing one store (as in one consumer group): a record is published by one of them, and
what one stores (profiles, job posts) reaches the other. Real encoder, SQLite store, no reranker; the real
broker where a process reads what another one delivered."""
from __future__ import annotations

import uuid

import numpy as np
import pytest
from kafka import KafkaConsumer, TopicPartition

from intentflow.kafka_io import make_producer
from intentflow.settings import KafkaSettings
from intentflow.v1 import post_pb2
from services.match.candidates import CandidateFilter
from services.match.engine import MatchEngine
from services.match.store import PostRef, Product
from tests.services.match.conftest import new_app
from tests.services.match.test_engine import classified, deliver

KAYAKS = Product(id="kayaks", name="Inflatable kayaks", description="Inflatable kayaks for fishing and rivers",
                 keywords=["каяк", "kayak"], min_score=0.05)
KAYAK_POST = "Посоветуйте надувной каяк для рыбалки на озере, бюджет до 40к, что взять?"


@pytest.fixture
def kafka(broker):
    return KafkaSettings(bootstrap_servers=broker.bootstrap_servers, topic_leads=f"leads-{uuid.uuid4().hex[:8]}")


@pytest.fixture
def apps(tmp_path, embedder, kafka):
    pair = [new_app(tmp_path, embedder, index=name, reranker=False, kafka=kafka) for name in ("index-a", "index-b")]
    for app in pair:
        app.load()
    pair[0].upsert_product(KAYAKS)
    pair[1].catch_up()
    yield pair
    for app in pair:
        app.close()


@pytest.fixture
def engines(apps):
    return [MatchEngine(app) for app in apps]


def test_a_post_both_processes_hold_is_published_by_the_one_that_claimed_it(engines):
    a, b = engines
    record = classified(a, "p1", KAYAK_POST, post_pb2.SIGNAL_PURCHASE_INTENT)
    sending = a.process([record])  # A has its batch ready; its partition moved to B meanwhile
    assert [o.topic for o in sending] == [a.app.settings.kafka.topic_leads]
    waited = []
    b.publisher.sleep = lambda s: waited.append(s) or deliver(sending)  # A's acks arrive while B waits
    assert b.process([record]) == [] and waited, "B waited for A's claim, then found the lead published"
    assert b.process([record]) == []


def lapse_claims(engine) -> list[float]:
    """Let `engine` wait out the claims of others at once: its clock moves on by each sleep."""
    clock = [engine.publisher.clock()]
    engine.publisher.clock = lambda: clock[0]
    engine.publisher.sleep = lambda s: clock.__setitem__(0, clock[0] + s)
    return clock


def records_on(kafka: KafkaSettings, topic: str) -> list:
    consumer = KafkaConsumer(bootstrap_servers=kafka.bootstrap_servers, auto_offset_reset="earliest",
                             consumer_timeout_ms=3000)
    consumer.assign([TopicPartition(topic, p) for p in consumer.partitions_for_topic(topic) or ()])
    records = list(consumer)
    consumer.close()
    return records


def test_a_claim_of_a_process_that_died_before_delivering_is_taken_over_once_it_lapses(engines):
    a, b = engines
    record = classified(a, "p2", KAYAK_POST, post_pb2.SIGNAL_PURCHASE_INTENT)
    claimed_at = b.publisher.clock()
    assert a.process([record])  # ... and A died before the broker acknowledged it
    clock = lapse_claims(b)
    taken_over = b.process([record])
    assert [o.topic for o in taken_over] == [b.app.settings.kafka.topic_leads]
    assert clock[0] >= claimed_at + b.publisher.hold_s
    deliver(taken_over)
    assert a.process([record]) == [], "published now, whoever gets the post next"


def test_a_lead_a_process_delivered_just_before_it_died_is_not_sent_again(engines, kafka):
    a, b = engines
    record = classified(a, "p3", KAYAK_POST, post_pb2.SIGNAL_PURCHASE_INTENT)
    (lead,) = a.process([record])
    producer = make_producer(kafka)
    producer.send(lead.topic, key=lead.key, value=lead.value)  # the broker has it; A dies before marking it
    producer.flush()
    producer.close()
    lapse_claims(b)
    assert b.process([record]) == [], "B found the lead on the topic instead of sending it again"
    assert [r.key for r in records_on(kafka, lead.topic)] == [lead.key]
    assert a.process([record]) == [], "and marked it published"


def test_profile_edits_and_job_posts_of_one_process_reach_the_other(apps):
    a, b = apps
    assert b.products.get("kayaks") == a.products.get("kayaks"), "the fixture's catch_up brought the product over"
    a.upsert_product(Product(id="tents", name="Camping tents", keywords=["палатка"]))
    a.delete_product("kayaks")
    post = PostRef("tg:1", network="tg", author="x", text="Шукаю роботу кур'єром у Києві", lang="uk")
    vector = a.embedder.encode([post.text])[0]
    job_id = a.candidates.add(post, vector, 0.9)
    assert b.products.get("tents") is None and b.candidates.size == 0
    b.catch_up()
    assert b.products.get("tents") is not None and b.products.get("kayaks") is None
    assert [hit.job_id for hit in b.candidates.search(np.asarray(vector), 1, CandidateFilter())] == [job_id]
    assert b.candidates.catch_up() == 0 and a.candidates.catch_up() == 0, "nothing new: nothing added twice"
