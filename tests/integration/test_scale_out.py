"""Scale-out on the real broker, PostgreSQL and services: two classify and two match processes on topics with
four partitions. Every lead is stored and published exactly once, each process of both services consumed
partitions of its topic, and a product saved on one match process matches posts the other one handles."""
from __future__ import annotations

import signal
from collections import Counter

import grpc
import pytest

from intentflow.settings import KafkaSettings
from intentflow.v1 import match_pb2_grpc, signals_pb2
from intentflow.wire import decode
from tests.integration.conftest import PROFILES
from tests.integration.helpers import (
    KAYAK_POSTS,
    all_leads,
    end_offsets,
    eventually,
    kayak_product,
    produce_json,
    unique,
)
from tests.services.match.store.conftest import PG_URL, SKIP_PG
from tools.bench.corpus import CorpusGenerator, load_real_stream, real_mix
from tools.bench.pipeline import held_partitions, input_partitions, kafka_of, settled
from tools.bench.probes import consumed, scrape, total
from tools.broker import read_from
from tools.cli.stack import wait_drained
from tools.pgschema import fresh_schema
from tools.stack import LocalStack, wait_serving

PARTITIONS = 4
LEAD_POSTS = 24      # about kayaks, each from its own author: one lead each for the test's kayak product
CHATTER_POSTS = 400  # real public chatter with written positives injected, one in 40
KAYAKS = kayak_product()


@pytest.fixture(scope="module")
def scaled(tmp_path_factory):
    if SKIP_PG:
        pytest.skip("INTENTFLOW_SKIP_PG=1: several match processes need PostgreSQL")
    with fresh_schema(PG_URL, "test_scale_out") as url:
        env = {"INTENTFLOW_PROFILES_FILE": PROFILES, "INTENTFLOW_DATABASE_URL": url,
               "KAFKA_TOPIC_PARTITIONS": str(PARTITIONS), "INTENTFLOW_GRACE_SECONDS": "5"}
        with LocalStack(tmp_path_factory.mktemp("scaled"), env=env, classify_replicas=2, match_replicas=2) as stack:
            yield stack
    assert all(process.returncode == 0 for process in stack.processes.values()), {
        name: process.returncode for name, process in stack.processes.items()}


@pytest.fixture(scope="module")
def kayaks(scaled):
    """KAYAKS, which every kayak post matches, saved on the first match process; returns once the second one
    has taken it from the shared store."""
    with grpc.insecure_channel(scaled.address("match")) as channel:
        before = metric(scaled, "match-2", "intentflow_index_size", index="products")
        match_pb2_grpc.MatchServiceStub(channel).UpsertProduct(KAYAKS)
    eventually(lambda: metric(scaled, "match-2", "intentflow_index_size", index="products") == before + 1,
               timeout_s=60)


@pytest.mark.usefixtures("kayaks")
def test_two_classify_and_two_match_processes_publish_every_lead_exactly_once(scaled):
    stack = scaled
    kafka = kafka_of(stack)
    partitions = input_partitions(stack)
    assert partitions == {"ingest": PARTITIONS, "classify": PARTITIONS, "match": PARTITIONS}
    # The stream goes out once the groups have settled, so each process gets its share of the partitions.
    eventually(lambda: settled(stack, partitions), timeout_s=120)
    assert held_partitions(stack, "match") == [PARTITIONS // 2] * 2

    pushed = push_stream(kafka)
    wait_drained(kafka, timeout_s=600)
    check_published_once(stack, kafka, pushed)
    for process in stack.replicas("classify") + stack.replicas("match"):  # each one consumed its partitions' posts
        assert consumed(scrape(stack.metrics_url(process))) > 0, process


@pytest.mark.usefixtures("kayaks")
def test_a_match_process_leaving_and_rejoining_mid_stream_publishes_nothing_twice(scaled):
    stack = scaled
    kafka = kafka_of(stack)
    partitions = input_partitions(stack)
    pushed = push_stream(kafka)
    assert stack.stop_service("match-2", signal.SIGTERM) == 0  # its partitions move to the other one...
    pushed += push_stream(kafka)
    stack.start_service("match-2")  # ... and half of them back once it has rejoined
    wait_serving(stack.address("match-2"), 300, stack.processes["match-2"])
    eventually(lambda: settled(stack, partitions), timeout_s=120)
    wait_drained(kafka, timeout_s=600)
    check_published_once(stack, kafka, pushed)


def metric(stack: LocalStack, process: str, name: str, **labels: str) -> float:
    return total(scrape(stack.metrics_url(process)), name, **labels)


def push_stream(kafka: KafkaSettings) -> list[dict]:
    """LEAD_POSTS posts about kayaks (the known leads) among CHATTER_POSTS of real chatter with written positives,
    every one by its own author, so no lead is merged into another."""
    lead_posts = [{"id": unique("kayak"), "network": "forum", "author": unique("author"),
                   "text": f"{KAYAK_POSTS[n % len(KAYAK_POSTS)]} ({unique('ref')})"} for n in range(LEAD_POSTS)]
    chatter = CorpusGenerator(load_real_stream(), real_mix(40), id_prefix=unique("chatter")).take(CHATTER_POSTS)
    # The generator numbers its authors from 1 each time: fresh ones keep pushes from merging into earlier leads.
    posts = lead_posts + [{"id": p.id, "network": p.network, "author": unique("author"), "text": p.text}
                          for p in chatter]
    produce_json(kafka, posts)
    return posts


def check_published_once(stack: LocalStack, kafka: KafkaSettings, pushed: list[dict]) -> None:
    """Every kayak post of `pushed` is a stored lead, and every lead stored from `pushed` is on leads.sales
    exactly once. The topic is read whole and its leads told apart by post: the embedded broker was seen to
    report end offsets below records it already held, so reading "from the end before the push" is not exact."""
    ids = {post["id"] for post in pushed}
    with grpc.insecure_channel(stack.address("match-2")) as channel:  # the store is shared: either will do
        stored = [lead for lead in all_leads(match_pb2_grpc.MatchServiceStub(channel)) if lead.post.id in ids]
    kayak_posts = {post["id"] for post in pushed if post["id"].startswith("kayak-")}
    assert {lead.post.id for lead in stored if lead.product_id == KAYAKS.id} >= kayak_posts, "every known lead"
    leads = (decode(r.value, signals_pb2.Lead()) for r in read_from(kafka, dict.fromkeys(
        end_offsets(kafka, kafka.topic_leads), 0)))
    published = Counter(lead.lead_id for lead in leads if lead.post.id in ids)
    twice = sorted(lead for lead, n in published.items() if n > 1)
    assert not twice, f"published more than once: {twice}"
    assert set(published) == {lead.lead_id for lead in stored}, "every stored lead is published, and only those"
