import queue

import pytest

from intentflow.v1 import match_pb2, signals_pb2
from services.match.complaints import HOUR, SpikeDetector
from services.match.priority import priority
from services.match.store import Complaint, PostRef, open_store
from services.match.subscriptions import SubscriptionHub

NOW = 1_800_000_000.0


def test_priority_prefers_probable_well_matched_fresh_leads():
    fresh = priority(0.9, 0.6, NOW, NOW)
    assert fresh == pytest.approx(0.5 * 0.9 + 0.3 * 0.6 + 0.2)
    assert priority(0.9, 0.6, NOW - 24 * HOUR, NOW) == pytest.approx(fresh - 0.1)
    assert priority(0.6, 0.6, NOW, NOW) < fresh
    assert priority(0.9, 0.0, NOW, NOW) < fresh


@pytest.fixture
def store(tmp_path):
    with open_store(f"sqlite:///{tmp_path}/s.db") as s:
        yield s


def add_complaints(store, employer: str, times: list[float]) -> None:
    for n, at in enumerate(times):
        store.add_complaint(Complaint(id=f"{employer}-{at}-{n}", post=PostRef(post_id=f"vk:{employer}{at}{n}"),
                                      employer_id=employer, probability=0.9), now=at)


def test_spike_alerts_once_when_last_hour_exceeds_the_usual_rate(store):
    detector = SpikeDetector(store, multiple=3.0, min_count=3, baseline_days=7)
    add_complaints(store, "steady", [NOW - d * 86400 / 4 for d in range(1, 28)])  # four a day for a week
    add_complaints(store, "steady", [NOW - 60, NOW - 30])
    assert detector.check("steady", NOW) is None  # two in an hour is below the minimum
    add_complaints(store, "spiky", [NOW - 50 * 60, NOW - 20 * 60, NOW - 5 * 60, NOW - 60])
    spike = detector.check("spiky", NOW)
    assert spike and spike.recent == 4 and spike.ratio > 3
    assert detector.check("spiky", NOW + 60) is None  # one alert per hour


def test_a_restart_does_not_send_an_alert_again(store):
    add_complaints(store, "spiky", [NOW - 50 * 60, NOW - 20 * 60, NOW - 5 * 60, NOW - 60])
    assert SpikeDetector(store, multiple=3.0, min_count=3, baseline_days=7).check("spiky", NOW)
    restarted = SpikeDetector(store, multiple=3.0, min_count=3, baseline_days=7)  # same store, fresh detector
    assert restarted.check("spiky", NOW + 60) is None
    add_complaints(store, "spiky", [NOW + HOUR + k for k in range(4)])
    assert restarted.check("spiky", NOW + HOUR + 10), "the next hour may alert again"


def test_usual_rate_suppresses_alerts_for_a_noisy_employer(store):
    detector = SpikeDetector(store, multiple=3.0, min_count=3, baseline_days=1)
    add_complaints(store, "noisy", [NOW - HOUR - k * 600 for k in range(1, 100)])  # six an hour, all day
    add_complaints(store, "noisy", [NOW - 10 * 60, NOW - 5 * 60, NOW - 60, NOW - 30])
    assert detector.check("noisy", NOW) is None


def test_subscriptions_filter_by_kind_profile_and_language():
    hub = SubscriptionHub()
    leads_for_laptops = hub.open(match_pb2.SubscribeRequest(leads=True, profile_ids=["laptops"]))
    everything = hub.open(match_pb2.SubscribeRequest())
    hr_in_uk = hub.open(match_pb2.SubscribeRequest(hr_signals=True, languages=["uk"]))
    lead = match_pb2.SubscribeEvent(lead=signals_pb2.Lead(lead_id="l1", product_id="laptops"))
    hr = match_pb2.SubscribeEvent(hr_signal=signals_pb2.HrSignal(candidate=signals_pb2.CandidateSignal()))
    hub.publish(lead, "laptops", "ru")
    hub.publish(hr, "courier", "uk")
    hub.publish(match_pb2.SubscribeEvent(lead=signals_pb2.Lead(lead_id="l2")), "phones", "uk")
    assert [e.lead.lead_id for e in drain(leads_for_laptops)] == ["l1"]
    assert len(drain(everything)) == 3
    assert [e.WhichOneof("event") for e in drain(hr_in_uk)] == ["hr_signal"]
    hub.close(everything)
    assert len(hub) == 2


def drain(subscription) -> list:
    events = []
    while True:
        try:
            events.append(subscription.events.get_nowait())
        except queue.Empty:
            return events
