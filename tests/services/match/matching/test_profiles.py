"""ProfileIndex on the shipped catalogue with the real USE encoder and spaCy pipelines."""
from __future__ import annotations

import dataclasses

import faiss
import pytest

from intentflow.e5 import load_e5
from intentflow.embedding import USE_MULTILINGUAL, load_embedder
from intentflow.nlp.linguistics import Linguistics
from services.match.matching import profiles as profiles_module
from services.match.matching.catalog import load_catalog
from services.match.matching.phrases import pipeline_language
from services.match.matching.profiles import (
    ProfileIndex,
    encode_texts,
    profile_indexes,
    profile_views,
)
from services.match.matching.scorer import Candidate, load_scorers
from services.match.store.models import Product, Vacancy
from services.match.training.evaluate import evaluate_cases, load_cases
from tests.services.match.matching.posts import (
    CLEAR_PRODUCT_POSTS,
    CLEAR_VACANCY_POSTS,
    OFF_CATALOGUE_PRODUCT_POSTS,
    OFF_CATALOGUE_VACANCY_POSTS,
)

SHIPPED = "data/profiles/catalog.json"

QUALITY_FLOOR = 0.80
SCORERS = load_scorers()
PRODUCT_SCORER = SCORERS["product"]


class CountingEmbedder:
    """The real embedder, remembering every text it was asked to encode."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self.texts: list[str] = []

    def encode(self, texts):
        self.texts.extend(texts)
        return self.inner.encode(texts)


@pytest.fixture(scope="module")
def embedder():
    return load_embedder(USE_MULTILINGUAL, 2)


@pytest.fixture(scope="module")
def linguistics():
    return Linguistics()


@pytest.fixture(scope="module")
def reranker():
    return load_e5(2)


@pytest.fixture(scope="module")
def catalog():
    return load_catalog(SHIPPED)


@pytest.fixture(scope="module")
def products(embedder, linguistics, catalog, reranker):
    index = profile_indexes(embedder, linguistics, reranker=reranker)["product"]
    index.replace_all(catalog.products)
    return index


@pytest.fixture(scope="module")
def vacancies(embedder, linguistics, catalog, reranker):
    index = profile_indexes(embedder, linguistics, reranker=reranker)["vacancy"]
    index.replace_all(catalog.vacancies)
    return index


def match(index, embedder, text, lang):
    return index.match(embedder.encode([text])[0], text, lang)


def by_id(catalog, profile_id):
    return next(p for p in catalog.products + catalog.vacancies if p.id == profile_id)


def cases(posts):
    return [(pid, lang, text) for pid, by_lang in posts.items() for lang, text in by_lang.items()]


@pytest.mark.parametrize("gold, lang, text", cases(CLEAR_PRODUCT_POSTS))
def test_clear_product_post_matches_its_product(products, embedder, gold, lang, text):
    matches = match(products, embedder, text, lang)
    assert matches and matches[0].profile_id == gold, [(m.profile_id, m.score) for m in matches]


@pytest.mark.parametrize("gold, lang, text", cases(CLEAR_VACANCY_POSTS))
def test_clear_job_post_matches_its_vacancy(vacancies, embedder, gold, lang, text):
    matches = match(vacancies, embedder, text, lang)
    assert matches and matches[0].profile_id == gold, [(m.profile_id, m.score) for m in matches]


def test_every_catalogue_profile_has_clear_posts_in_three_languages(catalog):
    assert set(CLEAR_PRODUCT_POSTS) == {p.id for p in catalog.products}
    assert set(CLEAR_VACANCY_POSTS) == {v.id for v in catalog.vacancies}
    for by_lang in [*CLEAR_PRODUCT_POSTS.values(), *CLEAR_VACANCY_POSTS.values()]:
        assert set(by_lang) == {"ru", "uk", "en"}


@pytest.mark.parametrize("lang, text", OFF_CATALOGUE_PRODUCT_POSTS)
def test_product_not_in_catalogue_matches_nothing(products, embedder, lang, text):
    assert match(products, embedder, text, lang) == []


# Known abstention misses (issue #14). The welder passes the vacancy threshold for warehouse-worker via its
# view "Водитель погрузчика ... на складе" (0.43). Since the threshold rule weighs off-catalogue posts as one
# in five (services/match/training/train.py, NULL_SHARE) the vacancy threshold is 0.16 instead of 0.41, which
# matches many more in-catalogue posts against catalogues written unlike ours (README, Matching), and lets
# these through as well: the cook (warehouse-worker 0.17) and both nurses (accountant 0.32 and 0.20).
KNOWN_ABSTENTION_MISSES = {"Сварщик с опытом ищет работу на стройке", "Ищу работу поваром в кафе, опыт 5 лет",
                           "Медсестра шукає роботу в приватній клініці", "Registered nurse looking for a hospital job"}


@pytest.mark.parametrize("lang, text", [
    pytest.param(lang, text, marks=pytest.mark.xfail(reason="known abstention miss, see README", strict=False))
    if text in KNOWN_ABSTENTION_MISSES else (lang, text) for lang, text in OFF_CATALOGUE_VACANCY_POSTS])
def test_job_not_in_catalogue_matches_nothing(vacancies, embedder, lang, text):
    assert match(vacancies, embedder, text, lang) == []


@pytest.mark.parametrize("lang, wanted, excluded", [
    ("uk", "Шукаю новий айфон 15, порадьте де купити", "Шукаю чохол на айфон 15, порадьте де купити"),
    ("ru", "Нужен новый телефон, посоветуйте", "Нужно защитное стекло на телефон, посоветуйте"),
    ("en", "Looking for a new phone, any recommendations?", "Looking for a phone case, any recommendations?"),
])
def test_excluded_keyword_vetoes_the_profile(products, embedder, lang, wanted, excluded):
    assert "smartphones" in {m.profile_id for m in match(products, embedder, wanted, lang)}
    assert "smartphones" not in {m.profile_id for m in match(products, embedder, excluded, lang)}


def test_matches_carry_scores_and_keywords_best_first(products, embedder):
    text, lang = "Посоветуйте ноутбук для учебы, бюджет до 50 тысяч", "ru"
    matches = match(products, embedder, text, lang)
    assert [m.score for m in matches] == sorted((m.score for m in matches), reverse=True)
    top = matches[0]
    assert top.profile_id == "laptops" and "ноутбук" in top.keywords
    assert all(products.default_min_score <= m.score <= 1 for m in matches)
    candidates = products.candidates(embedder.encode([text])[0], text, lang)
    by_id_ = {c.profile_id: c for c in candidates}
    assert by_id_["laptops"].places == 1 and by_id_["laptops"].cosines[0] == pytest.approx(top.cosine, abs=1e-3)
    assert top.score == pytest.approx(float(PRODUCT_SCORER.scores(candidates)[list(by_id_).index("laptops")]),
                                      abs=1e-3)


def test_a_keyword_raises_the_score_and_another_profiles_keyword_lowers_it():
    plain = [Candidate("a", (0.40, 0.35)), Candidate("b", (0.30, 0.25)), Candidate("c", (0.20, 0.20))]
    keyword_a = [Candidate("a", (0.40, 0.35), 1, ("kw",)), *plain[1:]]
    keyword_b = [plain[0], Candidate("b", (0.30, 0.25), 1, ("kw",)), plain[2]]
    for scorer in SCORERS.values():
        assert scorer.scores(keyword_a)[0] > scorer.scores(plain)[0] > scorer.scores(keyword_b)[0]
        closer = [Candidate("a", (0.50, 0.45)), *plain[1:]]
        assert scorer.scores(closer)[0] > scorer.scores(plain)[0]


def test_a_second_keyword_place_breaks_a_tie_between_keyword_profiles(vacancies, embedder):
    # python-dev lists the generic "розробник"; frontend-dev has two separate keywords here.
    matches = match(vacancies, embedder, "Фронтенд-розробник на React шукає роботу, віддалено", "uk")
    assert matches[0].profile_id == "frontend-dev"


def test_upsert_and_delete_change_the_index_without_reencoding_the_rest(embedder, linguistics, catalog, reranker):
    counting = CountingEmbedder(embedder)
    index = ProfileIndex(counting, linguistics, PRODUCT_SCORER, reranker=reranker)
    index.replace_all(catalog.products)
    assert len(index) == len(catalog.products)
    assert index._index.ntotal == sum(len(profile_views(p)) for p in catalog.products)
    post, lang = "Порадьте електросамокат, щоб їздити на роботу, до 20 тисяч", "uk"
    assert "e-scooters" not in {m.profile_id for m in match(index, embedder, post, lang)}

    scooters = Product(id="e-scooters", name="Electric scooters",
                       description="Electric scooters for the city (электросамокаты; електросамокати).",
                       keywords=["електросамокат", "электросамокат", "e-scooter"])
    counting.texts.clear()
    index.upsert(scooters)
    assert sorted(counting.texts) == sorted(profile_views(scooters))   # only the new profile was embedded
    assert len(index) == len(catalog.products) + 1
    best = index.best(embedder.encode([post])[0], post, lang)
    assert best.profile_id == "e-scooters" and best.keywords == ("електросамокат",)

    # Changing a profile replaces its rows and keywords: the old keyword no longer counts.
    counting.texts.clear()
    renamed = dataclasses.replace(scooters, keywords=["гироскутер"])
    index.upsert(renamed)
    assert sorted(counting.texts) == sorted(profile_views(renamed))
    assert index._index.ntotal == sum(len(profile_views(p)) for p in [*catalog.products, renamed])
    again = {m.profile_id: m for m in match(index, embedder, post, lang)}
    assert "e-scooters" not in again or again["e-scooters"].keywords == ()

    counting.texts.clear()
    index.delete("e-scooters")
    assert counting.texts == []
    assert len(index) == len(catalog.products)
    assert "e-scooters" not in {m.profile_id for m in match(index, embedder, post, lang)}
    assert index._index.ntotal == sum(len(profile_views(p)) for p in catalog.products)
    # the others are untouched
    assert match(index, embedder, "Посоветуйте ноутбук для учебы", "ru")[0].profile_id == "laptops"


def test_profile_min_score_overrides_the_default(embedder, linguistics, catalog, reranker):
    laptops = by_id(catalog, "laptops")
    post, lang = "Посоветуйте ноутбук для учебы, бюджет до 50 тысяч", "ru"
    pair = [laptops, by_id(catalog, "smartphones")]
    plain = ProfileIndex(embedder, linguistics, PRODUCT_SCORER, reranker=reranker)
    plain.replace_all(pair)
    score = match(plain, embedder, post, lang)[0].score
    strict = ProfileIndex(embedder, linguistics, PRODUCT_SCORER, reranker=reranker)
    strict.replace_all([dataclasses.replace(laptops, min_score=score + 1e-3), pair[1]])
    assert "laptops" not in {m.profile_id for m in match(strict, embedder, post, lang)}

    lenient = ProfileIndex(embedder, linguistics, PRODUCT_SCORER, score + 1e-3,   # a default nothing reaches
                           reranker=reranker)
    lenient.replace_all([dataclasses.replace(laptops, min_score=score - 1e-3), pair[1]])
    assert [m.profile_id for m in match(lenient, embedder, post, lang)] == ["laptops"]


def test_language_filter_is_honoured(embedder, linguistics, catalog, reranker):
    index = ProfileIndex(embedder, linguistics, PRODUCT_SCORER, reranker=reranker)
    index.replace_all([dataclasses.replace(by_id(catalog, "laptops"), languages=["uk"]), by_id(catalog, "smartphones")])
    posts = CLEAR_PRODUCT_POSTS["laptops"]
    assert index.best(embedder.encode([posts["uk"]])[0], posts["uk"], "uk").profile_id == "laptops"
    for lang in ("ru", "en"):
        assert "laptops" not in {m.profile_id for m in match(index, embedder, posts[lang], lang)}


def test_vacancies_match_without_languages_field(vacancies, embedder):
    # Vacancy has neither languages nor min_score nor excluded keywords: the defaults apply.
    assert not hasattr(Vacancy(id="v", title="t"), "languages")
    assert match(vacancies, embedder, "Ищу работу курьером, есть велосипед", "ru")[0].profile_id == "courier"


def test_a_keyword_profile_is_a_candidate_even_when_its_views_are_not_fetched(products, embedder, monkeypatch):
    text, lang = "Посоветуйте ноутбук для учебы", "ru"
    vector = embedder.encode([text])[0]
    monkeypatch.setattr(profiles_module, "SEARCH_K", 1)
    candidates = {c.profile_id: c for c in products.candidates(vector, text, lang)}
    laptops = candidates["laptops"]
    assert laptops.places == 1 and len(laptops.cosines) == 2, "scored from its own views, best two"
    assert laptops.cosines[0] >= laptops.cosines[1]


def test_empty_index_matches_nothing(embedder, linguistics):
    index = ProfileIndex(embedder, linguistics, PRODUCT_SCORER)
    vector = embedder.encode(["Посоветуйте ноутбук"])[0]
    assert len(index) == 0 and index.match(vector, "Посоветуйте ноутбук", "ru") == []
    assert index.best(vector, "Посоветуйте ноутбук", "ru") is None


def test_profile_views_are_name_keywords_description_its_sentences_and_each_keyword():
    product = Product(id="p", name="Laptops", keywords=["ноутбук", "Ноутбук", " laptop ", ""],
                      description="Laptops for work (ноутбуки; ноутбуки для роботи). We deliver.\n"
                                  "Ноутбук для учёбы и игр! Ноутбук для учёбы и игр!")
    assert profile_views(product) == [
        "Laptops", "Laptops: ноутбук, Ноутбук, laptop",
        "Laptops. Laptops for work (ноутбуки; ноутбуки для роботи). We deliver.\n"
        "Ноутбук для учёбы и игр! Ноутбук для учёбы и игр!",
        "Laptops for work (ноутбуки; ноутбуки для роботи).", "Ноутбук для учёбы и игр!",
        "ноутбук", "laptop"]
    one_sentence = Product(id="o", name="Laptops", description="Laptops for work and study.")
    assert profile_views(one_sentence) == ["Laptops", "Laptops. Laptops for work and study."]
    assert profile_views(Vacancy(id="v", title="Courier")) == ["Courier"]
    many = Product(id="m", name="Many", keywords=[f"keyword {n}" for n in range(500)])
    assert len(profile_views(many)) == profiles_module.MAX_VIEWS


def test_match_neither_encodes_nor_lemmatises_a_post_it_is_given_encoded_and_lemmatised(
        products, embedder, linguistics, reranker, monkeypatch):
    # What keeps match() cheap (its speed is measured by `make bench`, not here): with the post's vector,
    # its Doc and its e5 query given, no encoder and no lemmatiser runs for the post.
    posts = [(lang, text) for by_lang in CLEAR_PRODUCT_POSTS.values() for lang, text in by_lang.items()]
    vectors = embedder.encode([text for _, text in posts])
    queries = reranker.query([text for _, text in posts])
    docs = [linguistics.doc(text, pipeline_language(lang)) for lang, text in posts]
    products.match(vectors[0], posts[0][1], posts[0][0], doc=docs[0], rerank_vector=queries[0])  # views embedded
    calls: list[str] = []

    def refuse(name):
        return lambda *args, **kwargs: calls.append(name)

    monkeypatch.setattr(embedder, "encode", refuse("encode"))
    monkeypatch.setattr(reranker, "query", refuse("query"))
    monkeypatch.setattr(linguistics, "doc", refuse("doc"))
    monkeypatch.setattr(linguistics, "docs", refuse("docs"))
    for (lang, text), vector, doc, query in zip(posts, vectors, docs, queries):
        assert products.match(vector, text, lang, doc=doc, rerank_vector=query)
    assert calls == []


def test_quality_on_the_labelled_file_does_not_regress(products, vacancies, embedder):
    """data/match/dev.jsonl (never used for fitting) with the shipped scorer and catalogue: see the README
    for the current figure; a drop below this floor is a regression."""
    all_cases = load_cases("data/match/dev.jsonl")
    vectors = encode_texts(embedder, [c.text for c in all_cases])
    correct = evaluate_cases({"product": products, "vacancy": vacancies}, all_cases, vectors)
    values = [v for vs in correct.values() for v in vs]
    assert sum(values) / len(values) >= QUALITY_FLOOR, sum(values) / len(values)


def test_match_leaves_this_threads_faiss_setting_alone(products, embedder):
    before = faiss.omp_get_max_threads()
    match(products, embedder, "Посоветуйте ноутбук для учебы", "ru")
    assert faiss.omp_get_max_threads() == before
