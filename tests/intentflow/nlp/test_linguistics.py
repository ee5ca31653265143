"""Linguistics: pipelines, cached lemmas and lemma-based phrase matching."""

from __future__ import annotations

import pytest
from spacy.matcher import PhraseMatcher

from intentflow.nlp import Linguistics
from intentflow.nlp.component import CACHED_LEMMATIZER


@pytest.fixture(scope="module")
def ling() -> Linguistics:
    return Linguistics()


def lemmas(ling: Linguistics, text: str, lang: str) -> dict[str, str]:
    return {token.text: token.lemma_ for token in ling.doc(text, lang)}


@pytest.mark.parametrize(
    ("lang", "text", "expected"),
    [
        ("ru", "Вчера купила ноутбуки и зимнюю резину", {
            "купила": "купить", "ноутбуки": "ноутбук", "зимнюю": "зимний", "резину": "резина"}),
        ("ru", "Задерживают зарплату, ищу работу", {"зарплату": "зарплата", "работу": "работа"}),
        ("ru", "Купил в Мегамарте", {"Мегамарте": "мегамарт", "Купил": "купить"}),
        ("uk", "Шукаю роботу, бо затримують зарплату", {
            "Шукаю": "шукати", "роботу": "робота", "зарплату": "зарплата"}),
        ("uk", "Немає роботи, купила ноутбуки", {
            "роботи": "робота", "купила": "купити", "ноутбуки": "ноутбук"}),
        ("uk", "Де гроші, грошей нема", {"гроші": "гроші", "грошей": "гроші"}),
    ],
)
def test_slavic_lemmas(ling: Linguistics, lang: str, text: str, expected: dict[str, str]) -> None:
    got = lemmas(ling, text, lang)
    assert {word: got[word] for word in expected} == expected


@pytest.mark.parametrize(
    ("word", "lemma"),
    [
        ("laptops", "laptop"), ("companies", "company"), ("boxes", "box"), ("watches", "watch"),
        ("hired", "hire"), ("hiring", "hire"), ("hires", "hire"), ("shopping", "shop"),
        ("stopped", "stop"), ("selling", "sell"), ("looking", "look"), ("applied", "apply"),
        ("relocating", "relocate"), ("changing", "change"), ("opening", "open"),
        ("bought", "buy"), ("paid", "pay"), ("was", "be"), ("children", "child"),
        ("agreed", "agree"), ("news", "news"), ("this", "this"), ("morning", "morning"),
        ("need", "need"), ("Laptops", "laptop"),
    ],
)
def test_english_lemmas(ling: Linguistics, word: str, lemma: str) -> None:
    assert ling.doc(word, "en")[0].lemma_ == lemma


def test_transliterated_russian_keeps_lowercase_forms(ling: Linguistics) -> None:
    doc = ling.doc("Kuplyu noutbuk, posovetuite", "ru")
    assert [t.lemma_ for t in doc] == ["kuplyu", "noutbuk", ",", "posovetuite"]


def test_other_and_unknown_languages_use_the_multilingual_pipeline(ling: Linguistics) -> None:
    assert ling.nlp("other").lang == "xx"
    assert ling.nlp("de") is ling.nlp("other")
    assert [t.lemma_ for t in ling.doc("Ich SUCHE Arbeit", "de")] == ["ich", "suche", "arbeit"]


def test_pipelines_are_built_once_and_carry_the_cached_lemmatizer(ling: Linguistics) -> None:
    for lang, code in [("ru", "ru"), ("uk", "uk"), ("en", "en"), ("other", "xx")]:
        nlp = ling.nlp(lang)
        assert nlp is ling.nlp(lang)
        assert (nlp.lang, nlp.pipe_names) == (code, [CACHED_LEMMATIZER])


@pytest.mark.parametrize(
    ("lang", "pattern", "text", "found"),
    [
        ("ru", "мегамарт", "Вчера купила пылесос в Мегамарте, не советую", "Мегамарте"),
        ("ru", "зимняя резина", "куплю зимнюю резину R16", "зимнюю резину"),
        ("uk", "Мегамарт", "Купила пилосос у Мегамарті", "Мегамарті"),
        ("uk", "затримувати зарплата", "знову затримують зарплату", "затримують зарплату"),
        ("en", "unpaid overtime", "Unpaid Overtime again this week", "Unpaid Overtime"),
        ("en", "laptop", "selling two laptops", "laptops"),
    ],
)
def test_phrase_matcher_on_lemmas_matches_inflected_forms(
    ling: Linguistics, lang: str, pattern: str, text: str, found: str
) -> None:
    matcher = PhraseMatcher(ling.nlp(lang).vocab, attr="LEMMA")
    matcher.add("ALIAS", [ling.doc(pattern, lang)])
    doc = ling.doc(text, lang)
    assert [doc[start:end].text for _, start, end in matcher(doc)] == [found]


def test_docs_keeps_input_order_across_languages(ling: Linguistics) -> None:
    texts = ["ищу работу", "looking for work", "шукаю роботу", "suche Arbeit", "куплю ноутбук"]
    langs = ["ru", "en", "uk", "other", "ru"]
    docs = ling.docs(texts, langs)
    assert [d.text for d in docs] == texts
    assert [d.lang_ for d in docs] == ["ru", "en", "uk", "xx", "ru"]
    assert [d[0].lemma_ for d in docs] == ["искать", "look", "шукати", "suche", "купить"]


def test_docs_rejects_mismatched_lengths(ling: Linguistics) -> None:
    with pytest.raises(ValueError):
        ling.docs(["one", "two"], ["en"])


def test_repeated_texts_hit_the_cache() -> None:
    ling = Linguistics(cache_size=1_000)
    text = "Посоветуйте ноутбук для учебы, ноутбук нужен срочно"
    tokens = len(ling.nlp("ru").make_doc(text))
    ling.doc(text, "ru")
    first = ling.cache_info()["ru"]
    ling.doc(text, "ru")
    ling.docs([text, text], ["ru", "ru"])
    second = ling.cache_info()["ru"]
    assert (first.hits, first.misses) == (1, tokens - 1)  # "ноутбук" repeats within the post
    assert (second.hits, second.misses) == (first.hits + 3 * tokens, first.misses)


def test_cache_is_bounded_and_lemmas_stay_correct_after_eviction() -> None:
    ling = Linguistics(cache_size=2)
    doc = ling.doc("купила ноутбуки, купила ноутбуки", "ru")
    info = ling.cache_info()["ru"]
    assert info.maxsize == 2 and info.currsize <= 2
    assert [t.lemma_ for t in doc] == ["купить", "ноутбук", ",", "купить", "ноутбук"]


def test_cache_can_be_disabled() -> None:
    ling = Linguistics(cache_size=0)
    assert [t.lemma_ for t in ling.doc("купила ноутбуки", "ru")] == ["купить", "ноутбук"]
    assert ling.cache_info()["ru"].currsize == 0
