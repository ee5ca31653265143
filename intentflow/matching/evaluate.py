"""`intentflow eval match`: top-1 accuracy of product and vacancy matching on labelled posts."""
from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from intentflow.matching.profiles import ProfileIndex


@dataclass
class MatchCase:
    text: str
    lang: str
    kind: str          # "product" | "vacancy"
    gold: str | None


def load_cases(path: str) -> list[MatchCase]:
    cases = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: not valid JSON: {exc}") from None
            labels = row.get("labels") or []
            if "purchase_intent" in labels and "product" in row:
                cases.append(MatchCase(row["text"], row.get("lang") or "", "product", row["product"]))
            if "job_seeking" in labels and "vacancy" in row:
                cases.append(MatchCase(row["text"], row.get("lang") or "", "vacancy", row["vacancy"]))
    return cases


def top1_correct(index: ProfileIndex, case: MatchCase, embedding: np.ndarray) -> bool:
    best = index.best(embedding, case.text, case.lang)
    return (best.profile_id if best else None) == case.gold


def print_accuracy(correct: dict[str, list[bool]], out: TextIO) -> float:
    for kind in ("product", "vacancy"):
        values = correct.get(kind, [])
        accuracy = sum(values) / len(values) if values else 0.0
        print(f"{kind}_top1={accuracy:.3f} n={len(values)}", file=out)
    everything = [v for values in correct.values() for v in values]
    overall = sum(everything) / len(everything) if everything else 0.0
    print(f"match_top1={overall:.3f}", file=out)
    return overall
