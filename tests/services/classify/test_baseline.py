"""The keyword baseline: Boolean include/exclude queries per class and language."""
from __future__ import annotations

import pytest

from intentflow.signals import EMPLOYER_COMPLAINT, JOB_SEEKING, PURCHASE_INTENT, SIGNALS
from services.classify.training.baseline import QUERIES, KeywordBaseline


@pytest.fixture(scope="module")
def baseline() -> KeywordBaseline:
    return KeywordBaseline()


@pytest.mark.parametrize(("text", "expected"), [
    ("Хочу купить пылесос, посоветуйте модель", {PURCHASE_INTENT}),
    ("Порадьте ноутбук до 25 тисяч", {PURCHASE_INTENT}),
    ("Any recs for a budget laptop?", {PURCHASE_INTENT}),
    ("Продам пылесос, почти новый", set()),
    ("Ищу работу водителем, опыт 8 лет", {JOB_SEEKING}),
    ("Шукаю роботу бухгалтером", {JOB_SEEKING}),
    ("Open to work: data analyst, SQL, Python", {JOB_SEEKING}),
    ("Ищем в команду дизайнера, вакансия открыта", set()),
    ("We're hiring! Looking for a job-ready barista", set()),
    ("Третий месяц задерживают зарплату", {EMPLOYER_COMPLAINT}),
    ("Затримують зарплату вже два місяці", {EMPLOYER_COMPLAINT}),
    ("Unpaid overtime again, thanks boss", {EMPLOYER_COMPLAINT}),
    ("Банк задерживает перевод зарплаты, оператор не отвечает", set()),
    ("Задерживают зарплату на заводе, сообщает местное издание", set()),
    ("Переработки не оплачивают, ищу работу на складе", {EMPLOYER_COMPLAINT, JOB_SEEKING}),
])
def test_queries(baseline, text, expected) -> None:
    assert baseline.predict(text) == expected


def test_case_insensitive_and_and_terms(baseline) -> None:
    assert baseline.predict("ЗАДЕРЖИВАЮТ ЗП опять") == {EMPLOYER_COMPLAINT}
    assert baseline.predict("задерживают поставку") == set()


def test_every_class_has_queries_in_every_language() -> None:
    assert set(QUERIES) == set(SIGNALS)
    for by_lang in QUERIES.values():
        assert set(by_lang) == {"ru", "uk", "en"}
        for include, exclude in by_lang.values():
            assert len(include) >= 10 and len(exclude) >= 5
