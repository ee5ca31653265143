"""FAISS index over product or vacancy profiles, with keyword bonus and exclusion veto.

How a post is scored against a profile (the numbers below were chosen on the odd-numbered posts of
data/match/dev.jsonl only; `python -m intentflow.matching.tune` reproduces the choice):

* Views. Every profile is embedded as several texts (`profile_views`): the name alone, "name: keywords",
  "name. description" and each keyword on its own, so a post about "roomba" meets the view "roomba"
  instead of a paragraph that also talks about docks and carpets. Splitting the description into
  sentences and parenthesised items as well was tried: on the odd half it lost 2 posts with the shipped
  catalogue and 1 with each richer catalogue tried, as every extra short view also raises the best
  cosine of posts that belong to no profile.
* cosine = the best cosine between the post and any view of the profile. On the odd half the maximum
  ranked as well as the mean of the best 2 or 3 views and better than the mean of all views; it also lets
  one precise view (a keyword) decide.
* Keywords are matched on the post's words (`KeywordMatcher`: surface form, lemma in ru/uk/en, apostrophe
  variants, and words starting with a keyword of at least 5 letters). A profile whose keywords occur in
  the post gets KEYWORD_BONUS: 0.20, best on the odd half for vacancies together with 0.25 (0.15 and
  0.30 lose posts; products tie from 0.10 to 0.40), and large enough that a keyword decides between
  profiles of similar cosine. The old 0.08 per hit (up to two) did worse. A second, separate place with
  a keyword adds SECOND_KEYWORD_BONUS (0.10): the odd half cannot tell 0 to 0.15 apart, with the shipped
  catalogue or a richer one, but two independent keywords are stronger evidence than one, and it sends
  "Фронтенд-розробник на React" to the frontend vacancy rather than to python-dev, whose only keyword
  found there is the generic "розробник" (with 0.05 it did not).
* score = cosine + keyword bonus. An excluded keyword in the post vetoes the profile; a profile limited
  to some languages is skipped for posts in other languages.
* A profile matches when score >= its own min_score, or the index default when min_score is 0. The
  default thresholds proposed for MatchSettings are 0.22 for products and 0.29 for vacancies, the middle
  of the best plateau on the odd half with the shipped catalogue (at the old 0.35 the odd half falls to
  about 0.54 for products and 0.60 for vacancies). Job-seeking posts share more wording with every
  vacancy ("ищу работу", "looking for a job") than purchase posts do with products, so a vacancy needs a
  higher cosine without a keyword.

Also tried on the odd half and not adopted: a required margin over the runner-up (tune.py re-runs it:
0.01-0.02 change nothing, 0.03 and more lose posts), a z-score over profiles (worse), centring the
embeddings on the mean view (no gain), subtracting the cosine to a generic "looking for a job / what to
buy" view (worse), and a logistic model over [cosine, keyword hits, margin, cosine minus the post's
mean]: in 5-fold cross-validation within the odd half it scored 0.714 against 0.702 for the two-term
score, two posts of 168, too little for a score that depends on the rest of the catalogue and is harder
to explain to a tenant setting min_score.

Changes are incremental: `upsert` embeds only the changed profile and swaps its rows in the FAISS index
(an IndexIDMap2 with ids slot * VIEW_SLOTS + view number) and its keywords in the matcher.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass

import faiss
import numpy as np
from spacy.tokens import Doc

from intentflow.embedding import Embedder
from intentflow.matching.phrases import KeywordMatcher, distinct_spans, fold, pipeline_language
from intentflow.nlp.linguistics import Linguistics
from intentflow.store.models import Product, Vacancy

KEYWORD_BONUS = 0.20         # for the first place in the post where one of the profile's keywords occurs
SECOND_KEYWORD_BONUS = 0.10  # for a second, separate place; more places add nothing
MAX_KEYWORD_BONUS = KEYWORD_BONUS + SECOND_KEYWORD_BONUS
EXCLUDED = "\x1fexcluded"
MAX_VIEWS = 128            # views embedded per profile (a catalogue entry rarely has more than ~50)
VIEW_SLOTS = 1024          # FAISS id = profile slot * VIEW_SLOTS + view number
SEARCH_K = 512             # nearest views fetched per post; more only when the k-th could still pass
ENCODE_BATCH = 64


@dataclass(frozen=True)
class Match:
    profile_id: str
    score: float
    cosine: float
    keywords: tuple[str, ...] = ()


def profile_name(profile: Product | Vacancy) -> str:
    return profile.name if isinstance(profile, Product) else profile.title


def profile_views(profile: Product | Vacancy) -> list[str]:
    """The texts a profile is embedded as, without duplicates, at most MAX_VIEWS: the name, "name:
    keywords", "name. description" and each keyword on its own."""
    name = profile_name(profile).strip()
    keywords = [k.strip() for k in profile.keywords if k.strip()]
    description = (profile.description or "").strip()
    views = [name]
    if keywords:
        views.append(f"{name}: {', '.join(keywords)}")
    if description:
        views.append(f"{name}. {description}")
    views += keywords
    unique, seen = [], set()
    for view in views:
        if view and fold(view) not in seen:
            seen.add(fold(view))
            unique.append(view)
    return unique[:MAX_VIEWS]


def encode_texts(embedder: Embedder, texts: list[str], batch: int = ENCODE_BATCH) -> np.ndarray:
    """embedder.encode in batches of similar length, rows in input order. A batch pads to its longest
    text, so one long "name. description" view in every batch made the shipped catalogue 2-3x slower."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        out[rows] = embedder.encode([texts[i] for i in rows])
    return out


def _threshold(profile: Product | Vacancy, default: float) -> float:
    return getattr(profile, "min_score", 0.0) or default


class ProfileIndex:
    def __init__(self, embedder: Embedder, linguistics: Linguistics, default_min_score: float):
        self.embedder = embedder
        self.linguistics = linguistics
        self.default_min_score = default_min_score
        self._lock = threading.Lock()
        self._profiles: dict[str, Product | Vacancy] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._slots: dict[str, int] = {}
        self._owners: dict[int, str] = {}
        self._next_slot = 0
        self._lowest = default_min_score   # the lowest threshold of any profile, for the search cut-off
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dim))
        self._keywords = KeywordMatcher(linguistics)

    def __len__(self) -> int:
        return len(self._profiles)

    def replace_all(self, profiles: list[Product | Vacancy]) -> None:
        vectors = self._encode(profiles)
        keywords = KeywordMatcher(self.linguistics, {
            key: phrases for p in profiles for key, phrases in self._phrases(p).items()})
        with self._lock:
            self._profiles = {p.id: p for p in profiles}
            self._vectors = vectors
            self._slots, self._owners, self._next_slot = {}, {}, 0
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dim))
            for profile in profiles:
                self._add_rows_locked(profile.id)
            self._keywords = keywords
            self._refresh_lowest_locked()

    def upsert(self, profile: Product | Vacancy) -> None:
        vectors = self._encode([profile])
        with self._lock:
            self._remove_rows_locked(profile.id)
            self._profiles[profile.id] = profile
            self._vectors.update(vectors)
            self._add_rows_locked(profile.id)
            for key, phrases in self._phrases(profile).items():
                self._keywords.set(key, phrases)
            self._refresh_lowest_locked()

    def delete(self, profile_id: str) -> None:
        with self._lock:
            self._remove_rows_locked(profile_id)
            self._profiles.pop(profile_id, None)
            self._vectors.pop(profile_id, None)
            self._keywords.remove(profile_id)
            self._keywords.remove(profile_id + EXCLUDED)
            self._refresh_lowest_locked()

    def _refresh_lowest_locked(self) -> None:
        self._lowest = min((_threshold(p, self.default_min_score) for p in self._profiles.values()),
                           default=self.default_min_score)

    @staticmethod
    def _phrases(profile: Product | Vacancy) -> dict[str, list[str]]:
        return {profile.id: list(profile.keywords),
                profile.id + EXCLUDED: list(getattr(profile, "excluded_keywords", None) or [])}

    def _encode(self, profiles: list[Product | Vacancy]) -> dict[str, np.ndarray]:
        if not profiles:
            return {}
        views = [profile_views(p) for p in profiles]
        flat = encode_texts(self.embedder, [v for vs in views for v in vs])
        out, at = {}, 0
        for profile, vs in zip(profiles, views):
            out[profile.id] = flat[at:at + len(vs)]
            at += len(vs)
        return out

    def _add_rows_locked(self, profile_id: str) -> None:
        vectors = self._vectors[profile_id]
        slot = self._next_slot
        self._next_slot += 1
        self._slots[profile_id] = slot
        self._owners[slot] = profile_id
        if len(vectors):
            ids = slot * VIEW_SLOTS + np.arange(len(vectors), dtype=np.int64)
            self._index.add_with_ids(np.ascontiguousarray(vectors, dtype=np.float32), ids)

    def _remove_rows_locked(self, profile_id: str) -> None:
        slot = self._slots.pop(profile_id, None)
        if slot is not None:
            self._owners.pop(slot, None)
            self._index.remove_ids(faiss.IDSelectorRange(slot * VIEW_SLOTS, (slot + 1) * VIEW_SLOTS))

    def _cosines_locked(self, query: np.ndarray, floor: float) -> dict[str, float]:
        """profile id -> best view cosine, for every profile whose best view could reach `floor`."""
        total = self._index.ntotal
        if not total:
            return {}
        k = min(total, SEARCH_K)
        # One query is far too little work for OpenMP: with FAISS's default threads a search over the
        # shipped catalogue took a median 10 ms on a busy 2-core machine, single-threaded 0.013 ms.
        # omp_set_num_threads sets the calling thread's value only, and is restored afterwards.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            sims, ids = self._index.search(query, k)
            if k < total and sims[0, -1] >= floor:
                sims, ids = self._index.search(query, total)
        finally:
            faiss.omp_set_num_threads(threads)
        valid = ids[0] >= 0
        slots, first = np.unique(ids[0][valid] // VIEW_SLOTS, return_index=True)   # results come best first
        best = sims[0][valid][first]
        return {self._owners[int(s)]: float(c) for s, c in zip(slots, best) if int(s) in self._owners}

    def match(self, embedding: np.ndarray, text: str, lang: str, doc: Doc | None = None) -> list[Match]:
        """Every profile at or above its threshold, best first. `doc` (the post lemmatised by
        Linguistics in its language) may be passed when the caller already has it."""
        if not self._profiles:
            return []
        if doc is None:
            doc = self.linguistics.doc(text, pipeline_language(lang))
        spans = self._keywords.find_spans(doc, lang)
        hits = {key: [doc[start:end].text for start, end in found] for key, found in spans.items()}
        query = np.ascontiguousarray(np.asarray(embedding, dtype=np.float32).reshape(1, -1))
        with self._lock:
            profiles = self._profiles
            if not profiles:
                return []
            floor = min(self._lowest, self.default_min_score) - MAX_KEYWORD_BONUS
            cosine = self._cosines_locked(query, floor)
            for pid in hits:   # a keyword profile whose views all ranked below the fetched ones
                if pid in profiles and pid not in cosine and len(self._vectors[pid]):
                    cosine[pid] = float(np.max(self._vectors[pid] @ query[0]))
            matches = []
            for pid, cos in cosine.items():   # a profile missing here cannot reach its threshold
                profile = profiles.get(pid)
                if profile is None or hits.get(pid + EXCLUDED):
                    continue
                languages = getattr(profile, "languages", None)
                if languages and lang not in languages:
                    continue
                keywords = tuple(dict.fromkeys(hits.get(pid, ())))
                places = distinct_spans(spans.get(pid, []))
                score = cos + KEYWORD_BONUS * (places >= 1) + SECOND_KEYWORD_BONUS * (places >= 2)
                if score >= _threshold(profile, self.default_min_score):
                    matches.append(Match(pid, round(score, 4), round(cos, 4), keywords))
        return sorted(matches, key=lambda m: (-m.score, m.profile_id))

    def best(self, embedding: np.ndarray, text: str, lang: str, doc: Doc | None = None) -> Match | None:
        matches = self.match(embedding, text, lang, doc)
        return matches[0] if matches else None
