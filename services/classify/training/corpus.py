"""Labelled JSONL files: {"text", "lang"?, "labels": [...], "kind"?, "parent_text"?}; other fields ignored."""
from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from intentflow.signals import SIGNALS
from services.classify.classifier.features import ClassifyInput


@dataclass(frozen=True)
class Example:
    text: str
    labels: frozenset[str]
    lang: str = ""
    kind: str = ""
    parent_text: str = ""
    extra: dict = field(default_factory=dict, compare=False, hash=False)

    def as_input(self) -> ClassifyInput:
        return ClassifyInput(self.text, self.lang, self.parent_text)


def source_name(example: Example, path: str | Path) -> str:
    """The public source (or corpus file) a row comes from, as figures name it."""
    return example.extra.get("source") or Path(path).stem


def holdout_group(example: Example, path: str | Path) -> str:
    """The unit held out together: files drawn from one underlying dataset (field `corpus`, e.g. tg-spam
    chatter and tg-spam hand-labelled signals) share it, so no held-out figure sees that dataset's voice."""
    return example.extra.get("corpus") or source_name(example, path)


class CorpusError(ValueError):
    pass


def load_examples(paths: Iterable[str | Path]) -> list[Example]:
    examples: list[Example] = []
    for path in paths:
        with open(path, encoding="utf-8") as fh:
            for lineno, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise CorpusError(f"{path}:{lineno}: not valid JSON: {exc}") from None
                examples.append(_example(row, f"{path}:{lineno}"))
    return examples


def _example(row: dict, where: str) -> Example:
    text = row.get("text")
    if not isinstance(text, str) or not text.strip():
        raise CorpusError(f"{where}: missing or empty \"text\"")
    labels = row.get("labels") or []
    unknown = set(labels) - set(SIGNALS)
    if unknown:
        raise CorpusError(f"{where}: unknown labels {sorted(unknown)}; allowed: {list(SIGNALS)}")
    return Example(text=text, labels=frozenset(labels), lang=row.get("lang") or "", kind=row.get("kind") or "",
                   parent_text=row.get("parent_text") or "", extra=row)
