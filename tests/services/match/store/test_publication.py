"""Publication claims: several match processes share one store, and the store decides which one puts a lead,
candidate or complaint on its topic (SQLite and PostgreSQL, see conftest.py)."""
from __future__ import annotations

from services.match.store import AddResult, Claim, Complaint, PostRef, TakenOver
from tests.services.match.store.test_store import NOW, add, make_item, run_concurrently

HOLD_S = 40.0


def test_one_claimant_at_a_time_until_published(store):
    (item,) = add(store, make_item("a"))
    assert store.claim_item_publication(item.id, "A", HOLD_S, NOW) is Claim.MINE
    assert store.claim_item_publication(item.id, "B", HOLD_S, NOW + 1) is Claim.HELD
    assert store.claim_item_publication(item.id, "A", HOLD_S, NOW + 2) is Claim.MINE, "a retry renews its own"
    assert store.mark_published(item.id, "B") is False, "only the claim holder marks it published"
    assert store.mark_published(item.id, "A") is True
    assert store.claim_item_publication(item.id, "B", HOLD_S, NOW + 3) is Claim.PUBLISHED
    assert store.claim_item_publication(item.id, "A", HOLD_S, NOW + 3) is Claim.PUBLISHED


def test_a_record_removed_meanwhile_is_not_published(store):
    assert store.claim_item_publication("lead_erased", "A", HOLD_S, NOW) is Claim.GONE
    assert store.claim_complaint_publication("complaint_erased", "A", HOLD_S, NOW) is Claim.GONE


def test_a_claim_of_a_process_that_died_lapses_and_says_when_it_began(store):
    (item,) = add(store, make_item("a"))
    assert store.claim_item_publication(item.id, "A", HOLD_S, NOW) is Claim.MINE
    assert store.claim_item_publication(item.id, "B", HOLD_S, NOW + HOLD_S - 1) is Claim.HELD
    assert store.claim_item_publication(item.id, "B", HOLD_S, NOW + HOLD_S) == TakenOver(since=NOW)
    assert store.claim_item_publication(item.id, "B", HOLD_S, NOW + HOLD_S + 1) is Claim.MINE, "its own now"
    assert store.mark_published(item.id, "A") is False, "the late process no longer holds it"
    assert store.mark_published(item.id, "B") is True


def test_a_merged_version_is_published_again_even_while_the_previous_one_is_in_flight(store):
    first = make_item("a", author="ivan", created_at=NOW - 100)
    (item,) = add(store, first, window=600)
    assert store.claim_item_publication(item.id, "A", HOLD_S, NOW) is Claim.MINE
    result, merged = store.add_queue_item(make_item("b", author="ivan", created_at=NOW - 50), 600, NOW)
    assert result is AddResult.MERGED and merged.id == item.id and merged.published is False
    assert store.claim_item_publication(item.id, "B", HOLD_S, NOW + 1) is Claim.MINE, "the merge cleared A's claim"
    assert store.mark_published(item.id, "A") is False, "A delivered the version before the merge"
    assert store.get_item(item.id).published is False
    assert store.mark_published(item.id, "B") is True


def test_complaints_are_claimed_the_same_way(store):
    post = PostRef("x1", network="vk", author="a", text="зарплату задерживают", created_at=NOW)
    _created, complaint = store.add_complaint(Complaint("", post, "e1", detected_at=NOW))
    assert store.claim_complaint_publication(complaint.id, "A", HOLD_S, NOW) is Claim.MINE
    assert store.claim_complaint_publication(complaint.id, "B", HOLD_S, NOW) is Claim.HELD
    assert store.mark_complaint_published(complaint.id, "A") is True
    assert store.claim_complaint_publication(complaint.id, "B", HOLD_S, NOW) is Claim.PUBLISHED


def test_concurrent_claims_from_two_instances_grant_each_record_once(store, open_instance):
    stores = [store, open_instance()]
    items = add(store, *(make_item(f"p{i}") for i in range(30)))

    def claim_all(n):
        return [item.id for item in items
                if stores[n % 2].claim_item_publication(item.id, f"process-{n}", HOLD_S, NOW) is Claim.MINE]

    granted = [item_id for ids in run_concurrently(6, claim_all) for item_id in ids]
    assert sorted(granted) == sorted(item.id for item in items)
