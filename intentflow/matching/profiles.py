"""FAISS index over product or vacancy profiles, with keyword bonus and exclusion veto.

Score = max cosine between the post and the profile's views (name + keywords; description), plus
KEYWORD_BONUS per matched keyword (at most MAX_KEYWORD_HITS); an excluded keyword vetoes the profile.
A profile matches when its score reaches its own min_score (or the service default).
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import faiss
import numpy as np

from intentflow.embedding import Embedder
from intentflow.matching.phrases import PhraseIndex
from intentflow.nlp.linguistics import Linguistics
from intentflow.store.models import Product, Vacancy

KEYWORD_BONUS = 0.08
MAX_KEYWORD_HITS = 2
EXCLUDED = "\x1fexcluded"


@dataclass(frozen=True)
class Match:
    profile_id: str
    score: float
    cosine: float
    keywords: tuple[str, ...] = ()


def _views(profile: Product | Vacancy) -> list[str]:
    name = profile.name if isinstance(profile, Product) else profile.title
    return [f"{name}: {', '.join(profile.keywords)}", f"{name}. {profile.description}"]


class ProfileIndex:
    def __init__(self, embedder: Embedder, linguistics: Linguistics, default_min_score: float):
        self.embedder = embedder
        self.linguistics = linguistics
        self.default_min_score = default_min_score
        self._lock = threading.Lock()
        self._profiles: dict[str, Product | Vacancy] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._rebuild_locked()

    def __len__(self) -> int:
        return len(self._profiles)

    def replace_all(self, profiles: list[Product | Vacancy]) -> None:
        vectors = self._encode(profiles)
        with self._lock:
            self._profiles = {p.id: p for p in profiles}
            self._vectors = vectors
            self._rebuild_locked()

    def upsert(self, profile: Product | Vacancy) -> None:
        vectors = self._encode([profile])
        with self._lock:
            self._profiles[profile.id] = profile
            self._vectors.update(vectors)
            self._rebuild_locked()

    def delete(self, profile_id: str) -> None:
        with self._lock:
            self._profiles.pop(profile_id, None)
            self._vectors.pop(profile_id, None)
            self._rebuild_locked()

    def _encode(self, profiles: list[Product | Vacancy]) -> dict[str, np.ndarray]:
        if not profiles:
            return {}
        views = [_views(p) for p in profiles]
        flat = self.embedder.encode([v for vs in views for v in vs])
        out, at = {}, 0
        for profile, vs in zip(profiles, views):
            out[profile.id] = flat[at:at + len(vs)]
            at += len(vs)
        return out

    def _rebuild_locked(self) -> None:
        """Swap in a fresh index; readers keep the snapshot they started with."""
        ids = list(self._profiles)
        index = faiss.IndexFlatIP(self.embedder.dim)
        owners: list[str] = []
        for pid in ids:
            index.add(self._vectors[pid])
            owners.extend([pid] * len(self._vectors[pid]))
        phrases = {}
        for pid, profile in self._profiles.items():
            phrases[pid] = list(profile.keywords)
            phrases[pid + EXCLUDED] = list(getattr(profile, "excluded_keywords", []))
        self._snapshot = (index, owners, dict(self._profiles), PhraseIndex(self.linguistics, phrases))

    def match(self, embedding: np.ndarray, text: str, lang: str) -> list[Match]:
        """Every profile at or above its threshold, best first."""
        index, owners, profiles, phrases = self._snapshot
        if not profiles:
            return []
        sims, rows = index.search(embedding.reshape(1, -1).astype(np.float32), index.ntotal)
        cosine: dict[str, float] = {}
        for sim, row in zip(sims[0], rows[0]):
            if row >= 0:
                cosine[owners[row]] = max(cosine.get(owners[row], -1.0), float(sim))
        hits = phrases.find_in_text(text, lang)
        matches = []
        for pid, profile in profiles.items():
            if hits.get(pid + EXCLUDED) or (getattr(profile, "languages", None) and lang not in profile.languages):
                continue
            keywords = tuple(hits.get(pid, ()))
            score = cosine.get(pid, 0.0) + KEYWORD_BONUS * min(len(keywords), MAX_KEYWORD_HITS)
            threshold = getattr(profile, "min_score", 0.0) or self.default_min_score
            if score >= threshold:
                matches.append(Match(pid, round(score, 4), round(cosine.get(pid, 0.0), 4), keywords))
        return sorted(matches, key=lambda m: -m.score)

    def best(self, embedding: np.ndarray, text: str, lang: str) -> Match | None:
        matches = self.match(embedding, text, lang)
        return matches[0] if matches else None
