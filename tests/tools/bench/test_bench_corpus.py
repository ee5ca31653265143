"""The benchmark corpus: unique posts (as ingest's dedup sees them) with the requested share of positives."""
import json

import pytest

from intentflow.text.normalize import fingerprint
from tools.bench.corpus import (
    LOOKALIKE,
    NEUTRAL,
    POSITIVE,
    CorpusGenerator,
    Mix,
    SourceText,
    load_sources,
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
