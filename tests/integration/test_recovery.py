"""Crash and restart: nothing is lost, nothing is duplicated, state survives. Runs last (it restarts services)."""
from __future__ import annotations

import json
import signal
from pathlib import Path

from intentflow.kafka_io import consumer_lag
from intentflow.v1 import match_pb2, profiles_pb2, signals_pb2
from intentflow.wire import decode
from tests.integration.helpers import all_leads, end_offsets, eventually, produce_json, unique
from tools.broker import read_from
from tools.cli.stack import DEMO_POSTS, push_file, wait_drained
from tools.stack import wait_serving


def test_killing_classify_mid_stream_still_yields_every_lead_exactly_once(stack, kafka, match):
    start = end_offsets(kafka, kafka.topic_leads)
    pushed = push_file(DEMO_POSTS, kafka)
    eventually(lambda: 0 < consumer_lag(kafka, "intentflow-classify", kafka.topic_clean) < pushed - 5,
               timeout_s=120, interval_s=0.05)
    stack.stop_service("classify", signal.SIGKILL)
    stack.start_service("classify")
    wait_serving(stack.address("classify"), 120, stack.processes["classify"])
    wait_drained(kafka, timeout_s=300)
    demo_ids = {row.get("id") for row in map(_json_or_empty, DEMO_POSTS.read_text().splitlines())}
    # Only the demo's leads: posts of earlier tests may still be finishing while this one runs.
    published = [decode(r.value, signals_pb2.Lead()) for r in read_from(kafka, start)]
    on_topic = [lead.lead_id for lead in published if lead.post.id in demo_ids]
    in_store = [lead.lead_id for lead in all_leads(match) if lead.post.id in demo_ids]
    assert in_store, "the demo produced no leads"
    twice = sorted({lead for lead in on_topic if on_topic.count(lead) > 1})
    assert not twice, f"published more than once: {twice}"
    assert set(on_topic) == set(in_store), "every stored lead is published, and only those"


def _json_or_empty(line: str) -> dict:
    try:
        row = json.loads(line)
    except json.JSONDecodeError:
        return {}
    return row if isinstance(row, dict) else {}


def test_profile_changes_apply_without_restart(kafka, match):
    product_id = unique("ebikes")
    match.UpsertProduct(profiles_pb2.ProductProfile(
        id=product_id, name="Electric bikes", keywords=["электровелосипед", "e-bike", "електровелосипед"],
        description="Electric bicycles for commuting (электровелосипеды; електровелосипеди)", min_score=0.05))
    assert product_id in {p.id for p in match.ListProducts(match_pb2.ListProfilesRequest()).products}
    post_id = unique("ebike")
    produce_json(kafka, [{"id": post_id, "network": "vk", "author": unique("a"),
                          "text": "Хочу купить электровелосипед для поездок на работу, что посоветуете до 80к?"}])
    leads = eventually(lambda: [lead for lead in all_leads(match) if lead.post.id == post_id])
    assert leads[0].product_id == product_id
    assert match.DeleteProduct(match_pb2.DeleteProfileRequest(id=product_id)).deleted
    assert product_id not in {p.id for p in match.ListProducts(match_pb2.ListProfilesRequest()).products}


def test_sigterm_stops_cleanly_and_the_candidate_index_persists(stack, match):
    query = match_pb2.SearchCandidatesRequest(query="ищу работу курьером", top_k=5)
    before = [h.candidate.post.id for h in match.SearchCandidates(query).hits]
    assert before
    assert stack.stop_service("match", signal.SIGTERM) == 0
    stack.start_service("match")
    wait_serving(stack.address("match"), 120, stack.processes["match"])
    log = (Path(stack.workdir) / "logs" / "match.log").read_text()
    assert log.count('"candidate index ready"') == 2 and '"source": "disk"' in log.split('"candidate index ready"')[-1]
    assert [h.candidate.post.id for h in match.SearchCandidates(query).hits] == before
