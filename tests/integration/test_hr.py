"""HR side over the real pipeline: complaints per watchlist employer, spike alerts, recruiter search."""
from __future__ import annotations

import time

from intentflow.kafka_io import make_consumer
from intentflow.v1 import ingest_pb2, match_pb2, post_pb2, profiles_pb2, signals_pb2
from intentflow.wire import decode
from tests.integration.helpers import end_offsets, eventually, unique

COMPLAINTS = [
    ("ru", "В {name}е третий месяц задерживают зарплату, начальник орет, переработки никто не оплачивает"),
    ("uk", "У {name}і знову затримують зарплату, штрафують за все підряд, керівництво хамить"),
    ("en", "{name} hasn't paid us for two months and my manager makes us do unpaid overtime every weekend"),
]


def test_complaints_link_to_employer_in_each_language_and_spike_alerts(stack, ingest, match, kafka):
    employer_id = unique("emp")
    name = "Трансвектор"
    match.UpsertEmployer(profiles_pb2.EmployerProfile(id=employer_id, names=[name, "Transvector"]))
    start = end_offsets(kafka, kafka.topic_hr)
    posts = []
    for n, (lang, text) in enumerate(COMPLAINTS):
        shown = "Transvector" if lang == "en" else name
        posts.append(post_pb2.Post(id=unique("c"), network="vk", author=unique("worker"),
                                   text=text.format(name=shown) + f" {n}"))
    ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=posts))
    complaints = eventually(lambda: (lambda found: found if len(found) == 3 else None)(
        match.ListComplaints(match_pb2.ListComplaintsRequest(employer_id=employer_id)).complaints))
    assert {c.post.lang for c in complaints} == {"ru", "uk", "en"}
    assert all(any("employer" in e for e in c.evidence) for c in complaints)
    alerts = _hr_signals(kafka, start, lambda s: s.HasField("alert") and s.alert.employer_id == employer_id)
    assert alerts and alerts[0].alert.recent_count >= 3


def test_customer_complaint_naming_a_watchlist_company_is_not_an_employer_complaint(ingest, match):
    employer_id = unique("bank")
    match.UpsertEmployer(profiles_pb2.EmployerProfile(id=employer_id, names=["Мегабанк"]))
    post_id, marker = unique("cust"), unique("marker")
    ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[
        post_pb2.Post(id=post_id, network="vk", author=unique("a"),
                      text="Мегабанк заблокировал карту и третий день не возвращает деньги, поддержка молчит"),
        post_pb2.Post(id=marker, network="vk", author=unique("a"),
                      text="У нас в конторе опять задерживают зарплату, начальник говорит потерпите")]))
    eventually(lambda: any(c.post.id == marker for c in
                           match.ListComplaints(match_pb2.ListComplaintsRequest(limit=500)).complaints))
    assert not match.ListComplaints(match_pb2.ListComplaintsRequest(employer_id=employer_id)).complaints


def test_recruiter_search_finds_job_seekers_by_meaning_with_filters(ingest, match):
    city = unique("Town")
    seekers = {
        unique("js"): f"Ищу работу водителем грузовика категории CE, опыт 8 лет, {city}",
        unique("js"): f"Шукаю роботу бухгалтером, досвід 5 років, BAS, {city}",
        unique("js"): "Looking for a job as a forklift driver or warehouse picker, night shifts ok",
    }
    ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[
        post_pb2.Post(id=i, network="telegram", author=unique("a"), text=t) for i, t in seekers.items()]))
    ids = list(seekers)

    def search(**kw):
        return match.SearchCandidates(match_pb2.SearchCandidatesRequest(top_k=20, **kw)).hits
    # Both posts of the city must be indexed first: they may travel on different partitions.
    eventually(lambda: {h.candidate.post.id for h in search(query="бухгалтер", location_words=[city])}
               >= {ids[0], ids[1]})
    hits = search(query="ищу водителя фуры с категорией CE", location_words=[city])
    assert hits[0].candidate.post.id == ids[0]
    assert [h.candidate.post.id for h in search(query="водитель", location_words=[city], languages=["uk"])] == [ids[1]]


def _hr_signals(kafka, start_offsets, wanted, timeout_s=60):
    consumer = make_consumer(kafka, None)
    consumer.assign(list(start_offsets))
    for tp, offset in start_offsets.items():
        consumer.seek(tp, offset)
    found, deadline = [], time.monotonic() + timeout_s
    while not found and time.monotonic() < deadline:
        for records in consumer.poll(timeout_ms=500).values():
            found += [s for s in (decode(r.value, signals_pb2.HrSignal()) for r in records) if wanted(s)]
    consumer.close()
    return found
