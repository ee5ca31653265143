"""Evaluation helpers: loading cases, the odd/even split and the fixed output format."""
from __future__ import annotations

import io
import json

import numpy as np
import pytest

from services.match.matching.profiles import Match
from services.match.training.evaluate import (
    MatchCase,
    evaluate_cases,
    load_cases,
    print_accuracy,
    select_half,
)


def write(tmp_path, rows):
    path = tmp_path / "cases.jsonl"
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return str(path)


ROWS = [
    {"id": "m-0001", "text": "нужен ноутбук", "lang": "ru", "labels": ["purchase_intent"], "product": "laptops"},
    {"id": "m-0002", "text": "ищу диван", "lang": "ru", "labels": ["purchase_intent"], "product": None},
    {"id": "m-0003", "text": "ищу работу курьером", "lang": "ru", "labels": ["job_seeking"], "vacancy": "courier"},
    {"id": "m-0004", "text": "both", "lang": "en", "labels": ["purchase_intent", "job_seeking"],
     "product": "laptops", "vacancy": None},
    {"id": "m-0005", "text": "no gold", "lang": "en", "labels": ["purchase_intent"]},
]


def test_load_cases_keeps_ids_and_both_kinds(tmp_path):
    cases = load_cases(write(tmp_path, ROWS))
    assert [(c.id, c.kind, c.gold) for c in cases] == [
        ("m-0001", "product", "laptops"), ("m-0002", "product", None), ("m-0003", "vacancy", "courier"),
        ("m-0004", "product", "laptops"), ("m-0004", "vacancy", None)]


def test_select_half_splits_on_the_number_of_the_id(tmp_path):
    cases = load_cases(write(tmp_path, ROWS))
    assert [c.id for c in select_half(cases, "odd")] == ["m-0001", "m-0003"]
    assert [c.id for c in select_half(cases, "even")] == ["m-0002", "m-0004", "m-0004"]
    assert select_half(cases, "all") == cases
    with pytest.raises(ValueError, match="half must be"):
        select_half(cases, "first")
    with pytest.raises(ValueError, match="no numeric id"):
        select_half([MatchCase("t", "en", "product", None, "x")], "odd")


def test_the_shipped_file_splits_into_two_halves():
    cases = load_cases("data/match/dev.jsonl")
    odd, even = select_half(cases, "odd"), select_half(cases, "even")
    assert len(odd) + len(even) == len(cases) and odd and even
    assert {c.gold for c in odd} == {c.gold for c in even}      # every profile and null on both sides


def test_print_accuracy_format():
    out = io.StringIO()
    overall = print_accuracy({"product": [True, False], "vacancy": [True, True, True]}, out)
    assert out.getvalue() == "product_top1=0.500 n=2\nvacancy_top1=1.000 n=3\nmatch_top1=0.800\n"
    assert overall == pytest.approx(0.8)


class FakeIndex:
    def __init__(self, answer):
        self.answer = answer

    def best(self, embedding, text, lang):
        return Match(self.answer, 0.5, 0.5) if self.answer else None


def test_null_gold_is_right_only_when_nothing_matches():
    cases = [MatchCase("a", "ru", "product", None, "m-1"), MatchCase("b", "ru", "vacancy", None, "m-2"),
             MatchCase("c", "ru", "vacancy", "courier", "m-3")]
    correct = evaluate_cases({"product": FakeIndex(None), "vacancy": FakeIndex("courier")}, cases,
                             np.zeros((3, 4), dtype=np.float32))
    assert correct == {"product": [True], "vacancy": [False, True]}


def test_details_report_languages_directions_and_abstention():
    from services.match.training.evaluate import Outcome, print_details
    outcomes = [
        Outcome(MatchCase("a", "ru", "product", "p1", "1"), "p1", "ru->en"),
        Outcome(MatchCase("b", "uk", "product", "p1", "2"), None, "uk->en"),      # abstained wrongly
        Outcome(MatchCase("c", "en", "product", None, "3"), None, "en->none"),     # abstained rightly
        Outcome(MatchCase("d", "en", "product", None, "4"), "p1", "en->none"),     # should have abstained
    ]
    out = io.StringIO()
    print_details(outcomes, out)
    lines = out.getvalue().splitlines()
    assert "product_top1.en=0.500 n=2" in lines and "product_top1.ru=1.000 n=1" in lines
    assert "product_direction ru->en=1.000 n=1" in lines and "product_direction uk->en=0.000 n=1" in lines
    assert "product_top1_in_catalogue=0.500 n=2" in lines
    assert "product_abstain precision=0.500 recall=0.500 abstained=2 null_gold=2" in lines
