"""The sales and HR queues over real gRPC, fed by the real pipeline."""
from __future__ import annotations

import threading
import time

import grpc
import pytest
from confluent_kafka import Consumer

from intentflow.v1 import ingest_pb2, match_pb2, post_pb2, signals_pb2
from intentflow.wire import decode
from tests.integration.helpers import eventually, unique


def test_two_reps_pulling_at_once_never_get_the_same_lead(kayak_leads, match):
    product_id, leads = kayak_leads(6)
    results: dict[str, list[str]] = {}

    def pull(rep: str) -> None:
        got = []
        for _ in range(6):
            got += [lead.lead_id for lead in match.PullLeads(match_pb2.PullLeadsRequest(
                owner=rep, product_ids=[product_id], limit=1, lease_seconds=60)).leads]
        results[rep] = got
    threads = [threading.Thread(target=pull, args=(rep,)) for rep in ("anna", "boris")]
    [t.start() for t in threads]
    [t.join() for t in threads]
    assert not set(results["anna"]) & set(results["boris"])
    assert sorted(results["anna"] + results["boris"]) == sorted(lead.lead_id for lead in leads)


def test_expired_lease_returns_the_lead_and_release_too(kayak_leads, match):
    product_id, _ = kayak_leads(2)
    first = match.PullLeads(match_pb2.PullLeadsRequest(owner="anna", product_ids=[product_id], limit=2,
                                                       lease_seconds=1)).leads
    assert len(first) == 2 and all(lead.lease_owner == "anna" for lead in first)
    assert not match.PullLeads(match_pb2.PullLeadsRequest(owner="boris", product_ids=[product_id])).leads
    time.sleep(1.5)
    again = match.PullLeads(match_pb2.PullLeadsRequest(owner="boris", product_ids=[product_id], limit=2,
                                                       lease_seconds=60)).leads
    assert {lead.lead_id for lead in again} == {lead.lead_id for lead in first}
    released = match.ReleaseLead(match_pb2.ReleaseRequest(id=again[0].lead_id, owner="boris"))
    assert released.status == signals_pb2.QUEUE_STATUS_NEW
    assert [lead.lead_id for lead in match.PullLeads(match_pb2.PullLeadsRequest(
        owner="anna", product_ids=[product_id])).leads] == [again[0].lead_id]


def test_outcomes_and_funnel_add_up(kayak_leads, match):
    product_id, _ = kayak_leads(4)
    pulled = match.PullLeads(match_pb2.PullLeadsRequest(owner="anna", product_ids=[product_id], limit=4)).leads
    with pytest.raises(grpc.RpcError) as foreign:
        match.AckLead(match_pb2.AckRequest(id=pulled[0].lead_id, owner="boris", outcome=match_pb2.OUTCOME_WON))
    assert foreign.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    ack = [match_pb2.OUTCOME_CONTACTED, match_pb2.OUTCOME_CONTACTED, match_pb2.OUTCOME_CONTACTED,
           match_pb2.OUTCOME_NOT_A_LEAD]
    for lead, outcome in zip(pulled, ack):
        match.AckLead(match_pb2.AckRequest(id=lead.lead_id, owner="anna", outcome=outcome, note="called"))
    match.AckLead(match_pb2.AckRequest(id=pulled[0].lead_id, owner="anna", outcome=match_pb2.OUTCOME_WON))
    match.AckLead(match_pb2.AckRequest(id=pulled[1].lead_id, owner="anna", outcome=match_pb2.OUTCOME_LOST))
    funnel = match.GetFunnel(match_pb2.GetFunnelRequest(product_id=product_id))
    assert (funnel.leads, funnel.contacted, funnel.won, funnel.lost, funnel.not_a_lead) == (4, 3, 1, 1, 1)
    assert funnel.rep_precision == pytest.approx(0.75)
    with pytest.raises(grpc.RpcError) as missing:
        match.AckLead(match_pb2.AckRequest(id="lead_nope", owner="anna", outcome=match_pb2.OUTCOME_WON))
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND


def test_one_author_asking_twice_is_one_lead(kayak_leads, ingest, match):
    product_id, _ = kayak_leads(1)
    author = unique("author")
    first, second = unique("dup"), unique("dup")
    for post_id, text in ((first, "Хочу купить байдарку для рыбалки, что посоветуете?"),
                          (second, "Всё ещё ищу каяк для рыбалки, подскажите модель до 50к")):
        ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[post_pb2.Post(
            id=post_id, network="vk", author=author, text=text)]))
        time.sleep(1.5)

    def merged():
        leads = [lead for lead in match.ListLeads(match_pb2.ListQueueRequest(
            profile_ids=[product_id], page_size=500)).leads if lead.post.author == author]
        return leads if leads and leads[0].related_post_ids else None
    leads = eventually(merged)
    assert len(leads) == 1 and leads[0].post.id == second
    assert list(leads[0].related_post_ids) == [f"vk:{first}"]


def test_subscribe_receives_what_arrives_after_it_starts(kayak_leads, ingest, match):
    product_id, _ = kayak_leads(1)
    stream = match.Subscribe(match_pb2.SubscribeRequest(leads=True, profile_ids=[product_id]), timeout=90)
    received = []
    reader = threading.Thread(target=lambda: received.append(next(iter(stream))), daemon=True)
    reader.start()
    time.sleep(1)
    post_id = unique("sub")
    ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[post_pb2.Post(
        id=post_id, network="x", author=unique("a"), text="Which inflatable kayak should I buy for river trips?")]))
    reader.join(90)
    stream.cancel()
    assert received and received[0].lead.post.id == post_id and received[0].lead.product_id == product_id


def test_leads_topic_is_readable_by_librdkafka_with_the_published_proto(stack, kayak_leads):
    _, leads = kayak_leads(1)
    consumer = Consumer({"bootstrap.servers": stack.bootstrap_servers, "group.id": unique("rdkafka"),
                         "auto.offset.reset": "earliest", "enable.auto.commit": False})
    consumer.subscribe(["leads.sales"])
    seen = {}
    deadline = time.monotonic() + 60
    while leads[0].lead_id not in seen and time.monotonic() < deadline:
        message = consumer.poll(1.0)
        if message is not None and not message.error():
            lead = decode(message.value(), signals_pb2.Lead())
            assert message.key().decode() == lead.lead_id
            seen[lead.lead_id] = lead
    consumer.close()
    assert leads[0].lead_id in seen and seen[leads[0].lead_id].post.text == leads[0].post.text
