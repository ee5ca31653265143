"""End to end on the real broker and the real services: posts in over Kafka, leads out over gRPC."""
from __future__ import annotations

import json

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from intentflow.kafka_io import make_consumer, make_producer
from intentflow.v1 import ingest_pb2, match_pb2, post_pb2
from tests.integration.helpers import all_leads, eventually, produce_json, unique


def leads_for(match, post_id: str) -> list:
    return [lead for lead in all_leads(match) if lead.post.id == post_id]


def test_every_service_serves_health_and_reflection(stack):
    expected = {"ingest": "intentflow.v1.IngestService", "classify": "intentflow.v1.ClassifyService",
                "match": "intentflow.v1.MatchService"}
    for service, full_name in expected.items():
        with grpc.insecure_channel(stack.address(service)) as channel:
            status = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(service=full_name))
            assert status.status == health_pb2.HealthCheckResponse.SERVING
            request = reflection_pb2.ServerReflectionRequest(list_services="")
            responses = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(iter([request]))
            names = {s.name for r in responses for s in r.list_services_response.service}
            assert {full_name, "grpc.health.v1.Health"} <= names


def test_purchase_post_becomes_a_lead_for_the_right_product(kafka, match):
    post_id = unique("lead")
    produce_json(kafka, [{"id": post_id, "network": "vk", "author": "olga_m", "url": f"https://vk.com/{post_id}",
                          "text": "Посоветуйте ноутбук для учебы и работы до 60к, чтобы не тормозил и батарея "
                                  "держала весь день. Что сейчас брать?", "createdAt": "2026-11-21T10:00:00Z"}])
    leads = eventually(lambda: leads_for(match, post_id))
    assert leads[0].product_id == "laptops"
    assert leads[0].intent_probability > 0.5 and leads[0].evidence
    assert leads[0].post.lang == "ru"


def test_look_alikes_do_not_become_signals(kafka, match, ingest):
    seller = unique("seller")
    hiring = unique("hiring")
    marker = unique("marker")
    produce_json(kafka, [
        {"id": seller, "network": "telegram", "author": "shop", "text": "Продам ноутбук Lenovo, 2022 год, "
         "состояние отличное, цена 35000, доставка по городу. Пишите в лс!"},
        {"id": hiring, "network": "telegram", "author": "hr", "text": "Ищем в команду Python-разработчика, "
         "удаленка, зп от 250к, присылайте резюме в личку"},
        {"id": marker, "network": "telegram", "author": "ivan", "text": "Ищу работу курьером в Киеве, "
         "есть свой велосипед, могу выходить хоть завтра"}])
    eventually(lambda: any(c.post.id == marker for c in
                           match.ListCandidates(match_pb2.ListQueueRequest(page_size=500)).candidates))
    assert not leads_for(match, seller)
    candidates = match.ListCandidates(match_pb2.ListQueueRequest(page_size=500)).candidates
    assert not [c for c in candidates if c.post.id == hiring]


def test_bad_records_go_to_the_dead_letter_topic_with_a_reason(kafka):
    bad_id = unique("bad")
    consumer = make_consumer(kafka, None, [kafka.topic_dlq], consumer_timeout_ms=1000)
    producer = make_producer(kafka)
    producer.send(kafka.topic_raw, key=b"garbage", value=b"{this is not json")
    producer.send(kafka.topic_raw, key=bad_id.encode(), value=json.dumps({"id": bad_id, "network": "x"}).encode())
    producer.flush(30)
    reasons: dict[bytes, str] = {}

    def collect():
        for record in consumer:
            reasons[record.key] = dict(record.headers).get("reason", b"").decode()
        return b"garbage" in reasons and bad_id.encode() in reasons
    eventually(collect)
    assert "invalid Post JSON" in reasons[b"garbage"]
    assert "empty" in reasons[bad_id.encode()]
    consumer.close()


def test_submit_posts_returns_a_verdict_per_post(ingest):
    post_id = unique("api")
    posts = [post_pb2.Post(id=post_id, network="x", text="Any recs for a robot vacuum that handles pet hair?"),
             post_pb2.Post(id=post_id, network="x", text="Any recs for a robot vacuum that handles pet hair?"),
             post_pb2.Post(id=unique("api"), network="x", text="   ")]
    verdicts = ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=posts)).verdicts
    assert [v.verdict for v in verdicts] == [ingest_pb2.VERDICT_ACCEPTED, ingest_pb2.VERDICT_DUPLICATE,
                                             ingest_pb2.VERDICT_REJECTED]
    assert verdicts[0].lang == "en" and verdicts[2].reason


def test_submit_posts_rejects_oversized_batches(ingest):
    posts = [post_pb2.Post(id=str(n), network="x", text="hi") for n in range(1001)]
    try:
        ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=posts))
    except grpc.RpcError as exc:
        assert exc.code() == grpc.StatusCode.INVALID_ARGUMENT
    else:
        raise AssertionError("an oversized batch was accepted")


def test_every_service_exposes_prometheus_metrics(stack):
    import urllib.request
    for service in ("ingest", "classify", "match"):
        body = urllib.request.urlopen(stack.metrics_url(service), timeout=5).read().decode()
        assert "intentflow_records_total" in body and "intentflow_batch_seconds" in body
    assert 'outcome="accepted"' in urllib.request.urlopen(stack.metrics_url("ingest"), timeout=5).read().decode()
