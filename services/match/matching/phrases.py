"""Named phrases found on lemmas with spaCy's PhraseMatcher, in whichever language the post is in."""
from __future__ import annotations

import re
from dataclasses import dataclass

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from intentflow.nlp.linguistics import Linguistics

PIPELINE_LANGUAGES = ("ru", "uk", "en")


def pipeline_language(lang: str) -> str:
    return lang if lang in PIPELINE_LANGUAGES else "en"


class PhraseIndex:
    """key -> phrases. Each phrase is lemmatised by every pipeline, so "Мегамарт" matches "в Мегамарте" in a
    Russian post and "у Мегамарті" in a Ukrainian one; lowercase forms are matched too, for brand names
    the morphology does not know."""

    def __init__(self, linguistics: Linguistics, phrases: dict[str, list[str]]):
        self.linguistics = linguistics
        self.phrases = {k: [p for p in v if p.strip()] for k, v in phrases.items()}
        self._matchers: dict[str, tuple[PhraseMatcher, PhraseMatcher]] = {}

    def _matcher(self, lang: str) -> tuple[PhraseMatcher, PhraseMatcher]:
        if lang not in self._matchers:
            vocab = self.linguistics.nlp(lang).vocab
            by_lemma, by_form = PhraseMatcher(vocab, attr="LEMMA"), PhraseMatcher(vocab, attr="LOWER")
            for key, phrases in self.phrases.items():
                if phrases:
                    docs = list(self.linguistics.docs(phrases, [lang] * len(phrases)))
                    by_lemma.add(key, docs)
                    by_form.add(key, docs)
            self._matchers[lang] = (by_lemma, by_form)
        return self._matchers[lang]

    def find(self, doc: Doc, lang: str) -> dict[str, list[str]]:
        """key -> matched surface texts."""
        found: dict[str, list[str]] = {}
        for matcher in self._matcher(pipeline_language(lang)):
            for match_id, start, end in matcher(doc):
                text = doc[start:end].text
                hits = found.setdefault(doc.vocab.strings[match_id], [])
                if text not in hits:
                    hits.append(text)
        return found

    def find_in_text(self, text: str, lang: str) -> dict[str, list[str]]:
        return self.find(self.linguistics.doc(text, pipeline_language(lang)), lang)


# ---- keyword matching for profiles -------------------------------------------------------------------------

_FOLD = str.maketrans({"’": "'", "ʼ": "'", "‘": "'", "`": "'", "´": "'", "ё": "е"})
_SLAVIC_ENDING = re.compile("[аяоеиыуюйьіїєэ]$")
# A keyword form this long also matches words that start with it ("фронтенд" → "фронтендщик", "телеграм" →
# "телеграмчик": slang the morphology does not know); a Slavic form one letter longer also matches without
# its last vowel. On the odd half of data/match/dev.jsonl 5 letters found what lemmas alone found and no
# wrong hit; 4 letters added a wrong hit (and would let "склад" fire on "складно", "host" on "hostel").
PREFIX_MIN = 5


def fold(text: str) -> str:
    """Lowercase with one apostrophe and е for ё, so "кур’єр", "курʼєр" and "кур'єр" are one word."""
    return text.lower().translate(_FOLD)


@dataclass(frozen=True)
class _Token:
    exact: frozenset[str]      # folded surface form and its lemma in every pipeline
    prefixes: frozenset[str]   # forms a post word may start with


@dataclass(frozen=True)
class _Pattern:
    key: str
    phrase: str
    tokens: tuple[_Token, ...]


def _content(doc: Doc) -> list:
    return [t for t in doc if not (t.is_punct or t.is_space)]


class KeywordMatcher:
    """key -> phrases, matched on the words of a post whatever its language.

    Unlike PhraseIndex, a phrase is compiled once with every pipeline (ru, uk, en) and each of its words
    accepts the folded surface form, its lemma in any of the three languages and, for forms of at least
    PREFIX_MIN letters, any word that starts with it (slang, transliteration and inflections the
    morphology does not know). Punctuation is skipped on both sides, so "робот-пылесос" matches
    "робот пылесос". Keys can be set and removed one at a time: only that key's phrases are compiled.
    """

    def __init__(self, linguistics: Linguistics, phrases: dict[str, list[str]] | None = None,
                 prefix_min: int = PREFIX_MIN):
        self.linguistics = linguistics
        self.prefix_min = prefix_min
        self._patterns: dict[str, list[tuple[str, _Pattern]]] = {}   # key -> [(pipeline, pattern)]
        self._tables: tuple[dict[str, dict[str, list[_Pattern]]], dict[str, dict[str, list[_Pattern]]]] = ({}, {})
        for key, values in (phrases or {}).items():
            self._patterns[key] = self._compile(key, values)
        self._reindex()

    def keys(self) -> list[str]:
        return list(self._patterns)

    def set(self, key: str, phrases: list[str]) -> None:
        self._patterns[key] = self._compile(key, phrases)
        self._reindex()

    def remove(self, key: str) -> None:
        if self._patterns.pop(key, None) is not None:
            self._reindex()

    def _word_forms(self, text: str, lemma: str) -> set[str]:
        forms = {fold(text), fold(lemma)}
        for lang in PIPELINE_LANGUAGES:
            words = _content(self.linguistics.doc(text, lang))
            if len(words) == 1:
                forms.add(fold(words[0].lemma_))
        return forms

    def _compile(self, key: str, phrases: list[str]) -> list[tuple[str, _Pattern]]:
        compiled, seen = [], set()
        for phrase in phrases:
            if not phrase.strip():
                continue
            for lang in PIPELINE_LANGUAGES:
                tokens = []
                for word in _content(self.linguistics.doc(phrase, lang)):
                    exact = self._word_forms(word.text, word.lemma_)
                    prefixes = {f for f in exact if len(f) >= self.prefix_min}
                    prefixes |= {f[:-1] for f in exact if len(f) > self.prefix_min and _SLAVIC_ENDING.search(f)}
                    tokens.append(_Token(frozenset(exact), frozenset(prefixes)))
                if tokens and (lang, tuple(tokens)) not in seen:
                    seen.add((lang, tuple(tokens)))
                    compiled.append((lang, _Pattern(key, phrase, tuple(tokens))))
        return compiled

    def _reindex(self) -> None:
        by_exact: dict[str, dict[str, list[_Pattern]]] = {lang: {} for lang in PIPELINE_LANGUAGES}
        by_prefix: dict[str, dict[str, list[_Pattern]]] = {lang: {} for lang in PIPELINE_LANGUAGES}
        for patterns in self._patterns.values():
            for lang, pattern in patterns:
                first = pattern.tokens[0]
                for form in first.exact:
                    by_exact[lang].setdefault(form, []).append(pattern)
                for form in first.prefixes:
                    by_prefix[lang].setdefault(form, []).append(pattern)
        self._tables = (by_exact, by_prefix)   # one assignment: a reader never sees half of an update

    def _accepts(self, token: _Token, low: str, lemma: str) -> bool:
        if low in token.exact or lemma in token.exact:
            return True
        return any(low[:n] in token.prefixes for n in range(self.prefix_min, len(low) + 1))

    def find_spans(self, doc: Doc, lang: str) -> dict[str, list[tuple[int, int]]]:
        """key -> (start, end) token spans of the doc where one of its phrases occurs, in post order."""
        lang = pipeline_language(lang)
        tables = self._tables
        by_exact, by_prefix = tables[0].get(lang, {}), tables[1].get(lang, {})
        words = _content(doc)
        forms = [(fold(w.text), fold(w.lemma_)) for w in words]
        found: dict[str, list[tuple[int, int]]] = {}
        for i, (low, lemma) in enumerate(forms):
            candidates = list(by_exact.get(low, ()))
            if lemma != low:
                candidates += by_exact.get(lemma, ())
            for n in range(self.prefix_min, len(low) + 1):
                candidates += by_prefix.get(low[:n], ())
            for pattern in candidates:
                end = i + len(pattern.tokens)
                if end > len(words) or not all(
                        self._accepts(t, *forms[i + j]) for j, t in enumerate(pattern.tokens)):
                    continue
                span = (words[i].i, words[end - 1].i + 1)
                spans = found.setdefault(pattern.key, [])
                if span not in spans:
                    spans.append(span)
        return found

    def find(self, doc: Doc, lang: str) -> dict[str, list[str]]:
        """key -> matched surface texts (each text once per key)."""
        found: dict[str, list[str]] = {}
        for key, spans in self.find_spans(doc, lang).items():
            texts = found.setdefault(key, [])
            for start, end in spans:
                if doc[start:end].text not in texts:
                    texts.append(doc[start:end].text)
        return found

    def find_in_text(self, text: str, lang: str) -> dict[str, list[str]]:
        return self.find(self.linguistics.doc(text, pipeline_language(lang)), lang)


def distinct_spans(spans: list[tuple[int, int]]) -> int:
    """How many separate places of a post the spans cover: overlapping or nested spans count once
    ("менеджером по продажам" and its "продажам" are one hit)."""
    count, reach = 0, -1
    for start, end in sorted(spans):
        if start >= reach:
            count += 1
        reach = max(reach, end)
    return count
