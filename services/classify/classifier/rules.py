"""Phrase rules on lemmas and word forms (spaCy Matcher) plus grammatical person cues.

Each rule group in rules.yaml becomes features of the learned layer and, for groups named after a class
("purchase.*", "job.*", "complaint.*"), evidence spans of its positive verdicts.

Phrase syntax (one phrase a list item, words separated by spaces):
- a plain word matches any inflection: it is lemmatised by the same pipeline as the post, so "купить" also
  matches "куплю", "купила";
- "=word" matches that exact lowercase form only, because person and tense matter: "=ищу" (a job seeker)
  is not "=ищем" (an employer), "=куплю" (a buyer) is not "=купил" (an owner);
- "*" joins parts that may stand up to GAP words apart ("=ищу * работа" matches "ищу работу" and
  "ищу новую удалённую работу").
Latin-letter Russian (transliteration) is listed under ru. Every language's phrases are matched in every post,
because posts mix languages (Surzhyk, English words in Russian posts).

Besides phrase groups the engine counts grammatical cues that tell who speaks: verbs in the first person
singular ("ищу", "куплю") or plural ("ищем", "предлагаем"), third-person present verbs ("клиника ищет"),
past tense ("купил") and imperatives ("пишите", "звоните"), from pymorphy3 tags for ru/uk.
"""
from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from spacy.attrs import LOWER
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from intentflow.nlp.linguistics import Linguistics

RULES_PATH = Path(__file__).with_name("rules.yaml")
NEGATION = "negation"
NEGATION_REACH = 3  # tokens before a match that can negate it ("не ищу работу", "not looking for a job")
RULE_LANGUAGES = ("ru", "uk", "en")
MORPH_CUES = ("verb_1sg", "verb_1pl", "verb_3rd", "verb_past", "imperative")
COUNT_CAP = 3
GAP = 2  # words that may stand between the parts of a phrase written with "*"


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    rule: str


@dataclass
class RuleHits:
    features: np.ndarray
    spans: list[Span]


def _words(phrase: str) -> list[str]:
    return [w for w in str(phrase).split() if w]


class RuleEngine:
    """Matches rules.yaml in posts; build once per process (matchers are built lazily per language).

    One spaCy PhraseMatcher on lemmas per pipeline language finds every phrase part; exact-form words are then
    checked on the matched tokens, and the parts of a phrase with "*" are joined when at most GAP words apart.
    """

    def __init__(self, linguistics: Linguistics, path: Path = RULES_PATH):
        self.linguistics = linguistics
        text = path.read_text(encoding="utf-8")
        spec = yaml.safe_load(text)
        self.version = hashlib.sha1(text.encode("utf-8")).hexdigest()[:12]
        self.negations = {str(w).lower() for words in spec.pop(NEGATION).values() for w in words}
        self.groups: list[str] = list(spec)
        self._index = {g: i for i, g in enumerate(self.groups)}
        self._phrases: list[tuple[int, list[list[str]]]] = []  # (group index, parts of words)
        for group, by_lang in spec.items():
            for phrase in sorted({str(p).strip().lower() for words in by_lang.values() for p in words}):
                parts = [p.split() for p in " ".join(_words(phrase)).split("*")]
                parts = [p for p in parts if p]
                if parts:
                    self._phrases.append((self._index[group], parts))
        self._compiled: dict[str, tuple[PhraseMatcher, dict[int, list[tuple[int, int, tuple]]]]] = {}
        self._negation_hashes: set[int] | None = None  # string hashes are the same in every pipeline's vocab

    @property
    def n_features(self) -> int:
        return 2 * len(self.groups) + len(MORPH_CUES)

    def feature_names(self) -> list[str]:
        return ([f"rule:{g}" for g in self.groups] + [f"rule:{g}:negated" for g in self.groups]
                + [f"morph:{c}" for c in MORPH_CUES])

    def _compile(self, lang: str):
        """PhraseMatcher over the lemma sequences of all phrase parts, and per sequence the parts that use it with
        their exact-form constraints ((offset, lowercase form), ...)."""
        if lang not in self._compiled:
            nlp = self.linguistics.nlp(lang)
            matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
            table: dict[str, list[tuple[int, int, tuple]]] = {}
            patterns: dict[str, Doc] = {}
            for phrase_id, (_, parts) in enumerate(self._phrases):
                for part_id, words in enumerate(parts):
                    lemmas, exact = [], []
                    for word in words:
                        is_exact = word.startswith("=") and len(word) > 1
                        for token in nlp(word[1:] if is_exact else word):
                            if is_exact:
                                exact.append((len(lemmas), nlp.vocab.strings.add(token.lower_)))
                            lemmas.append(token.lemma_ or token.lower_)
                    if not lemmas:
                        continue
                    key = " ".join(lemmas)
                    if key not in patterns:
                        patterns[key] = Doc(nlp.vocab, words=lemmas)
                        for token in patterns[key]:
                            token.lemma_ = token.text
                    table.setdefault(key, []).append((phrase_id, part_id, tuple(exact)))
            for key, doc in patterns.items():
                matcher.add(key, [doc])
            by_hash = {nlp.vocab.strings[key]: entries for key, entries in table.items()}
            self._compiled[lang] = (matcher, by_hash)
        return self._compiled[lang]

    def matches(self, doc: Doc, lang: str, lowers: list[int] | None = None) -> list[tuple[int, int, int]]:
        """(group index, start token, end token) of every phrase found, longest first within a group.
        `lowers` are the tokens' LOWER hashes if the caller has them already."""
        matcher, table = self._compile(lang)
        if lowers is None:
            lowers = doc.to_array(LOWER).tolist()
        found: dict[int, list[list[tuple[int, int]]]] = {}
        for key, start, end in matcher(doc):
            for phrase_id, part_id, exact in table[key]:
                if all(lowers[start + offset] == form for offset, form in exact):
                    found.setdefault(phrase_id, [[] for _ in self._phrases[phrase_id][1]])[part_id].append((start, end))
        out: list[tuple[int, int, int]] = []
        for phrase_id, parts in found.items():
            group = self._phrases[phrase_id][0]
            spans = parts[0]
            for following in parts[1:]:
                spans = [(s, e2) for s, e in spans for s2, e2 in following if e <= s2 <= e + GAP]
            out.extend((group, s, e) for s, e in spans)
        return _longest(out)

    def analyse(self, doc: Doc, lang: str, lowers: list[int] | None = None) -> RuleHits:
        if lowers is None:
            lowers = doc.to_array(LOWER).tolist()
        strings = doc.vocab.strings
        if self._negation_hashes is None:
            self._negation_hashes = {strings.add(w) for w in self.negations}
        negations = self._negation_hashes
        counts = np.zeros(len(self.groups), dtype=np.float32)
        negated = np.zeros(len(self.groups), dtype=np.float32)
        spans: list[Span] = []
        for i, start, end in self.matches(doc, lang, lowers):
            counts[i] += 1
            if any(h in negations for h in lowers[max(0, start - NEGATION_REACH):start]):
                negated[i] += 1
            span = doc[start:end]
            spans.append(Span(span.start_char, span.end_char, span.text, self.groups[i]))
        morph = _morph_cues(lowers, strings, lang)
        features = np.concatenate([np.minimum(counts, COUNT_CAP) / COUNT_CAP,
                                   np.minimum(negated, COUNT_CAP) / COUNT_CAP, morph])
        return RuleHits(features.astype(np.float32), spans)


def _longest(matches: list[tuple[int, int, int]]) -> list[tuple[int, int, int]]:
    """Per group, drop duplicates and matches inside a longer match of the same group ("ищу" in "ищу работу")."""
    kept: list[tuple[int, int, int]] = []
    by_group: dict[int, list[tuple[int, int]]] = {}
    for group, start, end in sorted(set(matches), key=lambda m: (m[1], -m[2], m[0])):
        taken = by_group.setdefault(group, [])
        if any(s <= start and end <= e for s, e in taken):
            continue
        taken.append((start, end))
        kept.append((group, start, end))
    return kept


_NO_CUES = (0, 0, 0, 0, 0)
_CYRILLIC_WORD = re.compile(r"^[\u0400-\u04ff'ʼ’-]{2,}$")


def _verb_cues(lang: str, word: str) -> tuple[int, ...]:
    if not _CYRILLIC_WORD.match(word):
        return _NO_CUES
    from intentflow.nlp.lemmas import word_parses
    parses = word_parses(lang)(word)
    tag = parses[0].tag if parses else None
    if tag is None or tag.POS != "VERB":
        return _NO_CUES
    return (int(tag.person == "1per" and tag.number == "sing"), int(tag.person == "1per" and tag.number == "plur"),
            int(tag.person == "3per" and tag.tense == "pres"), int(tag.tense == "past"),
            int(tag.mood == "impr" or "impr" in tag.grammemes))


_CUE_CACHE: dict[str, dict[int, tuple[int, ...]]] = {"ru": {}, "uk": {}}
CUE_CACHE_SIZE = 200_000


def _morph_cues(lowers: list[int], strings, lang: str) -> np.ndarray:
    """Counts of verbs by person, tense and mood (ru/uk only; English relies on pronoun groups).
    Cached per word form: social posts repeat their vocabulary heavily."""
    if lang not in _CUE_CACHE:
        return np.zeros(len(MORPH_CUES), dtype=np.float32)
    cache = _CUE_CACHE[lang]
    totals = [0] * len(MORPH_CUES)
    for h in lowers:
        cues = cache.get(h)
        if cues is None:
            if len(cache) >= CUE_CACHE_SIZE:
                cache.clear()
            cues = cache[h] = _verb_cues(lang, strings[h])
        if cues is not _NO_CUES:
            totals = [a + b for a, b in zip(totals, cues)]
    return np.minimum(np.array(totals, dtype=np.float32), COUNT_CAP) / COUNT_CAP
