"""spaCy pipelines for ru, uk, en and other languages with cached, fast lemmas.

Blank pipelines (tokenizer only) plus the cached lemmatizer component: ru/uk lemmas
come from pymorphy3, en lemmas from light suffix rules, everything else (and Latin
words in ru/uk posts, e.g. transliteration) keeps its lowercase form. Phrase patterns
for PhraseMatcher(attr="LEMMA") must be built with doc()/docs() too, so that both
sides carry lemmas from the same pipeline.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

import spacy
from spacy.language import Language
from spacy.tokens import Doc

from intentflow.nlp.component import CACHED_LEMMATIZER, DEFAULT_CACHE_SIZE

if TYPE_CHECKING:
    from functools import _CacheInfo

# Detected language -> spaCy language code; "xx" is spaCy's multilingual tokenizer.
SPACY_LANGS = {"ru": "ru", "uk": "uk", "en": "en", "other": "xx"}
FALLBACK_LANG = "other"


class Linguistics:
    """Tokenization and lemmas for posts; build once per process and share."""

    def __init__(self, cache_size: int = DEFAULT_CACHE_SIZE):
        self._pipelines = {
            lang: _blank_pipeline(code, cache_size) for lang, code in SPACY_LANGS.items()
        }

    def nlp(self, lang: str) -> Language:
        """Pipeline for a language; unknown codes get the multilingual one."""
        return self._pipelines[self._pipeline_lang(lang)]

    def doc(self, text: str, lang: str) -> Doc:
        return self.nlp(lang)(text)

    def docs(self, texts: Iterable[str], langs: Iterable[str], batch_size: int = 256) -> list[Doc]:
        """Docs in input order; each language group goes through nlp.pipe in one go."""
        texts, langs = list(texts), list(langs)
        if len(texts) != len(langs):
            raise ValueError(f"got {len(texts)} texts but {len(langs)} languages")
        groups: dict[str, list[int]] = {}
        for index, lang in enumerate(langs):
            groups.setdefault(self._pipeline_lang(lang), []).append(index)
        result: list[Doc | None] = [None] * len(texts)
        for lang, indexes in groups.items():
            piped = self._pipelines[lang].pipe((texts[i] for i in indexes), batch_size=batch_size)
            for index, doc in zip(indexes, piped, strict=True):
                result[index] = doc
        return result  # type: ignore[return-value]  # every slot is filled above

    def _pipeline_lang(self, lang: str) -> str:
        return lang if lang in self._pipelines else FALLBACK_LANG

    def cache_info(self) -> dict[str, _CacheInfo]:
        """Lemma cache statistics per language (hits, misses, maxsize, currsize)."""
        return {lang: nlp.get_pipe(CACHED_LEMMATIZER).cache_info()
                for lang, nlp in self._pipelines.items()}


def _blank_pipeline(code: str, cache_size: int) -> Language:
    nlp = spacy.blank(code)
    nlp.add_pipe(CACHED_LEMMATIZER, config={"cache_size": cache_size})
    return nlp
