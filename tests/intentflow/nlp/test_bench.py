"""The benchmark script runs end to end (it measures speed; tests do not)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tools.nlp_bench import load_posts, run


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    rows = [{"text": f"{lang} post {i}", "lang": lang} for lang in ("ru", "uk", "en", "de") for i in range(3)]
    (tmp_path / "train.jsonl").write_text("\n".join(json.dumps(r) for r in rows) + "\n", "utf-8")
    return tmp_path


def test_load_posts_interleaves_pipeline_languages(corpus: Path) -> None:
    posts = load_posts(corpus, 7)
    assert [lang for _, lang in posts] == ["ru", "uk", "en", "ru", "uk", "en", "ru"]
    assert all(text.startswith(lang) for text, lang in posts)


def test_run_prints_throughput_for_every_stage(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    run(load_posts(corpus, 9))
    out = capsys.readouterr().out
    for stage in ("detect_language", "docs(), cold lemma cache", "docs(), cached", "lemma cache ru"):
        assert stage in out
