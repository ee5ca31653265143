"""Offline language identification for short informal posts: ru, uk, en or other.

Every word votes for languages through hand-made cues (lang_cues.py): exclusive
function words, letters, endings and letter sequences. Votes are summed per script
family first (Cyrillic, Latin, other scripts), so a Russian post full of English
brand names stays Russian, and then per language inside the winning family, so
Surzhyk with a few Russian words stays Ukrainian. Per-word votes are memoised
because the vocabulary of posts repeats heavily (throughput on one core is printed
by `python -m tools.nlp_bench`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import NamedTuple

from intentflow.text import lang_cues as cues
from intentflow.text.normalize import remove_links

RU, UK, EN, OTHER = "ru", "uk", "en", "other"

# Score slots. *_BASE slots measure how much text a script family has, the others
# how much it looks like a particular language.
(S_RU, S_UK, S_CYR_OTHER, S_CYR_BASE, S_EN, S_TR_RU, S_TR_UK, S_LAT_OTHER, S_LAT_BASE,
 S_SCRIPT_OTHER, S_SCRIPT_BASE) = _SLOTS = range(11)


class _Family(NamedTuple):
    base_slot: int
    weight: float
    langs: tuple[tuple[int, str, bool], ...]  # (slot, lang, transliterated), first wins ties


# ru/uk posts switch into English for whole phrases ("open to work", "anyone hiring?"),
# while English posts rarely carry Cyrillic beyond a quoted word.
CYRILLIC_FAMILY_WEIGHT = 1.5
_FAMILIES = (
    _Family(S_CYR_BASE, CYRILLIC_FAMILY_WEIGHT,
            ((S_RU, RU, False), (S_UK, UK, False), (S_CYR_OTHER, OTHER, False))),
    _Family(S_LAT_BASE, 1.0, ((S_EN, EN, False), (S_TR_RU, RU, True), (S_TR_UK, UK, True),
                              (S_LAT_OTHER, OTHER, False))),
    _Family(S_SCRIPT_BASE, 1.0, ((S_SCRIPT_OTHER, OTHER, False),)),
)

# Latin words without any cue are mostly brands, models and names ("iPhone", "Pro").
UNCUED_LATIN_WEIGHT = 0.3
UNCUED_NAME_WEIGHT = 0.1
# Letters and endings of a capitalised word are weak evidence: Russian posts name
# Ukrainian cities in Ukrainian ("Київ"), English posts keep accents in "Kraków".
NAME_CUE_FACTOR = 0.5
# Per word, whatever the number of such letters in it.
LETTER_WEIGHT = 1.0
CYRILLIC_OTHER_LETTER_WEIGHT = 3.0
ACCENTED_LATIN_WEIGHT = 2.0
BULGARIAN_HARD_SIGN_WEIGHT = 2.0
SOFT_SIGN_APOSTROPHE_WEIGHT = 1.5
CONTRACTION_WEIGHT = 0.5
MIN_SUFFIX_WORD_LEN = 4
# Additive smoothing of the confidence, so two cue words do not give certainty.
CONFIDENCE_PRIOR = 0.5

# Letters glued to digits are units and models ("60к", "R16"), not words; possessive
# quantifiers stop the regex from trimming such a run into a shorter word.
_WORD = r"(?<!\d)([^\W\d_]++(?:['’ʼ`][^\W\d_]+)*+['’ʼ]?+)(?!\d)"
_WORD_RE = re.compile(_WORD)
# Short slashed pairs are abbreviations ("з/п", "б/у"); findall yields "" for them. Only
# posts with a slash pay for the extra alternative.
_WORD_OR_ABBREVIATION_RE = re.compile(r"\b[^\W\d_]{1,2}/[^\W\d_]{1,2}\b|" + _WORD)
_APOSTROPHES = str.maketrans({"’": "'", "ʼ": "'", "`": "'"})
# In Russian "ъ" only precedes е/ё/ю/я; before a consonant it is Bulgarian.
_BULGARIAN_HARD_SIGN_RE = re.compile("ъ[бвгджзклмнпрстфхцчшщ]")

Votes = tuple[tuple[int, float], ...]


@dataclass(frozen=True, slots=True)
class LanguageGuess:
    """lang is "ru", "uk", "en" or "other"; transliterated marks ru/uk in Latin letters."""

    lang: str
    confidence: float
    transliterated: bool = False


def detect_language(text: str) -> str:
    """Return "ru", "uk", "en" or "other" for a post."""
    return detect_language_details(text).lang


def detect_language_details(text: str) -> LanguageGuess:
    """Language, a 0..1 confidence and whether Cyrillic-language text is in Latin letters."""
    scores = [0.0] * len(_SLOTS)
    text = remove_links(text)
    for token in (_WORD_OR_ABBREVIATION_RE if "/" in text else _WORD_RE).findall(text):
        if token:
            for slot, weight in _word_votes(token):
                scores[slot] += weight
    return _decide(scores)


def clear_language_cache() -> None:
    """Forget memoised word votes (benchmarks of cold start, memory pressure)."""
    _word_votes.cache_clear()


def _decide(scores: list[float]) -> LanguageGuess:
    family_totals = [f.weight * (scores[f.base_slot] + sum(scores[slot] for slot, _, _ in f.langs))
                     for f in _FAMILIES]
    grand_total = sum(family_totals)
    if grand_total == 0:
        return LanguageGuess(OTHER, 1.0)  # no letters at all: emoji, numbers, links
    best = max(range(len(_FAMILIES)), key=family_totals.__getitem__)
    langs = _FAMILIES[best].langs
    slot, lang, transliterated = max(langs, key=lambda entry: scores[entry[0]])
    lang_total = sum(scores[s] for s, _, _ in langs)
    lang_share = (scores[slot] + CONFIDENCE_PRIOR) / (lang_total + CONFIDENCE_PRIOR * len(langs))
    confidence = family_totals[best] / grand_total * lang_share
    return LanguageGuess(lang, round(confidence, 3), transliterated)


def _table(*sources: tuple[int, dict[str, float]]) -> dict[str, Votes]:
    """Merge per-language cue dicts into one lookup: cue -> votes for every slot."""
    merged: dict[str, list[tuple[int, float]]] = {}
    for slot, cue_weights in sources:
        for cue, weight in cue_weights.items():
            merged.setdefault(cue, []).append((slot, weight))
    return {cue: tuple(votes) for cue, votes in merged.items()}


_CYR_WORDS = _table((S_RU, cues.RU_WORDS), (S_UK, cues.UK_WORDS),
                    (S_CYR_OTHER, cues.CYRILLIC_OTHER_WORDS))
_CYR_SUFFIXES = _table((S_RU, cues.RU_SUFFIXES), (S_UK, cues.UK_SUFFIXES))
_CYR_INFIXES = tuple(_table((S_UK, cues.UK_INFIXES)).items())
_LAT_WORDS = _table((S_EN, cues.EN_WORDS), (S_TR_RU, cues.RU_TRANSLIT_WORDS),
                    (S_TR_UK, cues.UK_TRANSLIT_WORDS), (S_LAT_OTHER, cues.LATIN_OTHER_WORDS))
_LAT_SUFFIXES = _table((S_EN, cues.EN_SUFFIXES), (S_TR_RU, cues.RU_TRANSLIT_SUFFIXES))
_LAT_INFIXES = tuple(_table((S_EN, cues.EN_INFIXES), (S_TR_RU, cues.RU_TRANSLIT_INFIXES),
                            (S_LAT_OTHER, cues.LATIN_OTHER_INFIXES)).items())
_SUFFIX_SIZES = (5, 4, 3, 2)  # longest first; only the longest matching ending counts


@lru_cache(maxsize=1 << 16)
def _word_votes(token: str) -> Votes:
    first = token[0]
    if "\u0400" <= first <= "\u052f":  # Cyrillic and Cyrillic Supplement
        return _cyrillic_votes(token)
    if first < "\u0250" or "\u1e00" <= first <= "\u1eff":  # Latin, incl. Vietnamese
        return _latin_votes(token)
    # Scripts without spaces (Chinese, Japanese, Thai) put a whole clause in one token.
    return (S_SCRIPT_BASE, 1.0), (S_SCRIPT_OTHER, max(1.0, len(token) / 3))


def _cyrillic_votes(token: str) -> Votes:
    word = token.translate(_APOSTROPHES).strip("'").lower()
    if not cues.CYRILLIC_OTHER_LETTERS.isdisjoint(word):
        return (S_CYR_BASE, 1.0), (S_CYR_OTHER, CYRILLIC_OTHER_LETTER_WEIGHT)
    votes = {S_CYR_BASE: 1.0}
    listed = _CYR_WORDS.get(word.replace("ё", "е"), ())
    _add(votes, listed)
    factor = _name_factor(token)
    if not cues.RU_LETTERS.isdisjoint(word):
        _add(votes, ((S_RU, LETTER_WEIGHT),), factor)
    if not cues.UK_LETTERS.isdisjoint(word) or "'" in word:  # "п'ять": Russian writes "ъ"/"ь"
        _add(votes, ((S_UK, LETTER_WEIGHT),), factor)
    if _BULGARIAN_HARD_SIGN_RE.search(word):
        _add(votes, ((S_CYR_OTHER, BULGARIAN_HARD_SIGN_WEIGHT),))
    if not listed:
        _add_affixes(votes, word, _CYR_SUFFIXES, _CYR_INFIXES, factor)
    return tuple(votes.items())


def _latin_votes(token: str) -> Votes:
    word = token.translate(_APOSTROPHES).lower()  # a trailing "'" may be a soft sign
    key = word.replace("'", "")
    votes: dict[int, float] = {}
    listed = _LAT_WORDS.get(key, ())
    _add(votes, listed)
    if not word.isascii() and word not in cues.LATIN_ACCENTED_LOANWORDS:
        _add(votes, ((S_LAT_OTHER, ACCENTED_LATIN_WEIGHT),), _name_factor(token))
    if "'" in word:
        head, _, tail = word.rpartition("'")
        english = (tail in cues.EN_CONTRACTIONS or (tail == "t" and head.endswith("n"))
                   or (not tail and head.endswith("s")))  # "it's", "don't", "users'"
        _add(votes, ((S_EN, CONTRACTION_WEIGHT),) if english
             else ((S_TR_RU, SOFT_SIGN_APOSTROPHE_WEIGHT),))
    if not listed:
        _add_affixes(votes, key, _LAT_SUFFIXES, _LAT_INFIXES)
    if votes:
        votes[S_LAT_BASE] = 1.0
    else:
        name_like = not token.islower()
        votes[S_LAT_BASE] = UNCUED_NAME_WEIGHT if name_like else UNCUED_LATIN_WEIGHT
    return tuple(votes.items())


def _name_factor(token: str) -> float:
    return NAME_CUE_FACTOR if token[:1].isupper() and token[1:].islower() else 1.0


def _add(votes: dict[int, float], new: Votes, factor: float = 1.0) -> None:
    for slot, weight in new:
        votes[slot] = votes.get(slot, 0.0) + weight * factor


def _add_affixes(votes: dict[int, float], word: str, suffixes: dict[str, Votes],
                 infixes: tuple[tuple[str, Votes], ...], factor: float = 1.0) -> None:
    if len(word) >= MIN_SUFFIX_WORD_LEN:
        for size in _SUFFIX_SIZES:
            ending = suffixes.get(word[-size:])
            if ending:
                _add(votes, ending, factor)
                break
    for infix, infix_votes in infixes:
        if infix in word:
            _add(votes, infix_votes, factor)
