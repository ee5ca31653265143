"""A post's tokens and lemmas as plain arrays, so a Doc lemmatised once (in classify) can be rebuilt
elsewhere (in match) without running the tokenizer and lemmatizer again.

`token_arrays(doc, pipeline)` takes the arrays from a Doc made by Linguistics; `rebuild_doc` turns them back
into a Doc on the same language pipeline's vocabulary: words = text[start:end], a trailing space where the
next token starts after this one ends, and the lemmas as given. Lexical attributes (is_alpha, is_stop,
is_punct, lower_) come from the vocabulary as they do for the tokenizer, so the rebuilt Doc matches, keyword
and lemma for lemma, the one `Linguistics.doc(text, pipeline)` returns. Anything that does not line up
(other text, offsets out of order, arrays of different lengths) gives None, and the caller lemmatises.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from spacy.attrs import IDX, LEMMA, LENGTH
from spacy.tokens import Doc
from spacy.vocab import Vocab


@dataclass(frozen=True)
class TokenArrays:
    pipeline: str                 # "ru" | "uk" | "en": the Linguistics pipeline that made the Doc
    starts: tuple[int, ...]       # code point offset of each token in the text, inclusive
    ends: tuple[int, ...]         # exclusive
    lemmas: tuple[str, ...]       # token.lemma_ of each token


def token_arrays(doc: Doc, pipeline: str) -> TokenArrays:
    rows = doc.to_array([IDX, LENGTH]).tolist() if len(doc) else []
    return TokenArrays(pipeline, tuple(r[0] for r in rows), tuple(r[0] + r[1] for r in rows),
                       tuple(t.lemma_ for t in doc))


def rebuild_doc(vocab: Vocab, text: str, starts: Sequence[int], ends: Sequence[int],
                lemmas: Sequence[str]) -> Doc | None:
    """The Doc of `text` from its token offsets and lemmas, or None when they do not describe `text`."""
    n = len(starts)
    if n != len(ends) or n != len(lemmas) or (n == 0) != (not text):
        return None
    words, spaces, previous = [], [], 0
    for k in range(n):
        start, end = starts[k], ends[k]
        if start < previous or end <= start:
            return None
        following = starts[k + 1] if k + 1 < n else len(text)
        words.append(text[start:end])
        spaces.append(following > end)
        previous = end
    if previous > len(text):
        return None
    doc = Doc(vocab, words=words, spaces=spaces)
    if doc.text != text:
        return None
    # from_array with the lemmas' hashes: a quarter faster than Doc(..., lemmas=...), which sets them one by one.
    add = vocab.strings.add
    doc.from_array([LEMMA], np.fromiter((add(lemma) for lemma in lemmas), dtype=np.uint64, count=n))
    return doc
