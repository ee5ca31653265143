"""Finding what a dead match process delivered before it could mark it published (services/match/delivered.py),
on the real broker (tansu): ListOffsets by timestamp, then a read to the end of each partition."""
from __future__ import annotations

import time
import uuid

from intentflow.kafka_io import ensure_topics, make_producer
from intentflow.settings import KafkaSettings
from services.match.delivered import CLOCK_SKEW_S, DeliveredKeys


def test_only_keys_written_at_or_after_the_moment_are_found(broker):
    kafka = KafkaSettings(bootstrap_servers=broker.bootstrap_servers)
    topic = f"leads-{uuid.uuid4().hex[:8]}"
    ensure_topics(kafka, {topic: 2})
    producer = make_producer(kafka)
    now = time.time()
    long_ago = now - 10 * CLOCK_SKEW_S
    producer.send(topic, key=b"old", value=b"v", timestamp_ms=int(long_ago * 1000))
    for key in (b"new-1", b"new-2", b"new-3"):
        producer.send(topic, key=key, value=b"v", timestamp_ms=int(now * 1000))
    producer.flush()
    producer.close()
    delivered = DeliveredKeys(kafka, timeout_s=30)
    assert delivered.find(topic, {b"old", b"new-1", b"new-3", b"never-sent"}, now) == {b"new-1", b"new-3"}
    assert delivered.find(topic, {b"old", b"new-2"}, long_ago) == {b"old", b"new-2"}
    assert delivered.find(topic, {b"new-1"}, now + 10 * CLOCK_SKEW_S) == set(), "nothing written since"
