"""Fit the match scorer (scorer.py) on data/match/train_*.jsonl and write intentflow/matching/scorer.json.

    python -m services.match.training.train [--profiles data/profiles/catalog.json] [--data FILE ...] [--check]

Every training post is scored against every candidate profile of its kind; a candidate is a positive
when it is the post's gold profile. A logistic regression per kind (products, vacancies) is fitted on
those rows; its regularisation and the default threshold are chosen by 5-fold cross-validation grouped
by post, on top-1 accuracy (a post whose gold is null is right only when no profile passes), taking the
middle of the widest best plateau of thresholds. data/match/dev.jsonl is never read here: it is what
`intentflow eval match` reports on. Deterministic: the same data gives the same scorer.json.
`--check` fits and compares with the stored scorer.json instead of writing it (exit 1 when it differs
beyond rounding).
"""
from __future__ import annotations

import argparse
import glob
import json
import sys
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression

from services.match.matching.profiles import ProfileIndex, encode_texts
from services.match.matching.scorer import FEATURES, SCORER_PATH, Candidate, Scorer, features
from services.match.training.evaluate import MatchCase, load_cases

TRAIN_GLOB = "data/match/train_*.jsonl"
FOLDS = 5
C_GRID = (0.1, 0.3, 1.0, 3.0, 10.0)
THRESHOLDS = tuple(round(t, 3) for t in np.arange(0.05, 0.951, 0.01))
KINDS = ("product", "vacancy")


@dataclass
class Rows:
    x: np.ndarray            # (candidates, FEATURES)
    y: np.ndarray            # 1 where the candidate is the post's gold profile
    post: np.ndarray         # which post each row belongs to
    ids: list[str]           # profile id of each row
    gold: list[str | None]   # gold profile per post


def candidate_rows(index: ProfileIndex, cases: list[MatchCase], embeddings: np.ndarray) -> Rows:
    xs, ys, posts, ids = [], [], [], []
    for n, (case, embedding) in enumerate(zip(cases, embeddings)):
        candidates: list[Candidate] = index.candidates(embedding, case.text, case.lang)
        xs.append(features(candidates))
        ys += [int(c.profile_id == case.gold) for c in candidates]
        posts += [n] * len(candidates)
        ids += [c.profile_id for c in candidates]
    return Rows(np.vstack(xs) if xs else np.zeros((0, len(FEATURES))), np.array(ys), np.array(posts), ids,
                [c.gold for c in cases])


def top1(rows: Rows, scores: np.ndarray, threshold: float) -> float:
    """Top-1 accuracy of the posts when profiles with score >= threshold match."""
    picked: dict[int, tuple[float, str]] = {}
    for post, pid, score in zip(rows.post.tolist(), rows.ids, scores.tolist()):
        if score >= threshold and score > picked.get(post, (-1.0, ""))[0]:
            picked[post] = (score, pid)
    right = [picked.get(n, (0.0, None))[1] == gold for n, gold in enumerate(rows.gold)]
    return float(np.mean(right)) if right else 0.0


def plateau_middle(values: list[float], grid: tuple[float, ...]) -> tuple[float, float]:
    """The middle of the widest run of grid points that reach the best value, and that value."""
    best = max(values)
    runs, run = [], []
    for t, v in zip(grid, values):
        if v >= best - 1e-12:
            run.append(t)
        elif run:
            runs.append(run)
            run = []
    if run:
        runs.append(run)
    widest = max(runs, key=len)
    return widest[len(widest) // 2], best


class _Model:
    """Logistic regression on standardised features (so C penalises every feature alike), with its
    weights mapped back onto the raw features for scorer.json."""

    def __init__(self, x: np.ndarray, y: np.ndarray, c: float):
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        fitted = LogisticRegression(C=c, max_iter=2000).fit((x - self.mean) / self.scale, y)
        self.weights = fitted.coef_[0] / self.scale
        self.bias = float(fitted.intercept_[0] - np.sum(fitted.coef_[0] * self.mean / self.scale))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return 1.0 / (1.0 + np.exp(-(x @ self.weights + self.bias)))


def out_of_fold(rows: Rows, c: float) -> np.ndarray:
    n_posts = len(rows.gold)
    fold_of_post = np.arange(n_posts) % FOLDS
    scores = np.zeros(len(rows.y))
    for fold in range(FOLDS):
        test = fold_of_post[rows.post] == fold
        model = _Model(rows.x[~test], rows.y[~test], c)
        scores[test] = model.predict(rows.x[test])
    return scores


def fit_scorer(rows: Rows, out=sys.stderr) -> Scorer:
    results = {}
    for c in C_GRID:
        oof = out_of_fold(rows, c)
        values = [top1(rows, oof, t) for t in THRESHOLDS]
        results[c] = plateau_middle(values, THRESHOLDS)
        print(f"  C={c:<5} threshold={results[c][0]:.2f} cv_top1={results[c][1]:.3f}", file=out)
    best_c = max(C_GRID, key=lambda c: (round(results[c][1], 6), -abs(np.log10(c))))
    threshold, cv_top1 = results[best_c]
    model = _Model(rows.x, rows.y, best_c)
    notes = {"C": best_c, "cv_top1": round(cv_top1, 4), "posts": len(rows.gold),
             "candidate_rows": len(rows.y)}
    return Scorer(tuple(float(w) for w in model.weights), model.bias, float(threshold), notes)


def _same_fit(stored: dict, fresh: dict, tolerance: float = 1e-4) -> bool:
    """Same thresholds and notes, weights equal to `tolerance` (BLAS thread counts move the last digits
    of the embeddings, and so of the fitted weights)."""
    if stored.keys() != fresh.keys():
        return False
    for kind, entry in fresh.items():
        old = stored[kind]
        if (old["features"], old["threshold"], old["notes"]) != (entry["features"], entry["threshold"], entry["notes"]):
            return False
        if not np.allclose(old["weights"] + [old["bias"]], entry["weights"] + [entry["bias"]], atol=tolerance):
            return False
    return True


def main(argv: list[str] | None = None) -> int:
    from intentflow.embedding import load_embedder
    from intentflow.nlp.linguistics import Linguistics
    from intentflow.settings import ModelSettings, from_env
    from intentflow.text.language import detect_language
    from services.match.matching.catalog import load_catalog

    parser = argparse.ArgumentParser(prog="python -m services.match.training.train", description=__doc__.split("\n")[0])
    parser.add_argument("--profiles", default="data/profiles/catalog.json")
    parser.add_argument("--data", nargs="*", default=None, help=f"labelled files (default {TRAIN_GLOB})")
    parser.add_argument("--out", default=str(SCORER_PATH))
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    paths = args.data or sorted(glob.glob(TRAIN_GLOB))
    if not paths:
        parser.error(f"no training files: {TRAIN_GLOB}")
    if any(p.endswith("dev.jsonl") for p in paths):
        parser.error("dev.jsonl is the evaluation file; training on it would make eval match meaningless")
    model = from_env(ModelSettings)
    embedder = load_embedder(model.embedder, model.encoder_threads)
    linguistics = Linguistics()
    catalog = load_catalog(args.profiles)
    cases = [case for path in paths for case in load_cases(path)]
    for case in cases:
        case.lang = case.lang or detect_language(case.text)
    print(f"{len(cases)} labelled posts from {', '.join(paths)}", file=sys.stderr)
    fitted = {}
    placeholder = Scorer((0.0,) * len(FEATURES), 0.0, 0.5)   # candidates() does not score
    for kind, profiles in (("product", catalog.products), ("vacancy", catalog.vacancies)):
        subset = [c for c in cases if c.kind == kind]
        index = ProfileIndex(embedder, linguistics, placeholder)
        index.replace_all(profiles)
        print(f"# {kind}: {len(subset)} posts", file=sys.stderr)
        rows = candidate_rows(index, subset, encode_texts(embedder, [c.text for c in subset]))
        fitted[kind] = fit_scorer(rows).to_json()
        fitted[kind]["notes"]["trained_on"] = paths
        print(f"{kind}: " + json.dumps({k: fitted[kind][k] for k in ("weights", "bias", "threshold")}),
              file=sys.stderr)
    text = json.dumps(fitted, ensure_ascii=False, indent=1) + "\n"
    if args.check:
        with open(args.out, encoding="utf-8") as fh:
            same = _same_fit(json.load(fh), fitted)
        print("scorer.json is up to date" if same else "scorer.json differs from a fresh fit", file=sys.stderr)
        return 0 if same else 1
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
