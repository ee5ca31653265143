"""Token arrays: a Doc lemmatised in one process is rebuilt in another without lemmatising again."""

from __future__ import annotations

import pytest

from intentflow.nlp import Linguistics
from intentflow.nlp.tokens import rebuild_doc, token_arrays


@pytest.fixture(scope="module")
def ling() -> Linguistics:
    return Linguistics()


def attributes(doc) -> list[tuple]:
    return [(t.i, t.idx, t.text, t.whitespace_, t.lemma_, t.lower_, t.is_alpha, t.is_stop, t.is_punct, t.is_space)
            for t in doc]


@pytest.mark.parametrize(("text", "lang"), [
    ("Посоветуйте робот-пылесос, кто  пользовался?\n\nКоты линяют 😿 ", "ru"),
    ("Шукаю роботу кур’єром у Львові (досвід 3 роки)", "uk"),
    ("  Looking for a CRM... any tips?? @sales_team https://example.com/x?y=1", "en"),
    ("x", "en"),
    ("", "ru"),
])
def test_the_rebuilt_doc_is_the_lemmatised_one(ling, text, lang):
    doc = ling.doc(text, lang)
    arrays = token_arrays(doc, lang)
    assert arrays.pipeline == lang and len(arrays.starts) == len(doc)
    fresh = Linguistics()   # another process: its own vocabulary and lemma cache
    rebuilt = rebuild_doc(fresh.nlp(lang).vocab, text, arrays.starts, arrays.ends, arrays.lemmas)
    assert rebuilt is not None and rebuilt.text == text
    assert attributes(rebuilt) == attributes(doc)
    assert fresh.cache_info()[lang].misses == 0, "nothing was lemmatised"


def test_arrays_that_do_not_describe_the_text_give_none(ling):
    text = "Ищу работу курьером"
    a = token_arrays(ling.doc(text, "ru"), "ru")
    vocab = ling.nlp("ru").vocab
    assert rebuild_doc(vocab, text + "!", a.starts, a.ends, a.lemmas) is None          # text grew
    assert rebuild_doc(vocab, "Ищу  работу курьером", a.starts, a.ends, a.lemmas) is None
    assert rebuild_doc(vocab, text, a.starts, a.ends, a.lemmas[:-1]) is None           # lengths differ
    assert rebuild_doc(vocab, text, a.starts[::-1], a.ends[::-1], a.lemmas) is None     # out of order
    assert rebuild_doc(vocab, text, (), (), ()) is None
