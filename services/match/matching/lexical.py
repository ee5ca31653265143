"""Lexical overlap between a post and each profile, on lemmas weighted by how rare they are in the catalogue.

Why: USE-multilingual places an oblique post ("ФОП 3 групи, хто веде звіти в ДПС за адекватні гроші?")
near several profiles, yet the post shares rare lemmas ("звіт", "ДПС", "ФОП") with exactly one of them. The
sparse score is the hybrid-search half that a dense encoder misses: the sum of the IDF of the post's
content lemmas found anywhere in a profile's views, divided by sqrt(post lemmas + 1) so a long post does
not outscore a short one by length alone. IDF is over the profiles of the index, so a lemma every product
shares ("купить", "price") weighs almost nothing. Profile views are lemmatised in the language each view
is written in (catalogues mix ru, uk and en sentences); the post in its own language.
"""
from __future__ import annotations

import math
from collections import Counter

from spacy.tokens import Doc

from intentflow.nlp.linguistics import Linguistics
from intentflow.text.language import detect_language
from services.match.matching.phrases import fold, pipeline_language

MIN_LEMMA_CHARS = 3


def content_lemmas(doc: Doc) -> set[str]:
    """Folded lemmas of the words that carry meaning: letters only, not stop words, 3+ characters."""
    lemmas = set()
    for token in doc:
        if token.is_alpha and not token.is_stop:
            lemma = fold(token.lemma_ or token.text)
            if len(lemma) >= MIN_LEMMA_CHARS:
                lemmas.add(lemma)
    return lemmas


class LexicalIndex:
    """profile id -> the set of its content lemmas, with IDF over the profiles held. Document frequencies
    are kept up to date per change, so an upsert costs the size of one profile, not of the catalogue."""

    def __init__(self, linguistics: Linguistics):
        self.linguistics = linguistics
        self._bags: dict[str, frozenset[str]] = {}
        self._frequency: Counter[str] = Counter()

    def bag(self, views: list[str]) -> frozenset[str]:
        lemmas: set[str] = set()
        for view in views:
            lemmas |= content_lemmas(self.linguistics.doc(view, pipeline_language(detect_language(view))))
        return frozenset(lemmas)

    def replace_all(self, bags: dict[str, frozenset[str]]) -> None:
        self._bags = dict(bags)
        self._frequency = Counter(lemma for bag in self._bags.values() for lemma in bag)

    def set(self, profile_id: str, bag: frozenset[str]) -> None:
        self.remove(profile_id)
        self._bags[profile_id] = bag
        self._frequency.update(bag)

    def remove(self, profile_id: str) -> None:
        old = self._bags.pop(profile_id, frozenset())
        self._frequency.subtract(old)
        for lemma in old:
            if self._frequency[lemma] <= 0:
                del self._frequency[lemma]

    def scores(self, doc: Doc, profile_ids: list[str]) -> dict[str, float]:
        post = content_lemmas(doc)
        norm = math.sqrt(len(post) + 1)
        n = len(self._bags)
        idf = {lemma: math.log((n + 1) / (self._frequency[lemma] + 0.5)) for lemma in post if lemma in self._frequency}
        return {pid: sum(idf[lemma] for lemma in idf.keys() & self._bags.get(pid, frozenset())) / norm
                for pid in profile_ids}
