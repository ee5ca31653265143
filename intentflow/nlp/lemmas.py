"""Word-level lemmatizers: pymorphy3 for ru/uk, light suffix rules for en.

Lemmas serve phrase matching, so the main requirement is that the inflected forms of a
word and the phrase written in a catalogue collapse to the same key; linguistic
perfection is secondary. Every function takes a lowercase token.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import cache, lru_cache

import pymorphy3

_CYRILLIC_RE = re.compile("[\u0400-\u04ff]")

# The Ukrainian dictionary has no frequency data (every parse scores the same) and the
# Russian one has ties, so equal-score parses are ranked by what social posts mostly
# contain: ordinary inanimate words in the singular, in the nominative or accusative.
# That turns "роботу"/"роботи" into "робота" rather than "робот" (a robot).
_UNUSUAL_GRAMMEMES = frozenset({"Name", "Surn", "Patr", "Infr", "Slng", "Arch", "Abbr", "Erro"})
_CASE_ORDER = {"nomn": 0, "accs": 1, "gent": 2, "loct": 3, "datv": 4, "ablt": 5, "voct": 6}
_SCORE_TIE = 1e-9


@cache
def morph_analyzer(lang: str) -> pymorphy3.MorphAnalyzer:
    """One analyzer per language and process: loading the dictionaries takes ~0.1 s."""
    return pymorphy3.MorphAnalyzer(lang=lang)


# Words of the last few batches: a batch of 256 posts holds a few thousand distinct words.
PARSE_CACHE_SIZE = 20_000


@cache
def word_parses(lang: str) -> Callable[[str], tuple[pymorphy3.analyzer.Parse, ...]]:
    """pymorphy3's parses of a lowercase word, remembered for recent words. The lemmatizer and the
    classifier's verb cues both read a new word's parses, and parsing is most of what a word costs on
    first sight (a real stream keeps bringing new words)."""
    morph = morph_analyzer(lang)
    return lru_cache(maxsize=PARSE_CACHE_SIZE)(lambda word: tuple(morph.parse(word)))


def slavic_lemmatizer(lang: str) -> Callable[[str], str]:
    morph = morph_analyzer(lang)
    parse = word_parses(lang)

    def lemma(word: str) -> str:
        # Latin words in a ru/uk post (transliteration, brands), numbers and emoji.
        if not _CYRILLIC_RE.search(word):
            return word
        parses = parse(word)
        if not parses:
            return word
        top = parses[0].score
        tied = [p for p in parses if p.score >= top - _SCORE_TIE]
        # Guessed words keep pymorphy's suffix-based order; only proper-name readings of
        # an unknown brand ("Мегамарті" as a female name) are pushed back.
        rank = _known_word_rank if morph.word_is_known(word) else _unusual
        return min(tied, key=rank).normal_form

    return lemma


def _unusual(parse: pymorphy3.analyzer.Parse) -> bool:
    return not _UNUSUAL_GRAMMEMES.isdisjoint(parse.tag.grammemes)


def _known_word_rank(parse: pymorphy3.analyzer.Parse) -> tuple[bool, bool, bool, int]:
    grammemes = parse.tag.grammemes
    return (
        _unusual(parse),
        "anim" in grammemes,
        "plur" in grammemes and "Pltm" not in grammemes,
        _CASE_ORDER.get(parse.tag.case, 0),
    )


_EN_IRREGULAR = {
    "am": "be", "is": "be", "are": "be", "was": "be", "were": "be", "been": "be", "being": "be",
    "has": "have", "had": "have", "having": "have", "does": "do", "did": "do", "done": "do",
    "goes": "go", "went": "go", "gone": "go", "got": "get", "gotten": "get", "bought": "buy",
    "sold": "sell", "paid": "pay", "made": "make", "took": "take", "taken": "take",
    "gave": "give", "given": "give", "found": "find", "told": "tell", "said": "say",
    "says": "say", "thought": "think", "brought": "bring", "felt": "feel", "kept": "keep",
    "left": "leave", "lost": "lose", "sent": "send", "spent": "spend", "knew": "know",
    "known": "know", "came": "come", "saw": "see", "seen": "see", "ran": "run", "met": "meet",
    "wrote": "write", "written": "write", "built": "build", "held": "hold", "won": "win",
    "children": "child", "men": "man", "women": "woman", "feet": "foot", "teeth": "tooth",
    "movies": "movie", "cookies": "cookie", "purchased": "purchase", "purchasing": "purchase",
    "released": "release", "increased": "increase", "decreased": "decrease",
    "created": "create", "creating": "create",
}
# Words that only look inflected.
_EN_UNINFLECTED = frozenset({
    "this", "his", "us", "yes", "bus", "plus", "thus", "always", "perhaps", "news", "series",
    "species", "status", "bonus", "campus", "virus", "gas", "lens", "analysis", "basis",
    "crisis", "business", "address", "process", "access", "success", "less", "unless", "boss",
    "class", "glass", "pass", "dress", "miss", "chess", "stress", "physics", "economics",
    "politics", "jeans", "pants", "thanks", "its", "ours", "yours", "hers", "theirs", "towards",
    "afterwards", "besides", "something", "anything", "nothing", "everything", "thing",
    "morning", "evening", "during", "ceiling", "wedding", "pudding", "king", "ring", "spring",
    "string", "sing", "bring", "swing", "wing", "sibling", "red", "bed", "need", "speed",
    "feed", "seed", "shed", "hundred", "bred", "fed", "led", "wed", "indeed", "exceed",
    "proceed", "succeed", "naked", "wicked", "sacred",
})
_VOWELS = frozenset("aeiou")
_VOWEL_GROUP_RE = re.compile("[aeiouy]+")


def english_lemma(word: str) -> str:
    """Strip -s/-es/-ies/-ed/-ing from a lowercase word, restoring a silent final e."""
    if word in _EN_IRREGULAR:
        return _EN_IRREGULAR[word]
    if len(word) <= 3 or word in _EN_UNINFLECTED or not word.isascii() or not word.isalpha():
        return word
    if word.endswith("ies"):
        return word[:-3] + ("y" if len(word) > 4 else "ie")
    if word.endswith("ied"):
        return word[:-3] + ("y" if len(word) > 4 else "ie")
    if word.endswith("eed"):
        return word[:-1] if len(word) > 5 else word  # "agreed", "guaranteed" vs "breed"
    for ending in ("ing", "ed"):
        stem = word[: -len(ending)]
        if word.endswith(ending) and len(stem) >= 2 and _VOWEL_GROUP_RE.search(stem):
            return _restore_stem(stem)
    if word.endswith(("sses", "xes", "ches", "shes", "zzes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith(("ss", "us", "is")):
        return word[:-1]
    return word


def _restore_stem(stem: str) -> str:
    last = stem[-1]
    if last == stem[-2] and last not in _VOWELS:
        return stem if last in "lsfz" else stem[:-1]  # "selling" vs "shopping"
    if last in "vuz" or stem.endswith(("rg", "dg", "nc", "rc", "chang", "rang")):
        return stem + "e"  # "driving", "continued", "charged", "changing", "arranged"
    if stem.endswith("at") and len(stem) >= 5 and stem[-3] not in _VOWELS:
        return stem + "e"  # "relocating", "educated"
    one_syllable = len(_VOWEL_GROUP_RE.findall(stem)) == 1
    short_vowel_end = (last not in _VOWELS and last not in "wxy" and stem[-2] in _VOWELS
                       and (len(stem) == 2 or stem[-3] not in _VOWELS))
    return stem + "e" if one_syllable and short_vowel_end else stem  # "hiring", "making"


def word_lemmatizer(lang: str) -> Callable[[str], str]:
    """Lemma function for a pipeline language; anything else keeps the lowercase form."""
    if lang in ("ru", "uk"):
        return slavic_lemmatizer(lang)
    if lang == "en":
        return english_lemma
    return _as_is


def _as_is(word: str) -> str:
    return word
