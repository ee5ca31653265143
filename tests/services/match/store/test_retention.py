"""Retention purge and erasure of one author, run against SQLite and PostgreSQL (see conftest.py)."""
from __future__ import annotations

import numpy as np
import pytest

from services.match.store import Complaint, PostRef, Product, Vacancy, complaint_id
from services.match.store import retention as retention_module
from services.match.store.audit import subject_hash
from services.match.store.retention import RecordKeys
from tests.services.match.store.test_store import NOW, add, make_item

DAY = 86400.0
OLD, FRESH = NOW - 100 * DAY, NOW - DAY   # posts written 100 days and 1 day before NOW


def complaint(post_id: str, author: str, created_at: float, network: str = "vk") -> Complaint:
    post = PostRef(post_id, network=network, author=author, text=f"complaint {post_id}", created_at=created_at)
    return Complaint(complaint_id(post_id, "emp"), post, employer_id="emp", probability=0.9, detected_at=NOW)


def job_post(store, post_id: str, author: str, created_at: float, network: str = "vk") -> int:
    post = PostRef(post_id, network=network, author=author, text=f"looking for work {post_id}", created_at=created_at)
    return store.add_job_post(post, np.ones(4, dtype=np.float32), 0.8)


def test_a_purge_removes_only_rows_about_posts_older_than_the_cutoff(store):
    old_lead, fresh_lead = add(store, make_item("vk:old", created_at=OLD), make_item("vk:fresh", created_at=FRESH))
    old_candidate, = add(store, make_item("vk:old-cv", "v1", kind="candidate", created_at=OLD))
    store.lease_items("lead", "alice", limit=10, now=NOW)
    store.ack_item("lead", old_lead.id, "alice", "contacted", note="called", now=NOW)
    store.ack_item("lead", fresh_lead.id, "alice", "contacted", now=NOW)
    store.add_complaint(complaint("vk:old-c", "a", OLD), now=NOW)
    store.add_complaint(complaint("vk:fresh-c", "b", FRESH), now=NOW)
    old_job, fresh_job = job_post(store, "vk:old-j", "a", OLD), job_post(store, "vk:fresh-j", "b", FRESH)
    seen = []

    removed = store.purge_before(NOW - 90 * DAY, progress=lambda so_far: seen.append(so_far.total))

    assert removed.rows == {"queue_items": 2, "item_posts": 2, "outcome_events": 1, "complaints": 1, "job_posts": 1}
    assert removed.total == 7 and seen[-1] == 7
    assert removed.keys == RecordKeys(post_ids={"vk:old", "vk:old-cv", "vk:old-c", "vk:old-j"},
                                      lead_ids={old_lead.id}, candidate_ids={old_candidate.id},
                                      complaint_ids={complaint_id("vk:old-c", "emp")})
    assert removed.job_post_ids == [old_job]
    assert store.get_item(old_lead.id) is None and store.get_item(old_candidate.id) is None
    assert store.get_item(fresh_lead.id).status == "contacted"
    assert [c.post.post_id for c in store.list_complaints()] == ["vk:fresh-c"]
    assert [r[0] for r in store.iter_job_posts()] == [fresh_job]
    assert store.funnel("lead")["contacted"] == 1, "the purged lead's outcome went with it"
    assert store.purge_before(NOW - 90 * DAY).total == 0


def test_a_purge_works_through_many_rows_in_batches(store, monkeypatch):
    monkeypatch.setattr(retention_module, "_BATCH", 3)
    for n in range(8):
        job_post(store, f"vk:j{n}", "a", OLD)
        store.add_complaint(complaint(f"vk:c{n}", "a", OLD), now=NOW)
    add(store, *[make_item(f"vk:l{n}", created_at=OLD) for n in range(7)])
    batches = []
    removed = store.purge_before(NOW, progress=lambda so_far: batches.append(so_far.total))
    assert removed.rows["job_posts"] == 8 and removed.rows["complaints"] == 8 and removed.rows["queue_items"] == 7
    assert len(batches) == 4 and batches == sorted(batches), "three full batches, then one that finds nothing"
    assert store.count_job_posts() == 0 and store.list_complaints() == []


def test_an_erasure_removes_one_authors_rows_everywhere_and_logs_only_a_hash(store):
    first, = add(store, make_item("vk:1", author="olga", created_at=FRESH))
    _, merged = store.add_queue_item(make_item("vk:2", author="olga", created_at=FRESH + 60), dedup_window_s=DAY,
                                     now=NOW)
    assert merged.id == first.id and merged.related_post_ids == ["vk:1"]
    other, = add(store, make_item("vk:3", author="petr", created_at=FRESH))
    same_name_elsewhere, = add(store, make_item("tg:9", author="olga", network="tg", created_at=FRESH))
    store.add_complaint(complaint("vk:4", "olga", FRESH), now=NOW)
    job_post(store, "vk:5", "olga", FRESH)
    store.lease_items("lead", "rep", limit=10, now=NOW)
    store.ack_item("lead", first.id, "rep", "contacted", note="called olga", now=NOW)
    learned = merged.post.text
    store.upsert_product(Product("p1", "Laptops", examples=["a laptop for work", learned],
                                 negative_examples=[learned]))
    store.upsert_vacancy(Vacancy("v1", "Courier", examples=[learned]))

    known = store.author_keys("olga", "vk")
    removed = store.erase_author("olga", "vk", now=NOW)

    assert known == removed.keys == RecordKeys(post_ids={"vk:1", "vk:2", "vk:4", "vk:5"}, lead_ids={first.id},
                                               complaint_ids={complaint_id("vk:4", "emp")})
    assert removed.rows["profile examples"] == 3
    assert store.get_item(first.id) is None and store.list_complaints() == [] and store.count_job_posts() == 0
    assert store.get_product("p1").examples == ["a laptop for work"] and store.get_product("p1").negative_examples == []
    assert store.get_vacancy("v1").examples == []
    assert {store.get_item(other.id).post.author, store.get_item(same_name_elsewhere.id).post.network} == {"petr", "tg"}
    [entry] = store.audit_entries(method="Erase")
    assert (entry.role, entry.count, entry.subject) == ("cli", removed.total, subject_hash("olga", "vk"))
    assert "olga" not in repr(store.audit_entries())
    assert len(store.author_keys("olga", "vk")) == 0


def test_an_erasure_without_a_network_takes_the_name_on_every_network(store):
    add(store, make_item("vk:1", author="olga"), make_item("tg:1", author="olga", network="tg"),
        make_item("vk:2", author="ann"))
    removed = store.erase_author("olga")
    assert removed.keys.post_ids == {"vk:1", "tg:1"}
    assert [i.post.author for i in store.list_items("lead")] == ["ann"]
    assert store.audit_entries(method="Erase")[0].subject == subject_hash("olga")


def test_an_erasure_needs_an_author(store):
    with pytest.raises(ValueError, match="author"):
        store.erase_author("  ")
