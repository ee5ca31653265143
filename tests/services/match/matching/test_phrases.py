"""KeywordMatcher (profile keywords) and PhraseIndex (employer aliases)."""
from __future__ import annotations

import pytest

from intentflow.nlp.linguistics import Linguistics
from services.match.matching.phrases import KeywordMatcher, PhraseIndex, distinct_spans, fold


@pytest.fixture(scope="module")
def linguistics():
    return Linguistics()


@pytest.fixture(scope="module")
def matcher(linguistics):
    return KeywordMatcher(linguistics, {
        "laptops": ["ноутбук", "ноут", "gaming laptop"],
        "frontend": ["фронтенд"],
        "vacuum": ["робот-пылесос", "roborock"],
        "courier": ["кур'єр", "курьер", "delivery driver"],
        "phones": ["мобілка", "айфон"],
        "hosting": ["host", "хостинг"],
        "english": ["курсы английского"],
    })


@pytest.mark.parametrize("lang, text, key, found", [
    ("ru", "посоветуйте ноутбуки для учебы", "laptops", ["ноутбуки"]),           # lemma
    ("ru", "у ноута сломалась петля", "laptops", ["ноута"]),                      # lemma of a short keyword
    ("en", "best gaming laptops under 1000?", "laptops", ["gaming laptops"]),     # English multi-word
    ("ru", "хочу робот пылесос для кота", "vacuum", ["робот пылесос"]),           # hyphen or not
    ("uk", "шукаю роботу курʼєром", "courier", ["курʼєром"]),                      # apostrophe variants
    ("uk", "шукаю роботу кур’єра", "courier", ["кур’єра"]),
    ("ru", "ищу работу курьером на авто", "courier", ["курьером"]),
    ("uk", "є нормальні компактні мобілки?", "phones", ["мобілки"]),
    ("ru", "фронтендщик ищет работу", "frontend", ["фронтендщик"]),                # prefix: slang the morphology
    ("en", "roborock's new dock any good?", "vacuum", ["roborock"]),                # does not know
    ("en", "need a delivery driver job", "courier", ["delivery driver"]),
    ("uk", "де купити хостинг для сайту", "hosting", ["хостинг"]),
    ("ru", "ищу курсы английского онлайн", "english", ["курсы английского"]),
    ("uk", "порадьте новий айфон", "phones", ["айфон"]),
])
def test_keywords_are_found(matcher, lang, text, key, found):
    assert matcher.find_in_text(text, lang).get(key) == found


@pytest.mark.parametrize("lang, text, key", [
    ("en", "cheap hostel in Lisbon?", "hosting"),         # "host" is too short to match as a prefix
    ("ru", "ноутбучный кулер", "laptops"),                 # prefix must be the whole keyword
    ("ru", "курсы испанского онлайн", "english"),          # every word of a phrase must be there
    ("ru", "английского курсы", "english"),                # in order
])
def test_near_misses_are_not_found(matcher, lang, text, key):
    assert key not in matcher.find_in_text(text, lang)


def test_keys_are_set_and_removed_one_at_a_time(linguistics):
    matcher = KeywordMatcher(linguistics, {"a": ["склад"], "b": ["курьер"]})
    assert set(matcher.find_in_text("работа на складе курьером", "ru")) == {"a", "b"}
    matcher.set("a", ["комплектовщик"])
    assert set(matcher.find_in_text("работа на складе курьером", "ru")) == {"b"}
    assert matcher.find_in_text("ищу работу комплектовщиком", "ru") == {"a": ["комплектовщиком"]}
    matcher.remove("b")
    matcher.remove("missing")
    assert matcher.find_in_text("работа курьером", "ru") == {}
    assert matcher.keys() == ["a"]
    matcher.set("c", ["", "  "])
    assert matcher.find_in_text("что угодно", "ru") == {}


def test_spans_and_distinct_places(matcher, linguistics):
    doc = linguistics.doc("ноутбук или ноут? ноутбук!", "ru")
    spans = matcher.find_spans(doc, "ru")["laptops"]
    assert sorted(spans) == [(0, 1), (2, 3), (4, 5)]
    assert distinct_spans(spans) == 3
    assert distinct_spans([(0, 3), (2, 3), (5, 6)]) == 2      # nested spans count once
    assert distinct_spans([]) == 0


def test_fold():
    assert fold("Кур’єр") == fold("курʼєр") == "кур'єр"
    assert fold("Ёлка") == "елка"


def test_employer_aliases_still_match_on_lemmas(linguistics):
    index = PhraseIndex(linguistics, {"megamart": ["Мегамарт", "MegaMart"]})
    assert index.find_in_text("работаю в Мегамарте третий год", "ru") == {"megamart": ["Мегамарте"]}
    assert index.find_in_text("I work at megamart", "en") == {"megamart": ["megamart"]}
