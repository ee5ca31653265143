"""LexicalIndex on real spaCy + pymorphy3 lemmas in ru, uk and en."""
from __future__ import annotations

import pytest

from intentflow.nlp.linguistics import Linguistics
from services.match.matching.lexical import LexicalIndex, content_lemmas


@pytest.fixture(scope="module")
def index() -> LexicalIndex:
    index = LexicalIndex(Linguistics())
    index.replace_all({
        "accounting": index.bag(["Бухгалтерия для ФОП", "Ведём отчёты в налоговую и ДПС за вас.",
                                 "Звіти ФОП 1-3 групи без штрафів."]),
        "laptops": index.bag(["Ноутбуки", "Лёгкий ноутбук для учёбы и работы.", "Laptop for study and work."]),
        "hosting": index.bag(["Веб-хостинг", "Хостинг для сайта и работы с доменом.", "Web hosting for your site."]),
    })
    return index


def test_content_lemmas_drop_stop_words_short_words_and_numbers():
    doc = Linguistics().doc("Я ищу 2 ноутбука для работы и учёбы", "ru")
    assert content_lemmas(doc) == {"искать", "ноутбук", "работа", "учеба"}


@pytest.mark.parametrize("lang, text, best", [
    ("uk", "хто веде звіти для фоп 3 групи? дпс вже лист прислала", "accounting"),
    ("ru", "посоветуйте ноутбук ребёнку для учёбы", "laptops"),
    ("en", "need cheap hosting for my site", "hosting"),
])
def test_a_post_scores_highest_for_the_profile_sharing_its_rare_lemmas(index, lang, text, best):
    scores = index.scores(index.linguistics.doc(text, lang), ["accounting", "laptops", "hosting"])
    assert max(scores, key=scores.get) == best and scores[best] > 0


def test_a_lemma_every_profile_shares_weighs_less_than_a_rare_one(index):
    linguistics = index.linguistics
    shared = index.scores(linguistics.doc("работа", "ru"), ["laptops"])["laptops"]    # in laptops and hosting
    rare = index.scores(linguistics.doc("ноутбук", "ru"), ["laptops"])["laptops"]
    assert 0 < shared < rare


def test_set_and_remove_change_the_weights(index):
    linguistics = index.linguistics
    before = index.scores(linguistics.doc("ноутбук", "ru"), ["laptops"])["laptops"]
    index.set("tablets", index.bag(["Планшет или ноутбук-трансформер"]))
    assert index.scores(linguistics.doc("ноутбук", "ru"), ["laptops"])["laptops"] < before
    index.remove("tablets")
    assert index.scores(linguistics.doc("ноутбук", "ru"), ["laptops"])["laptops"] == pytest.approx(before)
    assert index.scores(linguistics.doc("ноутбук", "ru"), ["unknown"]) == {"unknown": 0.0}
