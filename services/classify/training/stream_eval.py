"""What a queue user sees on a real stream (`intentflow eval stream`).

For every source of background chatter (a file, or the `source` field of its rows), leave-one-source-out:
the stream gate is retrained without that source and without the sources of the positives injected into
it, so no figure for a source comes from a model that trained on it. The classifier itself trained only on
the corpus written for this project (data/classify/train_*), never on real posts. Into each source's stream
positives of the same language are injected at 1 in PREVALENCE per signal (from the labelled files given,
e.g. the dev split and real hand-labelled posts); real signals a person found in the chatter stay where
they are. Per signal it reports the flag rate on the chatter, precision of the queue ranked by score
(top 50 and top 200, or the whole queue when shorter) and the recall of the positives, per source and per
language, with and without the gate.
"""
from __future__ import annotations

import json
import math
import random
import sys
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TextIO

import numpy as np

from intentflow.e5 import CachedEncoder
from intentflow.signals import SIGNALS
from intentflow.text.language import detect_language
from services.classify.classifier.gate import gate_language
from services.classify.classifier.model import SignalClassifier
from services.classify.training.corpus import Example, holdout_group, load_examples, source_name
from services.classify.training.gate import GateRows, gate_rows, train_gate
from services.classify.training.train import featurise

QUEUE_DEPTHS = (50, 200)


@dataclass
class Stream:
    source: str
    lang: str
    rows: list[int]                    # indexes into the evaluation rows: chatter, then injected positives
    injected: list[int] = field(default_factory=list)


@dataclass
class Scored:
    positive: np.ndarray  # (n, signals) bool
    score: np.ndarray     # (n, signals)


def _language(example: Example) -> str:
    return gate_language(example.lang or detect_language(example.text))


def queue_figures(labels: np.ndarray, scored: Scored, chatter: np.ndarray, k: int) -> dict:
    """Figures of signal k's queue over one stream; `chatter` marks rows without any label."""
    flagged = np.flatnonzero(scored.positive[:, k])
    order = flagged[np.argsort(-scored.score[flagged, k], kind="stable")]
    truth = labels[:, k] == 1
    row = {"flag_rate": float(scored.positive[chatter, k].mean()) if chatter.any() else 0.0,
           "queue": len(order), "recall": float(scored.positive[truth, k].mean()) if truth.any() else float("nan")}
    for depth in QUEUE_DEPTHS:
        top = order[:depth]
        row[f"p@{depth}"] = float(truth[top].mean()) if len(top) else float("nan")
    return row


def evaluate_stream(classifier: SignalClassifier, written: Sequence[str], train_real: Sequence[str],
                    chatter_paths: Sequence[str], positive_paths: Sequence[str], prevalence: int = 200,
                    seed: int = 0, out: TextIO = sys.stdout, queue_dump: TextIO | None = None,
                    second_encoder=None) -> dict:
    """Prints the tables to `out`; `queue_dump` receives every item of every gated queue as a JSON line (the
    post, its stream, signal, score and label), for a person to read what the queue holds. With
    `second_encoder` (e5) the gates get the e5 second view, as `intentflow train` gives the shipped one."""
    builder = classifier.features
    if second_encoder is not None:
        second_encoder = CachedEncoder(second_encoder)   # each text once across all the gates trained here
    chatter = [(e, source_name(e, p), holdout_group(e, p)) for p in chatter_paths for e in load_examples([p])]
    pool = [(e, source_name(e, p), holdout_group(e, p)) for p in positive_paths for e in load_examples([p])
            if e.labels]
    examples = [e for e, _, _ in chatter] + [e for e, _, _ in pool]
    groups = [g for _, _, g in chatter] + [g for _, _, g in pool]
    langs = [_language(e) for e in examples]
    labels = np.array([[int(s in e.labels) for s in SIGNALS] for e in examples])
    feats = featurise(builder, examples, desc="stream features")
    base_probs = classifier.scores(feats)[0]
    base_positive = base_probs >= classifier.thresholds
    streams = _streams(chatter, pool, langs, labels, prevalence, random.Random(seed))
    train_rows = gate_rows(written, train_real)
    gate_feats = featurise(builder, train_rows.examples, desc="gate features")
    results: dict[str, dict] = {}
    for stream in streams:
        held_out = {groups[i] for i in stream.rows}
        keep = [i for i, s in enumerate(train_rows.sources) if s not in held_out]
        rows = GateRows([train_rows.examples[i] for i in keep], [train_rows.sources[i] for i in keep],
                        train_rows.weights[keep], train_rows.real[keep])
        gate = train_gate(builder, rows, lambda f: classifier.decide(f, classifier.scores(f)[0]).positive,
                          feats=_subset(gate_feats, keep), second_encoder=second_encoder)
        idx = np.array(stream.rows)
        sub = _subset(feats, idx)
        gated = SignalClassifier(builder, classifier.model, None, gate, second_encoder)
        gated.thresholds = classifier.thresholds
        decision = gated.decide(sub, base_probs[idx])
        positive, score = decision.positive, decision.probability
        chatter_rows = labels[idx].sum(axis=1) == 0
        asked = decision.second_view.any(axis=1) if decision.second_view is not None else np.zeros(len(idx), bool)
        flagged = decision.classifier_positive.any(axis=1)
        results[stream.source] = {"lang": stream.lang, "rows": idx, "size": len(stream.rows) - len(stream.injected),
                                  "injected": len(stream.injected),
                                  "e5": {"chatter": int(chatter_rows.sum()),
                                         "flagged": int((flagged & chatter_rows).sum()),
                                         "embedded": int((asked & chatter_rows).sum())},
                                  "gate": Scored(positive, score),
                                  "no_gate": Scored(base_positive[idx], base_probs[idx])}
    report = _report(results, labels, out)
    report["false_alarm_kinds"] = _kinds(results, examples, labels, out)
    if queue_dump is not None:
        _dump_queues(results, examples, labels, queue_dump)
    return report


def _dump_queues(results: dict, examples: list[Example], labels: np.ndarray, out: TextIO) -> None:
    for source, r in results.items():
        scored = r["gate"]
        for j, i in enumerate(r["rows"]):
            for k in np.flatnonzero(scored.positive[j]):
                e = examples[i]
                item = {"stream": source, "signal": SIGNALS[k], "score": round(float(scored.score[j, k]), 4),
                        "labelled": bool(labels[i, k]), "injected": j >= r["size"],
                        "source": e.extra.get("source", ""), "id": e.extra.get("id", ""), "text": e.text}
                out.write(json.dumps(item, ensure_ascii=False) + "\n")


def _kinds(results: dict, examples: list[Example], labels: np.ndarray, out: TextIO) -> dict:
    """Share of the hand-labelled look-alikes in the chatter (every one flagged by the first model) that each
    variant still flags as any signal, by kind."""
    counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    for r in results.values():
        for j, i in enumerate(r["rows"]):
            e = examples[i]
            if labels[i].any() or e.extra.get("label_method") != "hand":
                continue
            row = counts[e.kind or "neutral"]
            row[0] += 1
            row[1] += int(r["gate"].positive[j].any())
            row[2] += int(r["no_gate"].positive[j].any())
    print("\n| look-alike kind (hand-labelled real posts) | posts | flagged with gate | without gate |", file=out)
    print("| --- | --- | --- | --- |", file=out)
    for kind, (n, gated, plain) in sorted(counts.items(), key=lambda item: -item[1][0]):
        print(f"| {kind} | {n} | {gated / n:.0%} | {plain / n:.0%} |", file=out)
    return {kind: {"posts": n, "gate": gated / n, "no_gate": plain / n} for kind, (n, gated, plain) in counts.items()}


def _streams(chatter, pool, langs, labels, prevalence: int, rng: random.Random) -> list[Stream]:
    by_source: dict[str, list[int]] = defaultdict(list)
    for i, (_, source, _) in enumerate(chatter):
        by_source[source].append(i)
    offset = len(chatter)
    streams = []
    for source, rows in sorted(by_source.items()):
        lang = max(("ru", "uk", "en"), key=lambda code: sum(langs[i] == code for i in rows))
        stream = Stream(source, lang, list(rows))
        own_group = chatter[rows[0]][2]
        for k in range(len(SIGNALS)):
            candidates = [offset + j for j, (_, _, group) in enumerate(pool)
                          if labels[offset + j, k] and langs[offset + j] == lang and group != own_group]
            wanted = max(1, math.ceil(len(rows) / prevalence))
            picked = rng.sample(candidates, min(wanted, len(candidates)))
            stream.injected += [i for i in picked if i not in stream.injected]
        stream.rows += stream.injected
        streams.append(stream)
    return streams


def _subset(feats, idx):
    from services.classify.classifier.features import Features
    idx = np.asarray(idx, dtype=np.int64)
    return Features(feats.embeddings[idx], feats.parent_embeddings[idx], feats.rules[idx], feats.parent_rules[idx],
                    feats.shape[idx], feats.sparse[idx], [feats.langs[i] for i in idx],
                    [feats.hits[i] for i in idx], [feats.lemmas[i] for i in idx], np.zeros(0, dtype=np.int64), None,
                    None, [feats.texts[i] for i in idx])


def _report(results: dict, labels: np.ndarray, out: TextIO) -> dict:
    report: dict = {"sources": {}, "languages": {}}
    print("| stream | lang | chatter | injected | signal | gate | flag rate | queue | P@50 | P@200 | recall |",
          file=out)
    print("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |", file=out)
    by_lang: dict[str, list[str]] = defaultdict(list)
    for source, r in results.items():
        by_lang[r["lang"]].append(source)
        report["sources"][source] = _rows(source, r["lang"], [r], labels, out)
    for lang, names in sorted(by_lang.items()):
        report["languages"][lang] = _rows(f"all {lang}", lang, [results[n] for n in names], labels, out)
    report["e5_view"] = _e5_view(results, out)
    return report


def _e5_view(results: dict, out: TextIO) -> dict:
    """Per stream: chatter posts the classifier flags, and how many of those the gate's screen let through to
    e5 (the cost the screen spares; services/classify/classifier/gate.py)."""
    print("\n| stream | chatter posts | flagged by the classifier | of those, embedded with e5 |", file=out)
    print("| --- | ---: | ---: | ---: |", file=out)
    figures = {source: r["e5"] for source, r in results.items()}
    figures["all"] = {key: sum(f[key] for f in figures.values()) for key in ("chatter", "flagged", "embedded")}
    for source, f in figures.items():
        print(f"| {source} | {f['chatter']} | {f['flagged']} ({f['flagged'] / max(f['chatter'], 1):.2%}) | "
              f"{f['embedded']} ({f['embedded'] / max(f['flagged'], 1):.0%}) |", file=out)
    return figures


def _rows(name: str, lang: str, parts: list[dict], labels: np.ndarray, out: TextIO) -> dict:
    idx = np.concatenate([p["rows"] for p in parts])
    y = labels[idx]
    chatter = y.sum(axis=1) == 0
    size, injected = sum(p["size"] for p in parts), sum(p["injected"] for p in parts)
    figures = {}
    for variant in ("gate", "no_gate"):
        scored = Scored(np.vstack([p[variant].positive for p in parts]), np.vstack([p[variant].score for p in parts]))
        for k, signal in enumerate(SIGNALS):
            row = queue_figures(y, scored, chatter, k)
            figures[f"{signal}/{variant}"] = row
            print(f"| {name} | {lang} | {size} | {injected} | {signal} | {'yes' if variant == 'gate' else 'no'} | "
                  f"{row['flag_rate']:.2%} | {row['queue']} | {_fmt(row['p@50'])} | {_fmt(row['p@200'])} | "
                  f"{_fmt(row['recall'])} |", file=out)
    return figures


def _fmt(value: float) -> str:
    return "n/a" if math.isnan(value) else f"{value:.2f}"
