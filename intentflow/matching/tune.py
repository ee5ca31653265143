"""Re-derive KEYWORD_BONUS and the default thresholds on one half of a labelled match file.

    python -m intentflow.matching.tune --half odd [--profiles data/profiles/catalog.json]

Every post is scored once against every profile (cosine and keyword places, exclusions applied) through
ProfileIndex itself. The grid then recomputes score = cosine + bonus * [places >= 1] + second *
[places >= 2] (second = SECOND_KEYWORD_BONUS unless --second) and the top-1 accuracy (a null-gold post
is right only when nothing passes) for each first-keyword bonus and threshold, and also tries a relative
rule (the best profile must beat the runner-up by a margin). It prints the accuracy surface and, per
kind, the middle of the widest best plateau of thresholds for the chosen bonus. Decisions are made on
--half odd; --half even then only reports.
"""
from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass

import numpy as np

from intentflow.matching.evaluate import HALVES, MatchCase, load_cases, select_half
from intentflow.matching.profiles import KEYWORD_BONUS, SECOND_KEYWORD_BONUS, ProfileIndex, encode_texts

BONUSES = (0.0, 0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.4)
THRESHOLDS = tuple(round(t, 2) for t in np.arange(0.10, 0.61, 0.01))
MARGINS = (0.0, 0.01, 0.02, 0.03, 0.05)


@dataclass
class Scored:
    ids: list[str]
    cosine: np.ndarray     # (cases, profiles), -inf where vetoed or filtered out
    places: np.ndarray     # (cases, profiles) separate places of the post with a keyword (0, 1 or 2+)
    gold: np.ndarray       # profile column, -1 for null


def score_cases(index: ProfileIndex, ids: list[str], cases: list[MatchCase], embeddings: np.ndarray) -> Scored:
    column = {pid: j for j, pid in enumerate(ids)}
    cosine = np.full((len(cases), len(ids)), -np.inf)
    places = np.zeros((len(cases), len(ids)))
    for i, (case, embedding) in enumerate(zip(cases, embeddings)):
        for m in index.match(embedding, case.text, case.lang):
            cosine[i, column[m.profile_id]] = m.cosine
            bonus = m.score - m.cosine   # read the places back from the bonus the index applied
            places[i, column[m.profile_id]] = 0 if bonus < KEYWORD_BONUS / 2 else (
                1 if bonus < KEYWORD_BONUS + SECOND_KEYWORD_BONUS / 2 else 2)
    gold = np.array([column[c.gold] if c.gold else -1 for c in cases])
    return Scored(ids, cosine, places, gold)


def accuracy(s: Scored, bonus: float, threshold: float, margin: float = 0.0,
             second: float = SECOND_KEYWORD_BONUS) -> float:
    score = s.cosine + bonus * (s.places >= 1) + second * (s.places >= 2)
    order = np.sort(score, axis=1)
    best, top = score.argmax(axis=1), order[:, -1]
    second = order[:, -2] if score.shape[1] > 1 else np.full(len(score), -np.inf)
    passed = (top >= threshold) & (top - second >= margin)
    return float(np.mean(np.where(passed, best, -1) == s.gold))


def plateau_middle(values: list[float], grid: tuple[float, ...]) -> tuple[float, float]:
    best = max(values)
    runs, run = [], []
    for t, v in zip(grid, values):
        if v == best:
            run.append(t)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    widest = max(runs, key=len)
    return widest[len(widest) // 2], best


def main(argv: list[str] | None = None) -> int:
    from intentflow.embedding import load_embedder
    from intentflow.matching.catalog import load_catalog
    from intentflow.nlp.linguistics import Linguistics
    from intentflow.settings import ModelSettings, from_env
    from intentflow.text.language import detect_language

    parser = argparse.ArgumentParser(prog="python -m intentflow.matching.tune")
    parser.add_argument("--profiles", default="data/profiles/catalog.json")
    parser.add_argument("--data", default="data/match/dev.jsonl")
    parser.add_argument("--half", choices=HALVES, default="odd")
    parser.add_argument("--bonus", type=float, default=None, help="bonus to pick thresholds for (default: best)")
    parser.add_argument("--second", type=float, default=SECOND_KEYWORD_BONUS, help="bonus of a second keyword")
    args = parser.parse_args(argv)
    model = from_env(ModelSettings)
    embedder = load_embedder(model.embedder, model.encoder_threads)
    linguistics = Linguistics()
    catalog = load_catalog(args.profiles)
    cases = select_half(load_cases(args.data), args.half)
    for case in cases:
        case.lang = case.lang or detect_language(case.text)
    for kind, profiles in (("product", catalog.products), ("vacancy", catalog.vacancies)):
        index = ProfileIndex(embedder, linguistics, -10.0)   # keep every profile: the grid thresholds
        index.replace_all(profiles)
        subset = [c for c in cases if c.kind == kind]
        scored = score_cases(index, [p.id for p in profiles], subset, encode_texts(embedder, [c.text for c in subset]))
        print(f"# {kind}: {len(subset)} posts ({args.half} half)")
        chosen = {}
        for bonus in BONUSES:
            values = [accuracy(scored, bonus, t, second=args.second) for t in THRESHOLDS]
            chosen[bonus] = plateau_middle(values, THRESHOLDS)
            print(f"bonus={bonus:.2f} threshold={chosen[bonus][0]:.2f} top1={chosen[bonus][1]:.3f}")
        bonus = args.bonus if args.bonus is not None else max(chosen, key=lambda b: (chosen[b][1], -abs(b - 0.2)))
        threshold = chosen.get(bonus, plateau_middle(
            [accuracy(scored, bonus, t, second=args.second) for t in THRESHOLDS], THRESHOLDS))[0]
        for margin in MARGINS:
            values = [accuracy(scored, bonus, t, margin, args.second) for t in THRESHOLDS]
            t, best = plateau_middle(values, THRESHOLDS)
            print(f"bonus={bonus:.2f} margin={margin:.2f} threshold={t:.2f} top1={best:.3f}")
        print(f"{kind}: bonus={bonus:.2f} threshold={threshold:.2f} "
              f"top1={accuracy(scored, bonus, threshold, second=args.second):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
