"""`intentflow eval match`: top-1 accuracy of product and vacancy matching on labelled posts, for any
catalogue file.

A post whose gold is null counts as correct only when no profile passes its threshold. Besides top-1 per
kind, it prints top-1 per post language, per direction (post language -> the language the gold profile is
written in: "mixed" for a profile whose name and description mix languages, "none" for a null gold), and
abstention: precision (of the posts for which nothing matched, the share whose gold is null) and recall
(of the posts whose gold is null, the share for which nothing matched).

data/match/dev.jsonl is held out: the scorer is fitted on data/match/train_*.jsonl
(`python -m services.match.training.train`). Before that scorer existed, hand-set weights and thresholds
were chosen on the posts of dev.jsonl with an odd id, so `--half odd|even` (`select_half`) still prints
the two halves apart: `python -m services.match.training.evaluate --half even`.
"""
from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from typing import TextIO

import numpy as np

from intentflow.jsonl import read_jsonl
from services.match.matching.profiles import ProfileIndex, encode_texts, profile_indexes

HALVES = ("all", "odd", "even")


@dataclass
class MatchCase:
    text: str
    lang: str
    kind: str          # "product" | "vacancy"
    gold: str | None
    id: str = ""


def load_cases(path: str) -> list[MatchCase]:
    cases = []
    for _where, row in read_jsonl(path):
        labels = row.get("labels") or []
        case_id = str(row.get("id") or "")
        if "purchase_intent" in labels and "product" in row:
            cases.append(MatchCase(row["text"], row.get("lang") or "", "product", row["product"], case_id))
        if "job_seeking" in labels and "vacancy" in row:
            cases.append(MatchCase(row["text"], row.get("lang") or "", "vacancy", row["vacancy"], case_id))
    return cases


def case_number(case: MatchCase) -> int | None:
    """The number at the end of the case id ("m-0042" -> 42), or None."""
    found = re.search(r"(\d+)$", case.id)
    return int(found.group(1)) if found else None


def select_half(cases: list[MatchCase], half: str) -> list[MatchCase]:
    """"odd" / "even": cases whose id ends in an odd / even number; "all": every case."""
    if half not in HALVES:
        raise ValueError(f"half must be one of {HALVES}, got {half!r}")
    if half == "all":
        return list(cases)
    unnumbered = [c for c in cases if case_number(c) is None]
    if unnumbered:
        raise ValueError(f"cannot split by id parity: {len(unnumbered)} case(s) have no numeric id")
    parity = 1 if half == "odd" else 0
    return [c for c in cases if case_number(c) % 2 == parity]


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


def evaluate_cases(indexes: dict[str, ProfileIndex], cases: list[MatchCase],
                   embeddings: np.ndarray) -> dict[str, list[bool]]:
    """kind -> correctness of each case of that kind; case.lang must be set."""
    correct: dict[str, list[bool]] = {"product": [], "vacancy": []}
    for case, embedding in zip(cases, embeddings):
        correct[case.kind].append(top1_correct(indexes[case.kind], case, embedding))
    return correct


def profile_language(profile) -> str:
    """The language a profile is written in: that of its name and description sentences when they agree
    (80 % of the sentences), else "mixed"."""
    from intentflow.text.language import detect_language
    from services.match.matching.profiles import _SENTENCE_END, profile_name
    texts = [profile_name(profile)] + [s for s in _SENTENCE_END.split(profile.description or "") if len(s.split()) >= 3]
    langs = [detect_language(t) for t in texts]
    top = max(set(langs), key=langs.count)
    return top if langs.count(top) >= 0.8 * len(langs) else "mixed"


@dataclass
class Outcome:
    case: MatchCase
    predicted: str | None
    direction: str        # post lang -> profile lang ("none" for a null gold)

    @property
    def correct(self) -> bool:
        return self.predicted == self.case.gold


def print_details(outcomes: list[Outcome], out: TextIO) -> None:
    """Per kind: top-1 per post language, per direction, and abstention precision/recall."""
    for kind in ("product", "vacancy"):
        mine = [o for o in outcomes if o.case.kind == kind]
        if not mine:
            continue
        for lang in sorted({o.case.lang for o in mine}):
            values = [o.correct for o in mine if o.case.lang == lang]
            print(f"{kind}_top1.{lang}={sum(values) / len(values):.3f} n={len(values)}", file=out)
        for direction in sorted({o.direction for o in mine}):
            values = [o.correct for o in mine if o.direction == direction]
            print(f"{kind}_direction {direction}={sum(values) / len(values):.3f} n={len(values)}", file=out)
        in_catalogue = [o.correct for o in mine if o.case.gold is not None]
        if in_catalogue:
            print(f"{kind}_top1_in_catalogue={sum(in_catalogue) / len(in_catalogue):.3f} n={len(in_catalogue)}",
                  file=out)
        abstained = [o for o in mine if o.predicted is None]
        null = [o for o in mine if o.case.gold is None]
        right = sum(1 for o in abstained if o.case.gold is None)
        precision = right / len(abstained) if abstained else 0.0
        recall = right / len(null) if null else 0.0
        print(f"{kind}_abstain precision={precision:.3f} recall={recall:.3f} abstained={len(abstained)} "
              f"null_gold={len(null)}", file=out)


def run(profiles_path: str, data_path: str, half: str, out: TextIO, details: bool = True) -> float:
    """Prints the eval match lines for one half of a labelled file; returns match_top1."""
    from intentflow.embedding import load_embedder
    from intentflow.nlp.linguistics import Linguistics
    from intentflow.settings import MatchSettings, from_env
    from intentflow.text.language import detect_language
    from services.match.application import _reranker
    from services.match.matching.catalog import load_catalog

    settings = from_env(MatchSettings)
    catalog = load_catalog(profiles_path)
    cases = select_half(load_cases(data_path), half)
    embedder = load_embedder(settings.model.embedder, settings.model.encoder_threads)
    reranker = _reranker(settings)
    indexes = profile_indexes(embedder, Linguistics(), settings.product_min_score, settings.vacancy_min_score,
                              reranker=reranker)
    indexes["product"].replace_all(catalog.products)
    indexes["vacancy"].replace_all(catalog.vacancies)
    languages = {p.id: profile_language(p) for p in catalog.products + catalog.vacancies}
    for case in cases:
        case.lang = case.lang or detect_language(case.text)
    texts = [c.text for c in cases]
    embeddings = encode_texts(embedder, texts)
    queries = reranker.query(texts) if reranker is not None else embeddings
    outcomes = []
    for case, embedding, query in zip(cases, embeddings, queries):
        best = indexes[case.kind].best(embedding, case.text, case.lang, rerank_vector=query)
        gold_lang = languages.get(case.gold, "unknown") if case.gold else "none"
        outcomes.append(Outcome(case, best.profile_id if best else None, f"{case.lang}->{gold_lang}"))
    correct = {"product": [o.correct for o in outcomes if o.case.kind == "product"],
               "vacancy": [o.correct for o in outcomes if o.case.kind == "vacancy"]}
    overall = print_accuracy(correct, out)
    if details:
        print_details(outcomes, out)
    return overall


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m services.match.training.evaluate",
                                     description="eval match on one half of a labelled file")
    parser.add_argument("--profiles", default="data/profiles/catalog.json")
    parser.add_argument("--data", default="data/match/dev.jsonl")
    parser.add_argument("--half", choices=HALVES, default="all")
    args = parser.parse_args(argv)
    run(args.profiles, args.data, args.half, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())
