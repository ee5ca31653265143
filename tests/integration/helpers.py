"""Helpers for integration tests: unique ids, producing posts, waiting for effects."""
from __future__ import annotations

import json
import time
import uuid

from intentflow.kafka_io import make_producer
from intentflow.v1 import ingest_pb2, match_pb2, post_pb2, profiles_pb2
from intentflow.wire import post_id


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def eventually(check, timeout_s: float = 60, interval_s: float = 0.3):
    """Poll `check` until it returns a truthy value; the last value is returned or the assertion fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            assert value, f"condition not met within {timeout_s}s"
            return value
        time.sleep(interval_s)


def produce_json(kafka, posts: list[dict]) -> None:
    producer = make_producer(kafka)
    for post in posts:
        producer.send(kafka.topic_raw, key=post_id(post.get("network", ""), post.get("id", "")).encode(),
                      value=json.dumps(post, ensure_ascii=False).encode())
    producer.flush(30)
    producer.close()


def all_leads(match, **filters) -> list:
    leads, token = [], ""
    while True:
        page = match.ListLeads(match_pb2.ListQueueRequest(page_size=500, page_token=token, **filters))
        leads += page.leads
        token = page.next_page_token
        if not token:
            return leads


KAYAK_POSTS = [
    "Посоветуйте надувной каяк для рыбалки на озере, бюджет до 40к, что взять?",
    "Хочу купить байдарку для сплавов вдвоем, какую модель посоветуете?",
    "Looking to buy an inflatable kayak for lake trips, any recommendations under $600?",
    "Порадьте надувну байдарку для сплаву річкою, хочу купити до літа",
    "Need a sit-on-top kayak for fishing, which brand should I get?",
    "Подскажите, какой каяк выбрать новичку для моря? Хочу взять в этом месяце",
]


def kayak_product() -> profiles_pb2.ProductProfile:
    product_id = unique("kayaks")
    return profiles_pb2.ProductProfile(
        id=product_id, name="Inflatable kayaks",
        description="Inflatable and sit-on-top kayaks for fishing and river trips (каяки, байдарки; каяки, байдарки)",
        keywords=["каяк", "байдарка", "kayak", "байдарку"],
        # Queue tests are about leasing, not match quality: any purchase post about kayaks qualifies.
        min_score=0.05)


def submit_kayak_leads(ingest, match, count: int, created: list[str]) -> tuple[str, list]:
    """A fresh product and `count` leads for it, each from its own author; its id is added to `created`
    so the test can delete it (a low-threshold test product would otherwise catch later tests' posts)."""
    product = kayak_product()
    match.UpsertProduct(product)
    created.append(product.id)
    posts = [post_pb2.Post(id=unique("k"), network="forum", author=unique("author"),
                           text=f"{KAYAK_POSTS[n % len(KAYAK_POSTS)]} ({unique('ref')})") for n in range(count)]
    ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=posts))
    ids = {p.id for p in posts}

    def matched():
        found = [lead for lead in all_leads(match) if lead.post.id in ids and lead.product_id == product.id]
        return found if len(found) >= count else None
    return product.id, eventually(matched, timeout_s=90)
