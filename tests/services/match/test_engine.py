"""The match engine on the real encoder, spaCy pipelines and a SQLite store (no broker needed)."""
from __future__ import annotations

from types import SimpleNamespace

import pytest

from intentflow.nlp.linguistics import Linguistics
from intentflow.nlp.tokens import token_arrays
from intentflow.v1 import post_pb2, signals_pb2
from intentflow.wire import decode, timestamp
from services.match.engine import MatchEngine
from services.match.matching.catalog import load_catalog
from tests.services.match.conftest import new_app

NOW = 1_800_000_000.0


@pytest.fixture
def engine(tmp_path, embedder):
    app = new_app(tmp_path, embedder)
    app.import_catalog(load_catalog("data/profiles/catalog.json"))
    app.load()
    yield MatchEngine(app)
    app.store.close()


def classified(engine, post_id: str, text: str, signal: int, lang: str = "ru") -> SimpleNamespace:
    post = post_pb2.Post(id=post_id, network="vk", author=f"a-{post_id}", text=text, lang=lang,
                         created_at=timestamp(NOW))
    message = post_pb2.ClassifiedPost(
        post=post, embedding=engine.app.embedder.encode([text])[0].tolist(), embedding_model=engine.app.embedder.name,
        classifications=[post_pb2.Classification(signal=signal, probability=0.95, positive=True)])
    return SimpleNamespace(topic="posts.classified", partition=0, offset=0, key=b"k", value=message.SerializeToString())


def deliver(outputs):
    for output in outputs:
        if output.on_delivered:
            output.on_delivered()


def test_a_lead_is_published_once_however_often_its_post_is_redelivered(engine):
    record = classified(engine, "1", "Посоветуйте ноутбук для учебы до 50к, чтобы не тормозил",
                        post_pb2.SIGNAL_PURCHASE_INTENT)
    outputs = engine.process([record])
    assert {o.topic for o in outputs} == {"leads.sales"}
    leads = [decode(o.value, signals_pb2.Lead()) for o in outputs]
    assert leads[0].product_id == "laptops" and outputs[0].key.decode() == leads[0].lead_id
    assert [lead.match_score for lead in leads] == sorted((lead.match_score for lead in leads), reverse=True)
    assert engine.process([record]) != [], "not yet acknowledged by the broker: publish again"
    deliver(engine.process([record]))
    assert engine.process([record]) == []


def test_a_post_twice_in_one_batch_publishes_its_lead_once(engine):
    """A post redelivered into the batch that holds its first copy (an upstream stage retried a batch the broker
    had stored) is one lead, sent once: the store's claim is this process's for both copies."""
    record = classified(engine, "5", "Посоветуйте ноутбук для учебы до 50к, чтобы не тормозил",
                        post_pb2.SIGNAL_PURCHASE_INTENT)
    keys = [o.key for o in engine.process([record, record])]
    assert keys and len(keys) == len(set(keys))


def test_undecodable_records_go_to_the_dead_letter_topic_and_the_rest_is_processed(engine):
    good = classified(engine, "2", "Шукаю роботу кур'єром у Києві, є свій велосипед", post_pb2.SIGNAL_JOB_SEEKING,
                      "uk")
    bad = SimpleNamespace(topic="posts.classified", partition=0, offset=1, key=b"x", value=b"\xff\xff garbage")
    outputs = engine.process([bad, good])
    assert outputs[0].topic == "posts.dlq" and dict(outputs[0].headers)["reason"].startswith(b"invalid")
    hr = decode(outputs[1].value, signals_pb2.HrSignal())
    assert hr.candidate.vacancy_id == "courier"
    assert engine.app.candidates.size == 1


def test_complaints_name_the_watchlist_employer_once(engine):
    record = classified(engine, "3", "В Мегамарте третий месяц задерживают зарплату, начальник орет",
                        post_pb2.SIGNAL_EMPLOYER_COMPLAINT)
    outputs = engine.process([record])
    assert decode(outputs[0].value, signals_pb2.HrSignal()).complaint.employer_id == "emp-megamart"
    again = engine.process([record])
    assert [o.key for o in again] == [outputs[0].key], "not yet acknowledged by the broker: publish again"
    deliver(again)
    assert engine.process([record]) == []


def test_posts_without_a_positive_signal_are_ignored(engine):
    record = classified(engine, "4", "Продам ноутбук, почти новый", post_pb2.SIGNAL_PURCHASE_INTENT)
    message = post_pb2.ClassifiedPost.FromString(record.value)
    message.classifications[0].positive = False
    record.value = message.SerializeToString()
    assert engine.process([record]) == []


class CountingLinguistics:
    """Linguistics that counts how often a text is tokenised and lemmatised."""

    def __init__(self, linguistics: Linguistics):
        self._linguistics = linguistics
        self.calls = 0

    def doc(self, text, lang):
        self.calls += 1
        return self._linguistics.doc(text, lang)

    def docs(self, texts, langs, batch_size=256):
        texts = list(texts)
        self.calls += len(texts)
        return self._linguistics.docs(texts, langs, batch_size)

    def nlp(self, lang):
        return self._linguistics.nlp(lang)


def with_tokens(record: SimpleNamespace, post_id: str, pipeline: str, text: str | None = None) -> SimpleNamespace:
    """The record under another post id, carrying the tokens classify's pipeline makes of `text`."""
    message = post_pb2.ClassifiedPost.FromString(record.value)
    message.post.id = post_id
    tokens = token_arrays(Linguistics().doc(message.post.text if text is None else text, pipeline), pipeline)
    message.tokens.CopyFrom(post_pb2.PostTokens(pipeline=tokens.pipeline, starts=tokens.starts, ends=tokens.ends,
                                                lemmas=tokens.lemmas))
    return SimpleNamespace(**{**vars(record), "value": message.SerializeToString()})


def outcome(outputs) -> list[tuple]:
    """What the outputs say about the post, apart from its id."""
    found = []
    for output in outputs:
        if output.topic == "leads.sales":
            lead = decode(output.value, signals_pb2.Lead())
            found.append(("lead", lead.product_id, lead.match_score, lead.priority, tuple(lead.evidence)))
        else:
            hr = decode(output.value, signals_pb2.HrSignal())
            which = hr.WhichOneof("signal")
            if which == "alert":   # depends on how many complaints came before, not on this post
                continue
            item = getattr(hr, which)
            found.append((which, getattr(item, "vacancy_id", ""), getattr(item, "employer_id", ""),
                          getattr(item, "match_score", 0.0), tuple(item.evidence)))
    return found


@pytest.mark.parametrize(("text", "signal", "lang"), [
    ("Посоветуйте робот-пылесос для квартиры с котами, шерсть везде", post_pb2.SIGNAL_PURCHASE_INTENT, "ru"),
    ("Шукаю роботу кур'єром у Києві, є свій велосипед", post_pb2.SIGNAL_JOB_SEEKING, "uk"),
    ("В Мегамарте третий месяц задерживают зарплату, начальник орет", post_pb2.SIGNAL_EMPLOYER_COMPLAINT, "ru"),
    ("Any good CRM for a small sales team? Need something cheap", post_pb2.SIGNAL_PURCHASE_INTENT, "en"),
])
def test_classifys_tokens_spare_the_lemmatiser_and_change_nothing(engine, monkeypatch, text, signal, lang):
    counting = CountingLinguistics(engine.app.linguistics)
    monkeypatch.setattr(engine.app, "linguistics", counting)
    plain = classified(engine, "t1", text, signal, lang)
    expected = outcome(engine.process([plain]))
    assert expected and counting.calls == 1, "without tokens match lemmatises the post once"
    counting.calls = 0
    assert outcome(engine.process([with_tokens(plain, "t2", lang)])) == expected
    assert counting.calls == 0, "the post arrived lemmatised: no second lemmatisation"


def test_tokens_that_do_not_fit_the_post_are_ignored(engine, monkeypatch):
    counting = CountingLinguistics(engine.app.linguistics)
    monkeypatch.setattr(engine.app, "linguistics", counting)
    plain = classified(engine, "f1", "Посоветуйте ноутбук для учебы до 50к", post_pb2.SIGNAL_PURCHASE_INTENT)
    expected = outcome(engine.process([plain]))
    for n, record in enumerate([with_tokens(plain, "f2", "uk"),                       # another pipeline
                                with_tokens(plain, "f3", "ru", "Посоветуйте хороший планшет для учебы")]):
        counting.calls = 0
        assert outcome(engine.process([record])) == expected, n
        assert counting.calls == 1, n


def test_the_e5_vector_classify_sent_is_used_and_the_post_is_not_embedded_again(engine, monkeypatch):
    text = "Посоветуйте ноутбук для учебы до 50к, чтобы не тормозил"
    reranker = engine.app.products.reranker
    record = classified(engine, "6", text, post_pb2.SIGNAL_PURCHASE_INTENT)
    sent = post_pb2.ClassifiedPost.FromString(record.value)
    sent.second_embedding.extend(reranker.query([text])[0].tolist())
    sent.second_embedding_model = reranker.name
    queried: list[str] = []
    real_query = reranker.query
    monkeypatch.setattr(reranker, "query", lambda texts: queried.extend(texts) or real_query(texts))

    leads = [decode(o.value, signals_pb2.Lead()) for o in engine.process([SimpleNamespace(
        **{**vars(record), "value": sent.SerializeToString()})])]
    assert leads[0].product_id == "laptops" and queried == []

    sent.post.id, sent.second_embedding_model = "7", "another-model"   # not the re-ranker's: encode again
    engine.process([SimpleNamespace(**{**vars(record), "value": sent.SerializeToString()})])
    assert queried == [text]
