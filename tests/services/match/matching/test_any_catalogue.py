"""Matching on catalogues written unlike the shipped one (issue #14), with the real encoders (USE and
multilingual-e5-small): one language, no keywords, names only; posts in another language; posts whose
need is in no catalogue; example posts; evidence."""
from __future__ import annotations

import dataclasses
import json

import pytest

from intentflow.e5 import load_e5
from intentflow.embedding import USE_MULTILINGUAL, load_embedder
from intentflow.nlp.linguistics import Linguistics
from services.match.matching.profiles import profile_indexes, vetoed
from services.match.training.variants import load_domains, main, render


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(USE_MULTILINGUAL, 2)


@pytest.fixture(scope="module")
def reranker():
    return load_e5(2)


@pytest.fixture(scope="module")
def domains():
    return load_domains()


def index_of(embedder, reranker, kind, profiles):
    index = profile_indexes(embedder, Linguistics(), reranker=reranker)[kind]
    index.replace_all(profiles)
    return index


def best(index, embedder, text, lang):
    found = index.best(embedder.encode([text])[0], text, lang)
    return found.profile_id if found else None


def domain(domains, kind, name, variant):
    return render([p for p in domains if p.kind == kind and p.domain == name], variant)


# Posts written for these tests (not in any data file), each in a language other than the catalogue's.
RU_UK_TO_ENGLISH_VACANCIES = [
    ("nurse", "ru", "Ищу работу медсестрой, 6 лет в реанимации, могу ночные смены"),
    pytest.param("welder", "uk", "Зварювальник з досвідом шукає роботу, напівавтомат і аргон", marks=pytest.mark.xfail(
        reason="known miss: Ukrainian post, English names without keywords; nothing passes the threshold "
               "(cross-language top-1 is below the goal, see README Quality)", strict=False)),
    ("caregiver", "ru", "ищу работу сиделкой у пожилой женщины, можно с проживанием"),
    ("truck-driver", "uk", "Водій-далекобійник, категорія CE, шукаю роботу по Європі"),
]
EN_TO_UKRAINIAN_PRODUCTS = [
    ("dental-clinic", "en", "my wisdom tooth is killing me, need a dentist asap"),
    ("apartment-rental", "en", "looking for a 2 bedroom flat to rent for a year, we have a cat"),
    ("mortgage-broker", "en", "who can help us get approved for a home loan? banks keep saying no"),
]


@pytest.mark.parametrize("gold,lang,text", RU_UK_TO_ENGLISH_VACANCIES)
def test_a_russian_or_ukrainian_post_reaches_an_english_vacancy_without_keywords(embedder, reranker, domains,
                                                                                 gold, lang, text):
    vacancies = domain(domains, "vacancy", "medical", "en-nokw") + domain(domains, "vacancy", "bluecollar", "en-nokw")
    assert all(not v.keywords for v in vacancies)
    assert best(index_of(embedder, reranker, "vacancy", vacancies), embedder, text, lang) == gold


@pytest.mark.parametrize("gold,lang,text", EN_TO_UKRAINIAN_PRODUCTS)
def test_an_english_post_reaches_a_ukrainian_product(embedder, reranker, domains, gold, lang, text):
    products = domain(domains, "product", "clinics", "uk-nokw") + domain(domains, "product", "realestate", "uk-nokw")
    assert best(index_of(embedder, reranker, "product", products), embedder, text, lang) == gold


@pytest.mark.parametrize("lang,text", [
    ("ru", "посоветуйте хорошую кофемашину для дома"),
    ("en", "any recommendations for a cheap electric guitar for a beginner?"),
    ("uk", "шукаю путівку на море в червні, Туреччина або Єгипет"),
])
def test_a_need_outside_the_catalogue_matches_nothing(embedder, reranker, domains, lang, text):
    products = domain(domains, "product", "clinics", "en") + domain(domains, "product", "realestate", "en")
    assert best(index_of(embedder, reranker, "product", products), embedder, text, lang) is None


def test_names_only_catalogue_still_matches(embedder, reranker, domains):
    vacancies = domain(domains, "vacancy", "medical", "en-names")
    assert all(not v.description for v in vacancies)
    index = index_of(embedder, reranker, "vacancy", vacancies)
    assert best(index, embedder, "фармацевт шукає роботу в аптеці", "uk") == "pharmacist"


def test_every_match_says_why(embedder, reranker, domains):
    products = domain(domains, "product", "clinics", "en")
    index = index_of(embedder, reranker, "product", products)
    text = "шукаю стоматолога, болить зуб"
    found = index.best(embedder.encode([text])[0], text, "uk")
    assert found.profile_id == "dental-clinic"
    assert found.nearest and 0 < found.similarity <= 1
    lines = found.evidence()
    assert lines[0].startswith("match: score") and any(line.startswith("nearest: ") for line in lines)
    assert any(line.startswith("keywords: ") and "стоматолога" in line for line in lines)


def test_pasted_examples_teach_a_profile(embedder, reranker, domains):
    """A positive example post makes a post the profile's words miss match it; a negative example vetoes
    posts like it."""
    rental = next(p for p in domain(domains, "product", "realestate", "en-names") if p.id == "apartment-rental")
    others = [p for p in domain(domains, "product", "realestate", "en-names") if p.id != "apartment-rental"]
    text, lang = "Шукаю житло подобово в центрі Львова на вихідні", "uk"   # daily rental: not this business
    plain = index_of(embedder, reranker, "product", [rental, *others])
    negative = dataclasses.replace(rental, negative_examples=["зніму квартиру подобово на вихідні у Львові"])
    taught = index_of(embedder, reranker, "product", [negative, *others])
    candidates = {c.profile_id: c for c in taught.candidates(embedder.encode([text])[0], text, lang)}
    assert vetoed(candidates["apartment-rental"])
    assert "apartment-rental" not in {m.profile_id for m in taught.match(embedder.encode([text])[0], text, lang)}
    assert not vetoed({c.profile_id: c for c in plain.candidates(embedder.encode([text])[0], text, lang)}
                      ["apartment-rental"])


def test_a_catalogue_file_can_mix_variants_and_pick_domains(tmp_path):
    """The issue's own shape of catalogue: English products with keywords, English vacancies without."""
    out = tmp_path / "catalogue.json"
    assert main(["--variant", "en", "--vacancy-variant", "en-nokw", "--domain", "tech", "--domain", "office",
                 "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    shipped = {p.id for p in load_domains() if p.domain in ("tech", "office")}
    assert {p["id"] for p in data["products"] + data["vacancies"]} == shipped
    assert all(p.get("keywords") for p in data["products"])
    assert not any(v.get("keywords") for v in data["vacancies"])
    assert all(v["title"].isascii() for v in data["vacancies"])
