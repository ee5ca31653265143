"""FAISS index over product or vacancy profiles; which profiles a post matches and how well.

* Views. Every profile is embedded as several texts (`profile_views`): the name alone, "name: keywords",
  "name. description", each sentence of the description and each keyword on its own, so a post about
  "roomba" meets the view "roomba", and a post that describes the need in its own words ("the cats shed
  everywhere, something that cleans by itself") meets the one sentence that says so, instead of a
  paragraph that also talks about docks, prices and delivery in three languages.
* Candidates. The profiles owning any of the post's SEARCH_K nearest views in the FAISS index, plus any
  profile whose keyword is in the post (`KeywordMatcher`: surface form, lemma in ru/uk/en, apostrophe
  variants, words starting with a keyword of at least 5 letters). A profile with an excluded keyword in
  the post is vetoed; a profile limited to some languages is skipped for posts in other languages. Each
  candidate's best two view cosines are computed on all of its own views.
* Lexical overlap. Each profile's content lemmas are kept in a `LexicalIndex` (lexical.py); a candidate
  carries the IDF-weighted overlap of the post's lemmas with its own, the sparse half of hybrid search.
* Score. `Scorer` (scorer.py) turns the candidates' cosines, how far each stands out from the others,
  their keyword hits and lexical overlap into a score in [0, 1]; its weights and default threshold are fitted on
  data/match/train_*.jsonl by `python -m services.match.training.train`.
* Second encoder. With a reranker (intentflow/e5.py: multilingual-e5-small, on by default) every profile also
  has e5 views (`rerank_views`: name, name + description, each description sentence, name + keywords),
  and each candidate carries the best e5 cosine of the post to them: the signal that works across
  languages and without keywords.
* Examples. A profile's `examples` (posts that should match it: pasted by the user, or learned from
  won/contacted outcomes) are extra views in both encoders; its `negative_examples` (posts that should
  not: pasted, or learned from not_a_lead/wrong_profile outcomes) veto the profile for a post that is
  closer to one of them than to anything the profile says it is. Both change with `upsert`, no redeploy.
* A profile matches when its score >= its own min_score, or the index default (the scorer's threshold
  unless MATCH_*_MIN_SCORE overrides it) when min_score is 0. Several profiles can match, best first.
  Every match carries its evidence: keywords found, the nearest view or example post and its similarity.

Changes are incremental: `upsert` embeds only the changed profile and swaps its rows in the FAISS index
(an IndexIDMap2 with ids slot * VIEW_SLOTS + view number) and its keywords in the matcher.
"""
from __future__ import annotations

import re
import threading
from dataclasses import dataclass

import faiss
import numpy as np
from spacy.tokens import Doc

from intentflow.embedding import Embedder
from intentflow.nlp.linguistics import Linguistics
from services.match.matching.background import BACKGROUND
from services.match.matching.lexical import LexicalIndex
from services.match.matching.phrases import KeywordMatcher, distinct_spans, fold, pipeline_language
from services.match.matching.scorer import LIFT_TOP, Candidate, Scorer, load_scorers
from services.match.store.models import Product, Vacancy

EXCLUDED = "\x1fexcluded"
MAX_VIEWS = 128            # views embedded per profile (a catalogue entry rarely has more than ~50)
VIEW_SLOTS = 1024          # FAISS id = profile slot * VIEW_SLOTS + view number
SEARCH_K = 512             # nearest views fetched per post: the profiles they belong to are the candidates
ENCODE_BATCH = 64
MIN_SENTENCE_WORDS = 3     # shorter description sentences ("We deliver.") say nothing about the profile
_SENTENCE_END = re.compile(r"(?<=[.!?…])\s+|\n+")


MAX_RERANK_VIEWS = 24     # e5 views per profile (without examples)
MAX_EXAMPLES = 50         # example posts of each sign used per profile (the most recent ones)


@dataclass(frozen=True)
class Match:
    profile_id: str
    score: float
    cosine: float
    keywords: tuple[str, ...] = ()
    nearest: str = ""                 # the profile view or example post closest to the post
    similarity: float = 0.0           # its cosine (e5 when the reranker is on)

    def evidence(self) -> list[str]:
        """Why this profile matched, one line per reason (for Lead/CandidateSignal.evidence)."""
        lines = [f"match: score {self.score:.2f}"]
        if self.keywords:
            lines.append(f"keywords: {', '.join(self.keywords)}")
        if self.nearest:
            nearest = self.nearest if len(self.nearest) <= 120 else self.nearest[:117] + "..."
            lines.append(f"nearest: {nearest} (similarity {self.similarity:.2f})")
        return lines


def profile_name(profile: Product | Vacancy) -> str:
    return profile.name if isinstance(profile, Product) else profile.title


def profile_views(profile: Product | Vacancy) -> list[str]:
    """The texts a profile is embedded as, without duplicates, at most MAX_VIEWS: the name, "name:
    keywords", "name. description", each description sentence of MIN_SENTENCE_WORDS words or more
    (when there are several) and each keyword on its own."""
    name = profile_name(profile).strip()
    keywords = [k.strip() for k in profile.keywords if k.strip()]
    description = (profile.description or "").strip()
    views = [name]
    if keywords:
        views.append(f"{name}: {', '.join(keywords)}")
    if description:
        views.append(f"{name}. {description}")
        sentences = [s.strip() for s in _SENTENCE_END.split(description) if s.strip()]
        if len(sentences) > 1:
            views += [s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS]
    views += keywords
    unique, seen = [], set()
    for view in views:
        if view and fold(view) not in seen:
            seen.add(fold(view))
            unique.append(view)
    return unique[:MAX_VIEWS]


def examples_of(profile: Product | Vacancy) -> tuple[list[str], list[str]]:
    """(positive, negative) example posts of a profile, the most recent MAX_EXAMPLES of each."""
    positive = [e.strip() for e in getattr(profile, "examples", None) or [] if e.strip()]
    negative = [e.strip() for e in getattr(profile, "negative_examples", None) or [] if e.strip()]
    return positive[-MAX_EXAMPLES:], negative[-MAX_EXAMPLES:]


def rerank_views(profile: Product | Vacancy) -> list[str]:
    """The texts a profile is embedded as by the reranker: the name, "name. description", each description
    sentence of MIN_SENTENCE_WORDS words or more (when there are several) and "name: keywords"."""
    name = profile_name(profile).strip()
    description = (profile.description or "").strip()
    keywords = [k.strip() for k in profile.keywords if k.strip()]
    views = [name]
    if description:
        views.append(f"{name}. {description}")
        sentences = [s.strip() for s in _SENTENCE_END.split(description) if s.strip()]
        if len(sentences) > 1:
            views += [s for s in sentences if len(s.split()) >= MIN_SENTENCE_WORDS]
    if keywords:
        views.append(f"{name}: {', '.join(keywords)}")
    return list(dict.fromkeys(v for v in views if v))[:MAX_RERANK_VIEWS]


def encode_texts(embedder: Embedder, texts: list[str], batch: int = ENCODE_BATCH) -> np.ndarray:
    """embedder.encode in batches of similar length, rows in input order. A batch pads to its longest
    text, so one long "name. description" view in every batch made the shipped catalogue 2-3x slower."""
    out = np.zeros((len(texts), embedder.dim), dtype=np.float32)
    order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
    for start in range(0, len(order), batch):
        rows = order[start:start + batch]
        out[rows] = embedder.encode([texts[i] for i in rows])
    return out


def profile_indexes(embedder: Embedder, linguistics: Linguistics, product_min_score: float = 0.0,
                    vacancy_min_score: float = 0.0, reranker=None) -> dict[str, ProfileIndex]:
    """kind -> an empty ProfileIndex with the shipped scorer of that kind; both share `reranker`. Without
    a reranker the scorer fitted for USE alone ("kind@use" in scorer.json) is used."""
    scorers = load_scorers()
    suffix = "" if reranker is not None else "@use"
    return {kind: ProfileIndex(embedder, linguistics, scorers.get(kind + suffix, scorers[kind]), minimum, reranker,
                               kind)
            for kind, minimum in (("product", product_min_score), ("vacancy", vacancy_min_score))}


def _threshold(profile: Product | Vacancy, default: float) -> float:
    return getattr(profile, "min_score", 0.0) or default


class ProfileIndex:
    def __init__(self, embedder: Embedder, linguistics: Linguistics, scorer: Scorer, default_min_score: float = 0.0,
                 reranker=None, kind: str = ""):
        """default_min_score: the threshold of profiles whose own min_score is 0; 0 = the scorer's.
        reranker: an E5Encoder-like object (query/passage) or None (then e5 features fall back to USE).
        kind: "product" | "vacancy" (default: from the first profile held), which background.py list the
        posts are compared with."""
        self.embedder = embedder
        self.reranker = reranker
        self.kind = kind
        self._background: np.ndarray | None = None
        self._rerank: dict[str, tuple[np.ndarray, list[str], np.ndarray, list[str]]] = {}
        self.scorer = scorer
        self.linguistics = linguistics
        self.default_min_score = default_min_score or scorer.threshold
        self._lock = threading.Lock()
        self._profiles: dict[str, Product | Vacancy] = {}
        self._vectors: dict[str, np.ndarray] = {}
        self._slots: dict[str, int] = {}
        self._owners: dict[int, str] = {}
        self._next_slot = 0
        self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(embedder.dim))
        self._keywords = KeywordMatcher(linguistics)
        self._lexical = LexicalIndex(linguistics)

    def __len__(self) -> int:
        return len(self._profiles)

    def replace_all(self, profiles: list[Product | Vacancy]) -> None:
        views = {p.id: profile_views(p) + examples_of(p)[0] for p in profiles}
        vectors = self._encode(views)
        rerank = self._encode_rerank(profiles)
        keywords = KeywordMatcher(self.linguistics, {
            key: phrases for p in profiles for key, phrases in self._phrases(p).items()})
        bags = {pid: self._lexical.bag(texts) for pid, texts in views.items()}
        with self._lock:
            self._profiles = {p.id: p for p in profiles}
            self._vectors = vectors
            self._slots, self._owners, self._next_slot = {}, {}, 0
            self._index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.embedder.dim))
            for profile in profiles:
                self._add_rows_locked(profile.id)
            self._keywords = keywords
            self._lexical.replace_all(bags)
            self._rerank = rerank

    def upsert(self, profile: Product | Vacancy) -> None:
        views = profile_views(profile) + examples_of(profile)[0]
        bag = self._lexical.bag(views)
        vectors = self._encode({profile.id: views})
        rerank = self._encode_rerank([profile])
        with self._lock:
            self._remove_rows_locked(profile.id)
            self._profiles[profile.id] = profile
            self._vectors.update(vectors)
            self._add_rows_locked(profile.id)
            for key, phrases in self._phrases(profile).items():
                self._keywords.set(key, phrases)
            self._lexical.set(profile.id, bag)
            self._rerank.update(rerank)

    def follow(self, profiles: list[Product | Vacancy]) -> int:
        """Make the index hold `profiles` (the store's current list), encoding only the added or changed ones
        (by updated_at), so another process's edits reach this one cheaply. Returns how many changed."""
        current = {p.id: p for p in profiles}
        gone = [pid for pid in self._profiles if pid not in current]
        changed = [p for p in profiles if getattr(self._profiles.get(p.id), "updated_at", None) != p.updated_at]
        for profile_id in gone:
            self.delete(profile_id)
        for profile in changed:
            self.upsert(profile)
        return len(gone) + len(changed)

    def get(self, profile_id: str) -> Product | Vacancy | None:
        return self._profiles.get(profile_id)

    def delete(self, profile_id: str) -> None:
        with self._lock:
            self._remove_rows_locked(profile_id)
            self._profiles.pop(profile_id, None)
            self._vectors.pop(profile_id, None)
            self._keywords.remove(profile_id)
            self._keywords.remove(profile_id + EXCLUDED)
            self._lexical.remove(profile_id)
            self._rerank.pop(profile_id, None)

    @staticmethod
    def _phrases(profile: Product | Vacancy) -> dict[str, list[str]]:
        return {profile.id: list(profile.keywords),
                profile.id + EXCLUDED: list(getattr(profile, "excluded_keywords", None) or [])}

    def _encode(self, views: dict[str, list[str]]) -> dict[str, np.ndarray]:
        """profile id -> its views' embeddings, all profiles encoded in one call."""
        if not views:
            return {}
        flat = encode_texts(self.embedder, [v for texts in views.values() for v in texts])
        out, at = {}, 0
        for profile_id, texts in views.items():
            out[profile_id] = flat[at:at + len(texts)]
            at += len(texts)
        return out

    def _encode_rerank(self, profiles: list[Product | Vacancy]
                       ) -> dict[str, tuple[np.ndarray, list[str], np.ndarray, list[str]]]:
        """profile id -> (positive vectors, their texts, negative vectors, their texts) in the reranker's
        space (USE when there is no reranker): views plus example posts, and negative example posts."""
        texts: dict[str, tuple[list[str], list[str]]] = {}
        for profile in profiles:
            positive, negative = examples_of(profile)
            views = rerank_views(profile) if self.reranker is not None else profile_views(profile)
            texts[profile.id] = (list(dict.fromkeys(views + positive)), negative)
        flat = [t for pos, neg in texts.values() for t in pos + neg]
        if not flat:
            return {}
        if self.reranker is not None:
            vectors = self.reranker.passage(flat)
        else:
            vectors = encode_texts(self.embedder, flat)
        out, at = {}, 0
        for pid, (pos, neg) in texts.items():
            out[pid] = (vectors[at:at + len(pos)], pos, vectors[at + len(pos):at + len(pos) + len(neg)], neg)
            at += len(pos) + len(neg)
        return out

    def _background_locked(self) -> np.ndarray:
        """The background names (background.py) of this index's kind, embedded once."""
        if self._background is None:
            kind = self.kind or ("vacancy" if any(isinstance(p, Vacancy) for p in self._profiles.values())
                                 else "product")
            names = list(BACKGROUND[kind])
            self._background = (self.reranker.passage(names) if self.reranker is not None
                                else encode_texts(self.embedder, names))
        return self._background

    def query_vector(self, text: str, embedding: np.ndarray) -> np.ndarray:
        """The post in the reranker's space (its USE embedding when there is no reranker)."""
        if self.reranker is None:
            return np.asarray(embedding, dtype=np.float32)
        return self.reranker.query([text])[0]

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

    def _nearest_profiles_locked(self, query: np.ndarray) -> list[str]:
        """The profiles owning any of the query's SEARCH_K nearest views."""
        total = self._index.ntotal
        if not total:
            return []
        # One query is far too little work for OpenMP: with FAISS's default threads a search over the
        # shipped catalogue took a median 10 ms on a busy 2-core machine, single-threaded 0.013 ms.
        # omp_set_num_threads sets the calling thread's value only, and is restored afterwards.
        threads = faiss.omp_get_max_threads()
        faiss.omp_set_num_threads(1)
        try:
            _, ids = self._index.search(query, min(total, SEARCH_K))
        finally:
            faiss.omp_set_num_threads(threads)
        slots = {view_id // VIEW_SLOTS for view_id in ids[0].tolist() if view_id >= 0}
        return [self._owners[slot] for slot in slots if slot in self._owners]

    def candidates(self, embedding: np.ndarray, text: str, lang: str, doc: Doc | None = None,
                   rerank_vector: np.ndarray | None = None) -> list[Candidate]:
        """The profiles a post could match: those with a view among the post's SEARCH_K nearest views or
        with a keyword in the post, minus profiles vetoed by an excluded keyword or limited to other
        languages. `doc` (the post lemmatised by Linguistics in its language) and `rerank_vector`
        (`query_vector` of the post) may be passed when the caller already has them."""
        if not self._profiles:
            return []
        if doc is None:
            doc = self.linguistics.doc(text, pipeline_language(lang))
        if rerank_vector is None:
            rerank_vector = self.query_vector(text, embedding)
        spans = self._keywords.find_spans(doc, lang)
        query = np.ascontiguousarray(np.asarray(embedding, dtype=np.float32).reshape(1, -1))
        with self._lock:
            profiles = self._profiles
            wanted = set(self._nearest_profiles_locked(query)) | {pid for pid in spans if pid in profiles}
            # Each candidate is scored on all of its own views, so its features do not depend on how
            # many of them happened to be among the fetched ones.
            cosines = {pid: np.sort(self._vectors[pid] @ query[0])[::-1][:2].tolist()
                       for pid in sorted(wanted) if len(self._vectors[pid])}
            lexical = self._lexical.scores(doc, list(cosines))
            rerank = {pid: self._rerank.get(pid) for pid in cosines}
            background = self._background_locked() if self.reranker is not None else None
        level = 0.0
        if background is not None:
            level = float(np.mean(np.sort(background @ rerank_vector)[::-1][:LIFT_TOP]))
        found = []
        for pid, views in cosines.items():
            profile = profiles.get(pid)
            if profile is None or spans.get(pid + EXCLUDED):
                continue
            languages = getattr(profile, "languages", None)
            if languages and lang not in languages:
                continue
            keywords = tuple(dict.fromkeys(doc[a:b].text for a, b in spans.get(pid, ())))
            e5, mean, nearest, negative, negative_text = _nearest(rerank[pid], rerank_vector)
            found.append(Candidate(pid, tuple(views), distinct_spans(spans.get(pid, [])), keywords,
                                   lexical[pid], e5, nearest, negative, negative_text, mean, level))
        return found

    def match(self, embedding: np.ndarray, text: str, lang: str, doc: Doc | None = None,
              rerank_vector: np.ndarray | None = None) -> list[Match]:
        """Every profile whose score reaches its threshold, best first. A profile whose nearest text for
        this post is one of its negative example posts does not match."""
        candidates = self.candidates(embedding, text, lang, doc, rerank_vector)
        return self.matches(candidates, self.scorer.scores(candidates))

    def matches(self, candidates: list[Candidate], scores: np.ndarray) -> list[Match]:
        out = []
        for candidate, score in zip(candidates, scores):
            profile = self._profiles.get(candidate.profile_id)
            if profile is None or vetoed(candidate):
                continue
            if score >= _threshold(profile, self.default_min_score):
                out.append(Match(candidate.profile_id, round(float(score), 4), round(candidate.cosines[0], 4),
                                 candidate.keywords, candidate.nearest,
                                 round(float(candidate.e5 if candidate.e5 is not None else candidate.cosines[0]), 4)))
        return sorted(out, key=lambda m: (-m.score, m.profile_id))

    def best(self, embedding: np.ndarray, text: str, lang: str, doc: Doc | None = None,
             rerank_vector: np.ndarray | None = None) -> Match | None:
        matches = self.match(embedding, text, lang, doc, rerank_vector)
        return matches[0] if matches else None


def vetoed(candidate: Candidate) -> bool:
    """The post is closer to a negative example post of the profile than to any of its views or
    positive examples."""
    return bool(candidate.negative_text) and candidate.e5 is not None and candidate.negative > candidate.e5


def _nearest(entry, query: np.ndarray) -> tuple[float | None, float | None, str, float, str]:
    """(best cosine to the profile's views/examples, mean cosine to them, the best one's text, best
    cosine to its negative examples, that text)."""
    if entry is None or not len(entry[0]):
        return None, None, "", 0.0, ""
    positive, texts, negative, negative_texts = entry
    sims = positive @ query
    best = int(np.argmax(sims))
    if len(negative):
        neg = negative @ query
        worst = int(np.argmax(neg))
        return float(sims[best]), float(np.mean(sims)), texts[best], float(neg[worst]), negative_texts[worst]
    return float(sims[best]), float(np.mean(sims)), texts[best], 0.0, ""
