"""Employer complaints: who is complained about (alias lemmas) and when the rate spikes."""
from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

from intentflow.nlp.linguistics import Linguistics
from services.match.matching.phrases import PhraseIndex
from services.match.store import Store
from services.match.store.models import Employer

if TYPE_CHECKING:
    from spacy.tokens import Doc

HOUR = 3600.0
# A brand-new employer has no history; treat its usual rate as one complaint a day.
BASELINE_FLOOR_PER_HOUR = 1 / 24


class EmployerWatch:
    def __init__(self, linguistics: Linguistics):
        self.linguistics = linguistics
        self._index = PhraseIndex(linguistics, {})
        self._lock = threading.Lock()

    def replace_all(self, employers: list[Employer]) -> None:
        index = PhraseIndex(self.linguistics, {e.id: list(e.names) for e in employers})
        with self._lock:
            self._index = index

    def employers_in(self, text: str, lang: str, doc: Doc | None = None) -> dict[str, list[str]]:
        """employer id -> alias spellings found in the text (`doc`: the text already lemmatised in the
        pipeline of its language, when the caller has it)."""
        return self._index.find(doc, lang) if doc is not None else self._index.find_in_text(text, lang)


@dataclass(frozen=True)
class Spike:
    employer_id: str
    recent: int
    baseline_per_hour: float
    window_start: float
    window_end: float

    @property
    def ratio(self) -> float:
        return self.recent / max(self.baseline_per_hour, BASELINE_FLOOR_PER_HOUR)


class SpikeDetector:
    """Complaints about one employer detected in the hour before `at` versus its usual hourly rate over
    the baseline period before that hour. At most one alert per employer per hour; the time of the last
    one is kept in the store, so a restart (or another replica) does not send it again."""

    def __init__(self, store: Store, multiple: float, min_count: int, baseline_days: float):
        self.store = store
        self.multiple = multiple
        self.min_count = min_count
        self.baseline_s = baseline_days * 86400

    def check(self, employer_id: str, at: float) -> Spike | None:
        recent = self.store.count_complaints(employer_id, since=at - HOUR, until=at + 1e-3)
        if recent < self.min_count:
            return None
        earlier = self.store.count_complaints(employer_id, since=at - HOUR - self.baseline_s, until=at - HOUR)
        baseline = earlier / (self.baseline_s / HOUR)
        spike = Spike(employer_id, recent, baseline, at - HOUR, at)
        if spike.ratio <= self.multiple:
            return None
        return spike if self.store.claim_alert(employer_id, at, HOUR) else None
