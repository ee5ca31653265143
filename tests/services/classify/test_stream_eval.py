"""`intentflow eval stream` (services/classify/training/stream_eval.py) on small real files with the real encoder
and classifier: each chatter source is scored by a gate that trained on neither that source nor any file of the
same underlying dataset (`corpus`), injected positives are of the stream's language and from other datasets, and
the queue dump holds exactly the queue items the figures count."""
from __future__ import annotations

import io
import json
from collections import Counter
from pathlib import Path

from intentflow.signals import SIGNALS
from services.classify.training import stream_eval

REAL = Path(__file__).resolve().parents[3] / "data" / "real"


def _rows(path: Path, n: int, want_labels: bool | None = None) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    if want_labels is not None:
        rows = [r for r in rows if bool(r.get("labels")) == want_labels]
    return rows[:n]


def _write(path: Path, rows: list[dict], **fields) -> str:
    path.write_text("".join(json.dumps({**r, **fields}, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
    return str(path)


def test_each_source_is_scored_by_a_gate_that_never_saw_its_dataset(classifier, small_corpus_file, tmp_path,
                                                                   monkeypatch):
    # ru_chat and ru_signals share a dataset (as tg-spam chatter and tg-spam signals do): held out together
    ru_chat = _write(tmp_path / "ru_chat.jsonl", _rows(REAL / "chatter" / "ru_vk_comments.jsonl", 60),
                     source="ru_chat", corpus="shared")
    en_chat = _write(tmp_path / "en_chat.jsonl", _rows(REAL / "chatter" / "en_davidson_tweets.jsonl", 60),
                     source="en_chat")
    ru_signals = _write(tmp_path / "ru_signals.jsonl",
                        _rows(REAL / "signals" / "ru_forum_otvet2ch_nc.jsonl", 20, want_labels=True),
                        source="ru_signals", corpus="shared")
    ru_other = _write(tmp_path / "ru_other.jsonl",
                      _rows(REAL / "signals" / "ru_telegram_tgspam.jsonl", 10, want_labels=True), source="ru_other")
    en_signals = _write(tmp_path / "en_signals.jsonl",
                        _rows(REAL / "signals" / "en_reddit_antiwork.jsonl", 20, want_labels=True),
                        source="en_signals")
    trained_on: list[set[str]] = []
    real_train_gate = stream_eval.train_gate

    def recording_train_gate(builder, rows, base_positive_of, feats=None, second_encoder=None):
        trained_on.append(set(rows.sources))
        return real_train_gate(builder, rows, base_positive_of, feats=feats, second_encoder=second_encoder)

    monkeypatch.setattr(stream_eval, "train_gate", recording_train_gate)
    chatter, signals = [en_chat, ru_chat], [ru_signals, ru_other, en_signals]
    out, dump = io.StringIO(), io.StringIO()
    report = stream_eval.evaluate_stream(classifier, [str(small_corpus_file)], chatter + signals, chatter, signals,
                                         prevalence=20, out=out, queue_dump=dump)

    assert list(report["sources"]) == ["en_chat", "ru_chat"] and len(trained_on) == 2
    en_gate, ru_gate = trained_on
    assert "en_chat" not in en_gate and "en_signals" not in en_gate  # its injected positives' source too
    assert {"shared", "ru_other"}.isdisjoint(ru_gate) and "ru_chat" not in ru_gate
    assert "shared" in en_gate and "train_small" in ru_gate  # everything else is trained on

    items = [json.loads(line) for line in dump.getvalue().splitlines()]
    counted = Counter((item["stream"], item["signal"]) for item in items)
    for stream, figures in report["sources"].items():
        for signal in SIGNALS:
            assert counted[(stream, signal)] == figures[f"{signal}/gate"]["queue"]
    injected = [item for item in items if item["injected"]]
    assert all(item["labelled"] for item in injected)
    assert {item["source"] for item in injected if item["stream"] == "en_chat"} <= {"en_signals"}
    assert {item["source"] for item in injected if item["stream"] == "ru_chat"} <= {"ru_other"}
    assert "| all ru |" in out.getvalue() and "| all en |" in out.getvalue()
    e5 = report["e5_view"]
    assert list(e5) == ["en_chat", "ru_chat", "all"] and e5["all"]["chatter"] == 120
    assert all(0 <= row["embedded"] <= row["flagged"] <= row["chatter"] for row in e5.values())
    assert "flagged by the classifier" in out.getvalue()
