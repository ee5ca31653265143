"""Store behaviour, run against SQLite and PostgreSQL (see conftest.py)."""
from __future__ import annotations

import dataclasses
import threading
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from services.match.store import (
    AddResult,
    Claim,
    Complaint,
    Employer,
    InvalidTransition,
    LeaseConflict,
    NotFound,
    PostRef,
    Product,
    QueueItem,
    Vacancy,
    complaint_id,
    open_store,
    queue_item_id,
)
from services.match.store import job_posts as job_posts_module
from services.match.store.schema import SCHEMA_VERSION

NOW = 1_700_000_000.0


def make_item(post_id: str, profile_id: str = "p1", *, kind: str = "lead", priority: float = 0.5,
              author: str = "", network: str = "vk", created_at: float = NOW - 3600,
              lang: str = "en", match_score: float = 0.5, detected_at: float = NOW) -> QueueItem:
    post = PostRef(post_id, network=network, author=author, url=f"https://x/{post_id}",
                   text=f"text of {post_id} ✓", lang=lang, created_at=created_at)
    return QueueItem(queue_item_id(kind, post_id, profile_id), kind, profile_id, post,
                     intent_probability=0.8, match_score=match_score, priority=priority,
                     evidence=[f"ev-{post_id}"], detected_at=detected_at)


def add(store, *items: QueueItem, window: float = 0.0) -> list[QueueItem]:
    out = []
    for item in items:
        result, stored = store.add_queue_item(item, dedup_window_s=window, now=NOW)
        assert result is AddResult.CREATED, (item.post.post_id, result)
        out.append(stored)
    return out


def run_concurrently(n: int, fn) -> list:
    """Calls fn(i) for i in range(n) on n threads released at the same moment."""
    barrier = threading.Barrier(n)

    def start(i):
        barrier.wait()
        return fn(i)

    with ThreadPoolExecutor(n) as pool:
        return [f.result() for f in [pool.submit(start, i) for i in range(n)]]


# --- profiles ---------------------------------------------------------------------------------

def test_product_crud(store):
    product = Product("p1", "CRM Лид", description="sales CRM", keywords=["crm", "воронка"],
                      excluded_keywords=["job"], languages=["ru", "en"], min_score=0.4,
                      owner_team="sales", updated_at=123.5)
    assert store.upsert_product(product) == product
    assert store.get_product("p1") == product
    changed = Product("p1", "CRM 2", keywords=["crm"], updated_at=0.0)
    stored = store.upsert_product(changed, now=NOW)
    assert stored.updated_at == NOW
    assert store.get_product("p1") == stored
    store.upsert_product(Product("a0", "First"))
    assert [p.id for p in store.list_products()] == ["a0", "p1"]
    assert store.delete_product("p1") is True
    assert store.delete_product("p1") is False
    assert store.get_product("p1") is None
    assert [p.id for p in store.list_products()] == ["a0"]


def test_vacancy_and_employer_crud(store):
    vacancy = Vacancy("v1", "Python dev", description="remote", keywords=["python"],
                      location="Kyiv", updated_at=5.0)
    employer = Employer("e1", names=["Рога и Копыта", "Horns & Hooves"], updated_at=6.0)
    store.upsert_vacancy(vacancy)
    store.upsert_employer(employer)
    assert store.get_vacancy("v1") == vacancy and store.list_vacancies() == [vacancy]
    assert store.get_employer("e1") == employer and store.list_employers() == [employer]
    store.upsert_employer(Employer("e1", names=["Only"], updated_at=7.0))
    assert store.get_employer("e1").names == ["Only"]
    assert store.delete_vacancy("v1") and not store.delete_vacancy("v1")
    assert store.delete_employer("e1") and store.list_employers() == []
    assert store.get_vacancy("v1") is None and store.get_employer("nope") is None


# --- adding and dedup -------------------------------------------------------------------------

def test_add_is_idempotent_per_post_and_profile(store):
    first = make_item("post-1", priority=0.4)
    result, stored = store.add_queue_item(first, dedup_window_s=0, now=NOW)
    assert result is AddResult.CREATED and stored == first
    again = make_item("post-1", priority=0.9)
    result, dup = store.add_queue_item(again, dedup_window_s=600, now=NOW + 5)
    assert result is AddResult.DUPLICATE
    assert dup == first  # the stored item, not the re-submitted one
    # The same post matching another profile, or as another kind, is a separate item.
    assert store.add_queue_item(make_item("post-1", "p2"), 0, NOW)[0] is AddResult.CREATED
    result, _ = store.add_queue_item(make_item("post-1", kind="candidate"), 0, NOW)
    assert result is AddResult.CREATED
    assert len(store.list_items("lead")) == 2
    assert len(store.list_items("candidate")) == 1


def test_add_resets_lifecycle_fields_and_derives_missing_id(store):
    item = make_item("post-1")
    item = dataclasses.replace(item, id="", status="won", lease_owner="x", published=True,
                               detected_at=0.0)
    _, stored = store.add_queue_item(item, 0, now=NOW)
    assert stored.id == queue_item_id("lead", "post-1", "p1")
    assert (stored.status, stored.lease_owner, stored.published, stored.detected_at) == (
        "new", "", False, NOW)
    assert store.get_item(stored.id) == stored


def test_author_posts_within_window_merge_into_one_item(store):
    first = make_item("a", author="ivan", created_at=1000, priority=0.3)
    store.add_queue_item(first, 120, NOW)
    newer = make_item("b", author="ivan", created_at=1060, priority=0.9)
    result, merged = store.add_queue_item(newer, 120, NOW + 60)
    assert result is AddResult.MERGED
    assert merged.id == first.id
    assert merged.post == newer.post
    assert merged.related_post_ids == ["a"]
    assert merged.priority == 0.9
    assert merged.evidence == ["ev-b", "ev-a"]
    assert merged.detected_at == first.detected_at
    assert store.get_item(first.id) == merged
    assert len(store.list_items("lead")) == 1
    # A merged post is remembered: re-adding it is a duplicate of the merged item.
    result, dup = store.add_queue_item(newer, 120, NOW + 70)
    assert result is AddResult.DUPLICATE and dup == merged
    # An older post arriving late joins the item but does not replace the newest post.
    older = make_item("c", author="ivan", created_at=990, priority=0.1)
    result, merged = store.add_queue_item(older, 120, NOW + 80)
    assert result is AddResult.MERGED
    assert merged.post.post_id == "b"
    assert merged.related_post_ids == ["a", "c"]
    assert merged.priority == 0.9


def test_dedup_creates_new_items_outside_window_or_scope(store):
    base = make_item("a", author="ivan", created_at=1000)
    store.add_queue_item(base, 60, NOW)
    cases = {
        "outside window": make_item("b", author="ivan", created_at=1100),
        "other author": make_item("c", author="petro", created_at=1010),
        "other profile": make_item("d", "p2", author="ivan", created_at=1010),
        "other network": make_item("e", author="ivan", network="x", created_at=1010),
        "other kind": make_item("f", kind="candidate", author="ivan", created_at=1010),
        "window disabled": make_item("g", author="ivan", created_at=1001),
    }
    for name, item in cases.items():
        window = 0 if name == "window disabled" else 60
        result, _ = store.add_queue_item(item, window, NOW)
        assert result is AddResult.CREATED, name
    for post_id in ("h", "i"):  # an empty author never merges
        result, _ = store.add_queue_item(make_item(post_id, created_at=1000), 60, NOW)
        assert result is AddResult.CREATED


def test_dedup_ignores_closed_items(store):
    first = make_item("a", author="ivan", created_at=1000)
    store.add_queue_item(first, 60, NOW)
    store.lease_items("lead", "alice", now=NOW)
    store.ack_item("lead", first.id, "alice", "not_a_lead", now=NOW)
    result, _ = store.add_queue_item(make_item("b", author="ivan", created_at=1001), 60, NOW)
    assert result is AddResult.CREATED


# --- leasing ----------------------------------------------------------------------------------

def test_lease_takes_highest_priority_first(store):
    add(store, *(make_item(f"p{i}", priority=pr) for i, pr in enumerate([0.2, 0.9, 0.5, 0.7, 0.1])))
    leased = store.lease_items("lead", "alice", limit=3, lease_seconds=60, now=NOW)
    assert [i.priority for i in leased] == [0.9, 0.7, 0.5]
    for item in leased:
        assert (item.status, item.lease_owner) == ("leased", "alice")
        assert item.lease_expires_at == NOW + 60
        assert store.get_item(item.id) == item
    assert [i.priority for i in store.lease_items("lead", "bob", limit=3, now=NOW)] == [0.2, 0.1]
    assert store.lease_items("lead", "bob", limit=3, now=NOW) == []


def test_lease_filters(store):
    add(store,
        make_item("match-en", "p1", lang="en", match_score=0.8, priority=0.9),
        make_item("match-ru", "p1", lang="ru", match_score=0.8, priority=0.8),
        make_item("weak", "p1", lang="en", match_score=0.2, priority=0.7),
        make_item("other", "p2", lang="en", match_score=0.8, priority=0.6),
        make_item("unmatched", "", lang="en", match_score=0.8, priority=0.95),
        make_item("cand", "v1", kind="candidate", priority=1.0))

    def ids(**kw):
        leased = store.lease_items("lead", "x", limit=10, now=NOW, **kw)
        for item in leased:
            store.release_item("lead", item.id, "x", now=NOW)
        return [i.post.post_id for i in leased]

    assert ids() == ["match-en", "match-ru", "weak", "other"]
    assert ids(include_unmatched=True) == ["unmatched", "match-en", "match-ru", "weak", "other"]
    assert ids(profile_ids=["p2"]) == ["other"]
    assert ids(profile_ids=["p2"], include_unmatched=True) == ["unmatched", "other"]
    assert ids(min_score=0.5) == ["match-en", "match-ru", "other"]
    assert ids(languages=["ru"]) == ["match-ru"]
    assert ids(languages=["en", "ru"], min_score=0.5, profile_ids=["p1"]) == [
        "match-en", "match-ru"]


def test_expired_lease_makes_item_available_again(store):
    (item,) = add(store, make_item("a"))
    assert len(store.lease_items("lead", "alice", lease_seconds=60, now=NOW)) == 1
    assert store.lease_items("lead", "bob", now=NOW + 59) == []
    (again,) = store.lease_items("lead", "bob", lease_seconds=60, now=NOW + 61)
    assert again.id == item.id and again.lease_owner == "bob"
    with pytest.raises(LeaseConflict):
        store.ack_item("lead", item.id, "alice", "contacted", now=NOW + 62)
    assert store.ack_item("lead", item.id, "bob", "contacted", now=NOW + 62).status == "contacted"


def _lease_until_empty(store, owner: str, total: int = 150) -> list[str]:
    got: list[str] = []
    # Bounded, so a bug that re-leases items fails the test instead of hanging it.
    while len(got) <= total and (batch := store.lease_items("lead", owner, limit=3, now=NOW)):
        got += [i.id for i in batch]
    return got


def _assert_each_item_leased_once(store, per_owner: list[list[str]], total: int) -> None:
    everything = [i for ids in per_owner for i in ids]
    assert len(everything) == total
    assert len(set(everything)) == total
    # The stored owner is the caller that received the item, so no lease was overwritten.
    for n, ids in enumerate(per_owner):
        for item_id in ids:
            assert store.get_item(item_id).lease_owner == f"rep{n}"


def test_concurrent_leasing_threads_never_share_items(store):
    add(store, *(make_item(f"p{i}", priority=(i % 17) / 17) for i in range(150)))
    per_owner = run_concurrently(10, lambda n: _lease_until_empty(store, f"rep{n}"))
    _assert_each_item_leased_once(store, per_owner, 150)


def test_concurrent_leasing_two_store_instances_never_share_items(store, open_instance):
    replica = open_instance()
    add(store, *(make_item(f"p{i}", priority=(i % 13) / 13) for i in range(150)))
    stores = [store, replica]
    per_owner = run_concurrently(10, lambda n: _lease_until_empty(stores[n % 2], f"rep{n}"))
    _assert_each_item_leased_once(store, per_owner, 150)


def test_concurrent_adds_from_two_instances_stay_idempotent_and_merged(store, open_instance):
    stores = [store, open_instance()]
    # Every thread submits the same 20 posts by one author, all within the dedup window.
    items = [make_item(f"p{i}", author="ivan", created_at=1000 + i) for i in range(20)]

    def submit(n):
        rotated = items[n % 3:] + items[:n % 3]  # threads collide on different posts first
        return [stores[n % 2].add_queue_item(it, 600, NOW)[0] for it in rotated]

    results = [r for rs in run_concurrently(8, submit) for r in rs]
    assert results.count(AddResult.CREATED) == 1
    assert results.count(AddResult.MERGED) == 19
    assert results.count(AddResult.DUPLICATE) == 8 * 20 - 20
    (only,) = store.list_items("lead")
    assert only.post.post_id == "p19"
    assert sorted(only.related_post_ids) == sorted(f"p{i}" for i in range(19))


# --- outcomes ---------------------------------------------------------------------------------

def test_only_live_lease_owner_may_ack(store):
    (item,) = add(store, make_item("a"))
    store.lease_items("lead", "alice", lease_seconds=60, now=NOW)
    with pytest.raises(LeaseConflict):
        store.ack_item("lead", item.id, "bob", "contacted", now=NOW + 1)
    assert store.get_item(item.id).status == "leased"
    with pytest.raises(NotFound):
        store.ack_item("lead", "missing", "alice", "contacted", now=NOW)
    with pytest.raises(NotFound):
        store.ack_item("candidate", item.id, "alice", "contacted", now=NOW)
    with pytest.raises(InvalidTransition):
        store.ack_item("lead", item.id, "alice", "maybe", now=NOW)
    acked = store.ack_item("lead", item.id, "alice", "contacted", note="called", now=NOW + 2)
    assert (acked.status, acked.outcome_note, acked.outcome_at, acked.lease_owner) == (
        "contacted", "called", NOW + 2, "alice")
    assert store.get_item(item.id) == acked


def test_outcome_transitions(store):
    a, b, c = add(store, make_item("a"), make_item("b"), make_item("c"))
    store.lease_items("lead", "alice", limit=3, now=NOW)
    store.ack_item("lead", a.id, "alice", "contacted", now=NOW)
    for bad in ("contacted", "not_a_lead"):
        with pytest.raises(InvalidTransition):
            store.ack_item("lead", a.id, "alice", bad, now=NOW)
    # Closing a deal is open to any rep, long after the lease.
    assert store.ack_item("lead", a.id, "bob", "won", "signed", now=NOW + 9999).status == "won"
    for bad in ("lost", "won", "contacted"):
        with pytest.raises(InvalidTransition):
            store.ack_item("lead", a.id, "alice", bad, now=NOW)
    store.ack_item("lead", b.id, "alice", "not_a_lead", now=NOW)
    with pytest.raises(InvalidTransition):
        store.ack_item("lead", b.id, "alice", "contacted", now=NOW)
    store.ack_item("lead", c.id, "alice", "lost", now=NOW)
    assert [store.get_item(i.id).status for i in (a, b, c)] == ["won", "not_a_lead", "lost"]


def test_release_returns_item_to_queue(store):
    (item,) = add(store, make_item("a"))
    with pytest.raises(InvalidTransition):
        store.release_item("lead", item.id, "alice", now=NOW)
    store.lease_items("lead", "alice", lease_seconds=60, now=NOW)
    with pytest.raises(LeaseConflict):
        store.release_item("lead", item.id, "bob", now=NOW + 1)
    released = store.release_item("lead", item.id, "alice", now=NOW + 1)
    assert (released.status, released.lease_owner, released.lease_expires_at) == ("new", "", 0.0)
    assert store.get_item(item.id) == released
    assert [i.id for i in store.lease_items("lead", "bob", now=NOW + 2)] == [item.id]
    with pytest.raises(NotFound):
        store.release_item("lead", "missing", "bob", now=NOW)


def test_funnel_counts_add_up(store):
    items = add(store, *(make_item(f"i{n}", "p1", detected_at=NOW + n) for n in range(6)),
                make_item("other-profile", "p2", detected_at=NOW),
                make_item("cand", "v1", kind="candidate", detected_at=NOW))
    i0, i1, i2, i3, i4 = items[:5]  # items[5] stays open
    store.lease_items("lead", "alice", limit=10, now=NOW)
    store.ack_item("lead", i0.id, "alice", "contacted", now=NOW)
    store.ack_item("lead", i0.id, "bob", "won", now=NOW + 1)
    store.ack_item("lead", i1.id, "alice", "contacted", now=NOW)
    store.ack_item("lead", i1.id, "alice", "lost", now=NOW + 1)
    store.ack_item("lead", i2.id, "alice", "contacted", now=NOW)
    store.ack_item("lead", i3.id, "alice", "not_a_lead", now=NOW)
    store.ack_item("lead", i4.id, "alice", "won", now=NOW)  # closed on first contact
    funnel = store.funnel("lead", "p1")
    assert funnel == {"leads": 6, "contacted": 4, "won": 2, "lost": 1, "not_a_lead": 1}
    open_items = 1  # i5
    assert funnel["contacted"] + funnel["not_a_lead"] + open_items == funnel["leads"]
    assert funnel["won"] + funnel["lost"] <= funnel["contacted"]
    # The period selects the cohort of items detected in [since, until).
    assert store.funnel("lead", "p1", since=NOW + 1, until=NOW + 4) == {
        "leads": 3, "contacted": 2, "won": 0, "lost": 1, "not_a_lead": 1}
    assert store.funnel("lead")["leads"] == 7
    assert store.funnel("candidate") == {"leads": 1, "contacted": 0, "won": 0, "lost": 0,
                                         "not_a_lead": 0}
    assert store.funnel("lead", "nobody") == {"leads": 0, "contacted": 0, "won": 0, "lost": 0,
                                              "not_a_lead": 0}


def test_feedback_stats(store):
    items = add(store, make_item("a", "p1"), make_item("b", "p1"), make_item("c", "p1"),
                make_item("d", "p2"), make_item("e", "p3"), make_item("f", ""),
                make_item("g", "v1", kind="candidate"))
    store.lease_items("lead", "alice", limit=10, now=NOW, include_unmatched=True)
    for item, outcome in zip(items, ["contacted", "not_a_lead", "won", "not_a_lead", None,
                                     "not_a_lead"]):
        if outcome:
            store.ack_item("lead", item.id, "alice", outcome, now=NOW)
    assert store.feedback_stats("lead") == {
        "p1": {"acked": 3, "not_a_lead": 1},
        "p2": {"acked": 1, "not_a_lead": 1},
        "": {"acked": 1, "not_a_lead": 1},
    }
    assert store.feedback_stats("candidate") == {}


# --- listing and publishing -------------------------------------------------------------------

def test_list_filters_and_paging(store):
    add(store,
        make_item("a", "p1", priority=0.9, lang="en", detected_at=NOW),
        make_item("b", "p1", priority=0.8, lang="ru", detected_at=NOW + 10),
        make_item("c", "p2", priority=0.7, lang="uk", detected_at=NOW + 20),
        make_item("d", "", priority=0.6, lang="en", detected_at=NOW + 30),
        make_item("e", "p2", priority=0.5, lang="en", detected_at=NOW + 40),
        make_item("f", "p1", priority=0.4, lang="en", detected_at=NOW + 50),
        make_item("g", "v1", kind="candidate", priority=1.0))
    store.lease_items("lead", "alice", profile_ids=["p2"], limit=1, now=NOW)  # takes c

    def ids(**kw):
        return [i.post.post_id for i in store.list_items("lead", **kw)]

    assert ids() == ["a", "b", "c", "d", "e", "f"]
    assert ids(include_unmatched=False) == ["a", "b", "c", "e", "f"]
    assert ids(profile_ids=["p1"], include_unmatched=False) == ["a", "b", "f"]
    assert ids(profile_ids=["p1"]) == ["a", "b", "d", "f"]
    assert ids(statuses=["leased"]) == ["c"]
    assert ids(statuses=["new"], languages=["en"]) == ["a", "d", "e", "f"]
    assert ids(languages=["ru", "uk"]) == ["b", "c"]
    assert ids(since=NOW + 30) == ["d", "e", "f"]
    pages = [ids(limit=4, offset=0), ids(limit=4, offset=4), ids(limit=4, offset=8)]
    assert pages == [["a", "b", "c", "d"], ["e", "f"], []]
    assert [i.post.post_id for i in store.list_items("candidate")] == ["g"]


def test_publish_outbox(store):
    a, b = add(store, make_item("a", detected_at=NOW + 1), make_item("b", detected_at=NOW))
    add(store, make_item("c", kind="candidate"))
    assert [i.id for i in store.unpublished_items("lead", limit=10)] == [b.id, a.id]
    assert store.mark_published(b.id) is True
    assert store.mark_published("missing") is False
    assert [i.id for i in store.unpublished_items("lead", limit=10)] == [a.id]
    assert store.get_item(b.id).published is True
    assert len(store.unpublished_items("candidate", limit=10)) == 1
    assert len(store.unpublished_items("lead", limit=0)) == 0


# --- job posts --------------------------------------------------------------------------------

def _job_post(post_id: str, created_at: float) -> PostRef:
    return PostRef(post_id, network="tg", author=f"au-{post_id}", text="шукаю роботу",
                   lang="uk", created_at=created_at)


def test_job_posts_ids_are_stable_and_iterable(store, monkeypatch):
    monkeypatch.setattr(job_posts_module, "_BATCH", 2)  # exercise the batch boundaries
    rng = np.random.default_rng(7)
    vectors = {f"j{i}": rng.standard_normal(8).astype(np.float32) for i in range(5)}
    ids = {pid: store.add_job_post(_job_post(pid, 1000 + i), vec, 0.5 + i / 10)
           for i, (pid, vec) in enumerate(vectors.items())}
    assert list(ids.values()) == sorted(ids.values()) and len(set(ids.values())) == 5
    assert store.add_job_post(_job_post("j2", 1002), np.zeros(8), 0.1) == ids["j2"]
    assert store.count_job_posts() == 5
    rows = list(store.iter_job_posts())
    assert [r[0] for r in rows] == sorted(ids.values())
    for job_id, post, _prob, emb in rows:
        assert post == _job_post(post.post_id, post.created_at)
        assert ids[post.post_id] == job_id
        assert emb.dtype == np.float32
        np.testing.assert_array_equal(emb, vectors[post.post_id])
    assert rows[2][2] == pytest.approx(0.7)  # the first probability survives the re-add
    assert [r[1].post_id for r in store.iter_job_posts(since=1003)] == ["j3", "j4"]
    got = store.get_job_posts([ids["j0"], ids["j4"], 10**9])
    assert set(got) == {ids["j0"], ids["j4"]}
    assert got[ids["j4"]] == (_job_post("j4", 1004), pytest.approx(0.9))
    with pytest.raises(ValueError):
        store.add_job_post(_job_post("bad", 1), np.zeros((2, 2)), 0.5)


def test_prune_job_posts_never_reuses_ids(store):
    ids = [store.add_job_post(_job_post(f"j{i}", 1000 + i), np.ones(4), 0.5) for i in range(4)]
    assert store.prune_job_posts(before=1002) == ids[:2]
    assert store.prune_job_posts(before=1002) == []
    assert store.count_job_posts() == 2
    assert [r[0] for r in store.iter_job_posts()] == ids[2:]
    assert store.get_job_posts(ids[:2]) == {}
    assert store.prune_job_posts(before=10_000) == ids[2:]
    assert store.count_job_posts() == 0
    # An id handed to a vector index must never come back meaning another post.
    new_id = store.add_job_post(_job_post("j0", 5000), np.ones(4), 0.5)
    assert new_id > max(ids)


# --- complaints -------------------------------------------------------------------------------

def test_complaints_idempotent_and_counted(store):
    def complaint(post_id, employer_id, at):
        return Complaint("", PostRef(post_id, network="fb", author="a", text="не платят",
                                     created_at=at - 100), employer_id, probability=0.9,
                         evidence=["salary delay"], detected_at=at)

    def created(c):
        return store.add_complaint(c)[0]

    assert created(complaint("x1", "e1", NOW)) is True
    again, earlier = store.add_complaint(complaint("x1", "e1", NOW + 5))
    assert again is False and earlier.detected_at == NOW and earlier.published is False
    renamed = dataclasses.replace(complaint("x1", "e1", NOW), id="custom")
    assert created(renamed) is False  # uniqueness is by post and employer, not id
    assert created(complaint("x1", "e2", NOW + 1)) is True  # same post, other employer
    assert created(complaint("x2", "e1", NOW + 2)) is True
    assert created(complaint("x3", "", NOW + 3)) is True
    assert store.count_complaints() == 4
    assert store.count_complaints("e1") == 2
    assert store.count_complaints("e1", since=NOW + 1) == 1
    assert store.count_complaints("e1", since=NOW, until=NOW + 2) == 1
    assert store.count_complaints("") == 1
    listed = store.list_complaints("e1")
    assert [c.post.post_id for c in listed] == ["x2", "x1"]
    assert listed[1] == dataclasses.replace(complaint("x1", "e1", NOW), id=complaint_id("x1", "e1"))
    assert [c.post.post_id for c in store.list_complaints(since=NOW + 2)] == ["x3", "x2"]
    assert len(store.list_complaints(limit=2)) == 2


def test_a_complaint_stays_unpublished_until_marked(store):
    post = PostRef("x9", network="vk", author="a", text="зарплату задерживают", created_at=NOW)
    created, stored = store.add_complaint(Complaint("", post, "e1", detected_at=NOW, published=True))
    assert created and stored.published is False, "a new complaint always starts unpublished"
    assert store.mark_complaint_published(stored.id) is True
    assert store.add_complaint(Complaint("", post, "e1", detected_at=NOW + 1))[1].published is True
    assert store.mark_complaint_published("no-such-complaint") is False


def test_an_alert_is_claimed_once_per_gap_across_instances(store, open_instance):
    assert store.last_alert_at("e1") is None
    assert store.claim_alert("e1", NOW, 3600) is True
    other = open_instance()  # a restarted service or another replica
    assert other.claim_alert("e1", NOW + 60, 3600) is False
    assert other.last_alert_at("e1") == NOW, "a refused claim keeps the earlier time"
    assert other.claim_alert("e2", NOW + 60, 3600) is True, "per employer"
    assert other.claim_alert("e1", NOW + 3600, 3600) is True
    assert store.last_alert_at("e1") == NOW + 3600


def test_concurrent_claims_of_one_alert_let_one_through(store_url, open_instance):
    stores = [open_instance() for _ in range(4)]
    claims = run_concurrently(4, lambda n: stores[n].claim_alert("e1", NOW + n, 3600))
    assert sorted(claims) == [False, False, False, True]


# --- audit log --------------------------------------------------------------------------------

def test_audit_entries_are_recorded_and_filtered(store, open_instance):
    store.record_audit("t1", "sales", "PullLeads", 3, at=NOW)
    store.record_audit("t2", "recruiter", "ListCandidates", 20, at=NOW + 1)
    store.record_audit("t1", "sales", "AckLead", 1, at=NOW + 2)
    store.record_audit("", "", "ListProducts", 0, at=NOW + 3)  # auth off
    reader = open_instance()
    entries = reader.audit_entries()
    assert [(e.token_id, e.role, e.method, e.count, e.at) for e in entries] == [
        ("", "", "ListProducts", 0, NOW + 3), ("t1", "sales", "AckLead", 1, NOW + 2),
        ("t2", "recruiter", "ListCandidates", 20, NOW + 1), ("t1", "sales", "PullLeads", 3, NOW)]
    assert [e.method for e in reader.audit_entries(token_id="t1")] == ["AckLead", "PullLeads"]
    assert [e.count for e in reader.audit_entries(method="ListCandidates")] == [20]
    assert [e.method for e in reader.audit_entries(since=NOW + 2)] == ["ListProducts", "AckLead"]
    assert len(reader.audit_entries(limit=2)) == 2
    with pytest.raises(ValueError):
        store.record_audit("t1", "sales", "", 1)


# --- schema and urls --------------------------------------------------------------------------

def test_schema_is_versioned_and_reopening_keeps_data(store, open_instance):
    assert store.schema_version() == SCHEMA_VERSION
    store.upsert_product(Product("p1", "CRM"))
    store.close()
    reopened = open_instance()
    assert reopened.schema_version() == SCHEMA_VERSION
    assert reopened.get_product("p1").name == "CRM"
    with reopened._tx() as cur:  # one row per applied version, not one per open
        assert cur.scalar("SELECT COUNT(*) FROM schema_version") == SCHEMA_VERSION


def test_a_v1_database_is_migrated_in_place(store_url, open_instance):
    from services.match.store import schema
    # drop to v1: the tables later versions changed, as the first release made them
    with open_store(store_url) as fresh:
        with fresh._tx(write=True) as cur:
            changed = ("complaints", "products", "vacancies", "queue_items", "audit_log")
            for table in changed:
                cur.execute(f"DROP TABLE {table}")
            cur.execute("DELETE FROM schema_version WHERE version > 1")
            for stmt in schema.statements(1, fresh._dialect):
                if any(f"TABLE IF NOT EXISTS {t} " in stmt for t in changed):
                    cur.execute(stmt)
            cur.execute("INSERT INTO complaints (id, employer_id, post_id, evidence) VALUES (?, ?, ?, ?)",
                        ("old", "e1", "p-old", "[]"))
            cur.execute("INSERT INTO products (id, name, keywords, excluded_keywords, languages)"
                        " VALUES (?, ?, ?, ?, ?)", ("p-old", "Old", "[]", "[]", "[]"))
    migrated = open_instance()
    assert migrated.schema_version() == SCHEMA_VERSION
    [old] = migrated.list_complaints("e1")
    assert old.id == "old" and old.published is False
    # v3: example posts per profile, empty for the profiles that were there
    product = migrated.get_product("p-old")
    assert product.examples == [] and product.negative_examples == []
    migrated.upsert_product(Product("p-old", "Old", examples=["want one"], negative_examples=["selling"]))
    assert migrated.get_product("p-old").examples == ["want one"]
    # v6: publication claims, on complaints and queue items alike
    assert migrated.claim_complaint_publication("old", "A", 40, NOW) is Claim.MINE
    (item,) = add(migrated, make_item("p-new"))
    assert migrated.claim_item_publication(item.id, "A", 40, NOW) is Claim.MINE
    # v7: an erasure's audit row names its subject by a hash
    migrated.record_audit("", "cli", "Erase", 1, NOW, subject="ab12")
    assert migrated.audit_entries(method="Erase")[0].subject == "ab12"


def test_replicas_can_create_the_schema_at_the_same_time(store_url):
    stores = run_concurrently(6, lambda n: open_store(store_url))
    try:
        assert {s.schema_version() for s in stores} == {SCHEMA_VERSION}
        stores[0].upsert_product(Product("p1", "CRM"))
        assert stores[-1].get_product("p1").name == "CRM"
    finally:
        for s in stores:
            s.close()


def test_memory_sqlite_is_shared_by_threads():
    store = open_store("sqlite://:memory:")
    try:
        run_concurrently(6, lambda n: store.add_queue_item(make_item(f"p{n}"), 0, NOW))
        assert len(store.list_items("lead")) == 6
    finally:
        store.close()


def test_unknown_url_is_rejected():
    with pytest.raises(ValueError):
        open_store("mysql://localhost/db")
