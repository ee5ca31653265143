"""spaCy pipeline component that sets token lemmas through a bounded LRU cache.

spaCy's own ru/uk lemmatizers call pymorphy for every token (300-600 posts/s on
data/classify with spaCy 3.8 and pymorphy3 2.0.6); the vocabulary of social posts
repeats heavily, so a cache keyed by the lowercase form removes almost all analyzer
calls. Kept apart from linguistics.py so that running that module as a script does
not register the factory a second time.
"""

from __future__ import annotations

from functools import lru_cache
from typing import TYPE_CHECKING

from spacy.language import Language
from spacy.strings import StringStore
from spacy.tokens import Doc

from intentflow.nlp.lemmas import word_lemmatizer

if TYPE_CHECKING:
    from functools import _CacheInfo  # the named tuple lru_cache reports

CACHED_LEMMATIZER = "intentflow_cached_lemmatizer"
DEFAULT_CACHE_SIZE = 200_000


class CachedLemmatizer:
    def __init__(self, lang: str, strings: StringStore, cache_size: int = DEFAULT_CACHE_SIZE):
        if cache_size < 0:
            raise ValueError(f"cache_size must be >= 0, got {cache_size}")
        lemmatize = word_lemmatizer(lang)

        # Caching the lemma's StringStore hash rather than the string spares the
        # token.lemma_ setter from hashing it again on every hit (~35% of this
        # component's time).
        def lemma_hash(lower: str) -> int:
            return strings.add(lemmatize(lower))

        self._lemma_hash = lru_cache(maxsize=cache_size)(lemma_hash)

    def __call__(self, doc: Doc) -> Doc:
        lemma_hash = self._lemma_hash
        for token in doc:
            token.lemma = lemma_hash(token.lower_)
        return doc

    def cache_info(self) -> _CacheInfo:
        return self._lemma_hash.cache_info()


@Language.factory(CACHED_LEMMATIZER, default_config={"cache_size": DEFAULT_CACHE_SIZE})
def make_cached_lemmatizer(nlp: Language, name: str, cache_size: int) -> CachedLemmatizer:
    return CachedLemmatizer(nlp.lang, nlp.vocab.strings, cache_size)
