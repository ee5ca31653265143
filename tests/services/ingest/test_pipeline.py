from intentflow.settings import IngestSettings
from intentflow.v1 import ingest_pb2, post_pb2
from intentflow.wire import timestamp
from services.ingest.pipeline import IngestPipeline

NOW = 1_800_000_000.0


def post(**fields) -> post_pb2.Post:
    base = {"id": "1", "network": "vk", "author": "anna", "text": "Подскажите ноутбук для учёбы до 40к"}
    base.update(fields)
    return post_pb2.Post(**base)


def pipeline(**overrides) -> IngestPipeline:
    return IngestPipeline(IngestSettings(**overrides))


def test_accepts_normalises_and_detects_language():
    decision = pipeline().admit(post(text="  Шукаю\u200b роботу   курʼєром у Львові  "), NOW)
    assert decision.verdict == ingest_pb2.VERDICT_ACCEPTED
    assert decision.post.text == "Шукаю роботу курʼєром у Львові"
    assert decision.post.lang == "uk"
    assert decision.post.created_at.seconds == int(NOW)


def test_keeps_a_valid_language_and_created_at():
    decision = pipeline().admit(post(lang="en", created_at=timestamp(NOW - 60)), NOW)
    assert decision.post.lang == "en"
    assert decision.post.created_at.seconds == int(NOW - 60)


def test_rejects_missing_fields_with_reason():
    p = pipeline()
    assert "id" in p.admit(post(id=""), NOW).reason
    assert "network" in p.admit(post(network=" "), NOW).reason
    rejected = p.admit(post(text=" \u200b "), NOW)
    assert rejected.verdict == ingest_pb2.VERDICT_REJECTED and rejected.reason


def test_rejects_too_long_text():
    decision = pipeline(max_text_chars=50).admit(post(text="слово " * 20), NOW)
    assert decision.verdict == ingest_pb2.VERDICT_REJECTED
    assert "long" in decision.reason


def test_duplicate_by_id_and_by_text_within_window_only():
    p = pipeline(dedup_window_s=3600)
    assert p.admit(post(), NOW).verdict == ingest_pb2.VERDICT_ACCEPTED
    assert p.admit(post(), NOW + 1).verdict == ingest_pb2.VERDICT_DUPLICATE
    repost = p.admit(post(id="2", text="подскажите ноутбук для учёбы до 40к!!! 🔥"), NOW + 2)
    assert repost.verdict == ingest_pb2.VERDICT_DUPLICATE and "text" in repost.reason
    assert p.admit(post(id="3", network="telegram", text="Совсем другой текст про работу"), NOW + 3).verdict \
        == ingest_pb2.VERDICT_ACCEPTED
    assert p.admit(post(), NOW + 7200).verdict == ingest_pb2.VERDICT_ACCEPTED


def test_same_id_on_another_network_is_not_a_duplicate():
    p = pipeline()
    p.admit(post(), NOW)
    assert p.admit(post(network="telegram", text="Другой пост с тем же id"), NOW).verdict \
        == ingest_pb2.VERDICT_ACCEPTED


def test_comment_gets_its_parent_text():
    p = pipeline()
    p.admit(post(id="10", text="Ищу работу водителем, Киев, опыт 5 лет"), NOW)
    comment = p.admit(post(id="11", parent_id="10", text="+1, тоже ищу"), NOW)
    assert comment.post.parent_text == "Ищу работу водителем, Киев, опыт 5 лет"


def test_forgotten_posts_are_not_duplicates_on_retry():
    p = pipeline()
    first = p.admit(post(), NOW)
    p.forget([first])
    assert p.admit(post(), NOW + 1).verdict == ingest_pb2.VERDICT_ACCEPTED


def test_rollback_of_an_undelivered_stream_batch_lets_the_retry_through():
    from types import SimpleNamespace

    from intentflow.wire import encode
    from services.ingest.app import IngestHandler
    handler = IngestHandler(IngestSettings())
    records = [SimpleNamespace(topic="posts.raw", partition=0, offset=n, key=None, value=encode(post(id=str(n),
               text=f"Ищу работу водителем номер {n}"))) for n in range(3)]
    assert len(handler.process(records)) == 3
    assert handler.process(records) == []  # redelivered without rollback: duplicates
    handler.rollback(records)
    assert len(handler.process(records)) == 3


def test_a_post_is_normalised_once_for_validation_output_and_fingerprint(monkeypatch):
    import services.ingest.pipeline as pipeline_module
    calls = []
    real = pipeline_module.normalize_text
    monkeypatch.setattr(pipeline_module, "normalize_text", lambda text: calls.append(text) or real(text))
    raw = post_pb2.Post(network="vk", id="once", author="Аня", text="Ищу  работу\u200b кассиром")
    decision = IngestPipeline(IngestSettings()).admit(raw, now=1000.0)
    assert decision.post.text == "Ищу работу кассиром"
    assert sorted(calls) == sorted([raw.text, raw.author])   # the text once, the author once
    assert decision.seen_keys == IngestPipeline.seen_keys(raw)   # the same keys a rollback computes from the raw post
