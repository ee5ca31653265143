"""The benchmark corpus: unique posts (as ingest's dedup sees them) with the requested share of positives, from
the written corpora or from real chatter with written positives injected."""
import json

import pytest

from intentflow.text.normalize import fingerprint
from tools.bench import firststage
from tools.bench.corpus import (
    BACKGROUND,
    LOOKALIKE,
    NEUTRAL,
    POSITIVE,
    CorpusGenerator,
    Mix,
    SourceText,
    describe,
    load_real_stream,
    load_sources,
    real_mix,
    suffix,
)


@pytest.fixture(scope="module")
def sources():
    return load_sources()


def test_shipped_corpora_fill_every_pool(sources):
    pools = {s.pool for s in sources}
    assert pools == {POSITIVE, LOOKALIKE, NEUTRAL}
    assert len({fingerprint(s.text) for s in sources}) == len(sources)
    assert all(s.text.strip() for s in sources)  # ingest would reject an empty post to the DLQ


def test_generated_posts_are_unique_by_id_and_by_ingest_fingerprint(sources):
    generator = CorpusGenerator(sources, seed=1)
    posts = generator.take(3000) + generator.take(1000)  # later takes continue the stream
    assert len({p.key for p in posts}) == len(posts)
    assert len({fingerprint(p.text) for p in posts}) == len(posts)


def test_positive_share_is_as_requested(sources):
    posts = CorpusGenerator(sources, Mix(positive_share=0.04), seed=2).take(5000)
    assert sum(p.positive for p in posts) == 200
    negatives = [p for p in posts if not p.positive]
    assert sum(p.pool == LOOKALIKE for p in negatives) == round(len(negatives) * 0.5)


def test_generation_is_deterministic(sources):
    first = [p.text for p in CorpusGenerator(sources, seed=3).take(300)]
    assert first == [p.text for p in CorpusGenerator(sources, seed=3).take(300)]


def test_suffix_survives_the_fingerprint():
    assert suffix(0) == ""
    text = "нужен ноутбук для учебы"
    tails = {fingerprint(text + suffix(k)) for k in range(500)}
    assert len(tails) == 500


def test_post_json_is_a_proto3_post_with_parent_context():
    source = SourceText("+1, тоже ищу", ("job_seeking",), "job_seeking", "telegram", parent_text="Ищу работу")
    post = CorpusGenerator([source, SourceText("a", (), "neutral", "vk"), SourceText("b", (), "idiom", "vk")],
                           Mix(positive_share=1.0)).take(1)[0]
    row = json.loads(post.to_json(0.0))
    assert row["createdAt"] == "1970-01-01T00:00:00.000Z"
    assert row["parentText"] == "Ищу работу" and row["parentId"] and row["lang"] == ""
    assert post.key == f"telegram:{row['id']}"


@pytest.fixture(scope="module")
def real_stream():
    return load_real_stream()


def test_real_stream_is_real_chatter_of_three_languages_and_written_positives(real_stream):
    background = [s for s in real_stream if s.pool == BACKGROUND]
    positives = [s for s in real_stream if s.pool == POSITIVE]
    assert {s.lang for s in background} == {"ru", "uk", "en"}
    assert all(s.real and not s.labels for s in background)
    assert positives and all(s.labels and not s.real for s in positives)
    assert {label for s in positives for label in s.labels} == {"purchase_intent", "job_seeking", "employer_complaint"}
    assert len({fingerprint(s.text) for s in real_stream}) == len(real_stream)
    assert not {s.pool for s in real_stream} & {LOOKALIKE, NEUTRAL}


@pytest.mark.parametrize("prevalence", [200, 50])
def test_real_stream_injects_positives_at_the_stated_prevalence(real_stream, prevalence):
    generator = CorpusGenerator(real_stream, real_mix(prevalence), seed=4)
    posts = generator.take(4000) + generator.take(1000)
    assert sum(p.positive for p in posts) == 4000 // prevalence + 1000 // prevalence
    assert all(p.pool == BACKGROUND for p in posts if not p.positive)
    assert len({p.key for p in posts}) == len(posts)
    assert len({fingerprint(p.text) for p in posts}) == len(posts)
    described = describe(posts)
    assert set(described["langs"]) >= {"ru", "uk", "en"}
    assert described["positive_share"] == pytest.approx(1 / prevalence, abs=1e-3)


def test_real_mix_rejects_a_prevalence_below_one():
    with pytest.raises(ValueError):
        real_mix(0)


def test_first_stage_summary_on_a_stream():
    posts = CorpusGenerator([SourceText("ищу работу", ("job_seeking",), "job_seeking", "vk", lang="ru"),
                             SourceText("кот", (), "chatter", "vk", lang="ru", real=True),
                             SourceText("cat", (), "chatter", "sms", lang="en", real=True)],
                            real_mix(4), seed=5).take(400)
    passed = [p.positive or (p.lang == "en") for p in posts]
    summary = firststage.summarise(posts, passed)
    assert summary["positives"] == 100 and summary["positive_recall"] == 1.0
    en = sum(1 for p in posts if p.lang == "en")
    assert summary["pass_rate"] == round((100 + en) / 400, 4)
    assert summary["negatives_pass_rate_by_lang"] == {"en": 1.0, "ru": 0.0}
