"""`intentflow eval classify`: precision/recall/F1 per class and per language, look-alike confusion, reliability."""
from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from intentflow.signals import SIGNALS
from services.classify.training.corpus import Example

RELIABILITY_BINS = 10


@dataclass
class Scores:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def support(self) -> int:
        return self.tp + self.fn

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0

    @property
    def recall(self) -> float:
        return self.tp / self.support if self.support else 0.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0

    def add(self, gold: bool, predicted: bool) -> None:
        self.tp += gold and predicted
        self.fp += predicted and not gold
        self.fn += gold and not predicted

    def line(self, name: str) -> str:
        return (f"{name} precision={self.precision:.3f} recall={self.recall:.3f} f1={self.f1:.3f} "
                f"support={self.support}")


@dataclass
class Evaluation:
    overall: dict[str, Scores]
    by_lang: dict[str, dict[str, Scores]]
    confusion: dict[str, dict[str, int]]   # look-alike kind -> signal -> false positives
    kind_counts: dict[str, int]

    @property
    def macro_f1(self) -> float:
        return float(np.mean([self.overall[s].f1 for s in SIGNALS]))


def evaluate(examples: list[Example], predictions: list[set[str]], langs: list[str]) -> Evaluation:
    overall = {s: Scores() for s in SIGNALS}
    by_lang: dict[str, dict[str, Scores]] = defaultdict(lambda: {s: Scores() for s in SIGNALS})
    confusion: dict[str, dict[str, int]] = defaultdict(lambda: {s: 0 for s in SIGNALS})
    kind_counts: dict[str, int] = defaultdict(int)
    for example, predicted, lang in zip(examples, predictions, langs):
        for signal in SIGNALS:
            gold = signal in example.labels
            overall[signal].add(gold, signal in predicted)
            by_lang[lang][signal].add(gold, signal in predicted)
        if example.kind and not example.labels:
            kind_counts[example.kind] += 1
            for signal in predicted:
                confusion[example.kind][signal] += 1
    return Evaluation(overall, dict(by_lang), dict(confusion), dict(kind_counts))


def print_evaluation(ev: Evaluation, out: TextIO, confusion: bool = False) -> None:
    if confusion:
        print("# false positives per look-alike kind (share of that kind flagged as each class)", file=out)
        for kind in sorted(ev.kind_counts):
            n = ev.kind_counts[kind]
            rates = " ".join(f"{s}={ev.confusion.get(kind, {}).get(s, 0) / n:.3f}" for s in SIGNALS)
            print(f"# {kind} n={n} {rates}", file=out)
    for signal in SIGNALS:
        print(ev.overall[signal].line(signal), file=out)
    for lang in sorted(ev.by_lang):
        for signal in SIGNALS:
            print(ev.by_lang[lang][signal].line(f"{signal}[{lang}]"), file=out)
    print(f"macro_f1={ev.macro_f1:.3f}", file=out)


def reliability(probabilities: np.ndarray, gold: np.ndarray) -> tuple[list[tuple[float, float, int]], float]:
    """Per-bin (mean predicted, observed rate, count) and the expected calibration error."""
    bins = np.minimum((probabilities * RELIABILITY_BINS).astype(int), RELIABILITY_BINS - 1)
    rows, ece = [], 0.0
    for b in range(RELIABILITY_BINS):
        mask = bins == b
        if mask.any():
            predicted, observed = float(probabilities[mask].mean()), float(gold[mask].mean())
            rows.append((predicted, observed, int(mask.sum())))
            ece += mask.sum() / len(gold) * abs(predicted - observed)
    return rows, float(ece)


def print_reliability(probabilities: np.ndarray, examples: list[Example], out: TextIO) -> None:
    for k, signal in enumerate(SIGNALS):
        gold = np.array([signal in e.labels for e in examples], dtype=float)
        rows, ece = reliability(probabilities[:, k], gold)
        cells = " ".join(f"{p:.2f}->{o:.2f}(n={n})" for p, o, n in rows)
        print(f"# reliability {signal} ece={ece:.3f} {cells}", file=out)


