"""Rule phrases: lemma versus exact-form words, gaps, negation, evidence offsets, person cues."""
from __future__ import annotations

import pytest

from services.classify.classifier.rules import MORPH_CUES


@pytest.fixture(scope="module")
def rules(features):
    return features.rules


def spans(rules, text: str, lang: str) -> dict[str, list[str]]:
    doc = rules.linguistics.doc(text, lang)
    out: dict[str, list[str]] = {}
    for s in rules.analyse(doc, lang).spans:
        out.setdefault(s.rule, []).append(s.text)
        assert text[s.start:s.end] == s.text
    return out


def test_exact_forms_tell_seeker_from_employer(rules) -> None:
    seeker = spans(rules, "Ищу новую удалённую работу, опыт 5 лет", "ru")
    employer = spans(rules, "Мы ищем в команду дизайнера", "ru")
    assert seeker["job.seek"] == ["Ищу новую удалённую работу"]  # "=ищу * работа" with a two-word gap
    assert "lookalike.hiring" not in seeker
    assert "job.seek" not in employer or "Мы ищем" not in employer["job.seek"]
    assert "lookalike.hiring" in employer


def test_lemma_words_match_any_inflection(rules) -> None:
    assert "complaint.pay" in spans(rules, "Опять задержали зарплату", "ru")
    assert "complaint.pay" in spans(rules, "Затримують зарплату", "uk")
    assert "purchase.ask" in spans(rules, "Can you recommend a good dentist?", "en")


def test_negation_is_counted(rules) -> None:
    doc = rules.linguistics.doc("я не ищу работу, просто интересно", "ru")
    hits = rules.analyse(doc, "ru")
    names = rules.feature_names()
    assert hits.features[names.index("rule:job.seek")] > 0
    assert hits.features[names.index("rule:job.seek:negated")] > 0


def test_person_cues(rules) -> None:
    names = rules.feature_names()
    first = rules.analyse(rules.linguistics.doc("Продам велосипед и куплю самокат", "ru"), "ru").features
    plural = rules.analyse(rules.linguistics.doc("Шукаємо кухаря, пропонуємо гідну оплату", "uk"), "uk").features
    assert first[names.index("morph:verb_1sg")] > 0 and first[names.index("morph:verb_1pl")] == 0
    assert plural[names.index("morph:verb_1pl")] > 0
    assert len(names) == rules.n_features and names[-len(MORPH_CUES):] == [f"morph:{c}" for c in MORPH_CUES]


def test_verb_cues_reuse_the_lemmatizers_parse_of_a_new_word(rules) -> None:
    """A word seen for the first time is parsed by pymorphy3 once, for its lemma, and the verb cues read
    that parse (intentflow.nlp.lemmas.word_parses) instead of parsing it again."""
    from intentflow.nlp.lemmas import word_parses
    parse = word_parses("ru")
    # "...размундыривали" is made up, so no other test has parsed it; the other two words may have been
    words = ["вчера", "перекалибровывали", "квазиперевыразмундыривали"]
    before = parse.cache_info()
    hits = rules.analyse(rules.linguistics.doc(" ".join(words), "ru"), "ru")
    after = parse.cache_info()
    assert hits.features[rules.feature_names().index("morph:verb_past")] > 0
    parsed = after.misses - before.misses
    assert 1 <= parsed <= len(words)                   # each new word parsed once, for its lemma,
    assert after.hits - before.hits >= parsed          # and read again for the verb cues
