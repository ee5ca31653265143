"""Fit the match scorer (scorer.py) on many catalogue variants and write services/match/matching/scorer.json.

    python -m services.match.training.train [--check] [--report FILE]

Catalogues: every domain of data/match/domains.json rendered in every variant of variants.py (en, ru, uk;
with and without keywords; short descriptions; names only) plus data/profiles/catalog.json as shipped.
Posts: data/match/train_*.jsonl and data/match/domains_posts.jsonl (variants.py says which posts go with
which catalogue). Every post is scored against every candidate profile of each catalogue of its kind; a
candidate is a positive when it is the post's gold profile in that catalogue. One logistic regression per
kind (products, vacancies), on standardised features.

Each catalogue's in-catalogue and off-catalogue posts weigh the same in total in the fit. The threshold is
the middle of the widest best plateau of top-1 expected when one post in five that reaches matching wants
something outside the catalogue (`expected_top1`, NULL_SHARE).

Held-out figures (printed, and in scorer.json notes): for each catalogue (domain d, variant v) a model is
fitted on the catalogues of the OTHER domains in the OTHER variants only, its threshold chosen on those,
and top-1 is measured on (d, v): whole domains and whole variants are unseen. The shipped model is then
fitted on everything. data/match/dev.jsonl is never read here: it is what `intentflow eval match` reports on.
Deterministic on one machine. `--check` fits and compares decisions with the stored scorer.json (same_fit)
instead of writing it.
Embeddings are cached in var/cache/match_embeddings_*.npz, so a second run skips the encoders.
"""
from __future__ import annotations

import argparse
import glob
import json
import os
import sys
from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np
from sklearn.linear_model import LogisticRegression

from services.match.matching.profiles import ProfileIndex, encode_texts
from services.match.matching.scorer import FEATURES, SCORER_PATH, Scorer, features
from services.match.training.variants import VARIANTS, Setting, load_domains, load_posts, settings, variant_lang

TRAIN_GLOB = "data/match/train_*.jsonl"
CACHE_DIR = "var/cache"
C = 1.0
THRESHOLDS = tuple(round(t, 3) for t in np.arange(0.05, 0.951, 0.01))
# The threshold rule (choose_threshold) takes one post in five that reaches matching to want something
# outside the catalogue.
NULL_SHARE = 0.2
KINDS = ("product", "vacancy")


@dataclass
class Rows:
    x: np.ndarray            # (candidates, FEATURES)
    y: np.ndarray            # 1 where the candidate is the post's gold profile
    post: np.ndarray         # which (setting, post) each row belongs to
    ids: list[str]           # profile id of each row
    gold: list[str | None]   # gold profile per (setting, post)
    setting: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=int))  # catalogue per post
    lang: list[str] = field(default_factory=list)                                  # language per post


class CachedEmbedder:
    """Embedder.encode memoised by text (the views of one profile recur in many variants)."""

    def __init__(self, inner):
        self.inner, self.name, self.dim = inner, inner.name, inner.dim
        self._memo: dict[str, np.ndarray] = {}

    def encode(self, texts):
        missing = list(dict.fromkeys(t for t in texts if t not in self._memo))
        if missing:
            for text, vector in zip(missing, self.inner.encode(missing)):
                self._memo[text] = vector
        return np.array([self._memo[t] for t in texts], dtype=np.float32).reshape(len(texts), self.dim)


def setting_rows(all_settings: list[Setting], embedder, reranker, linguistics) -> Rows:
    from services.match.matching.phrases import pipeline_language
    texts = sorted({c.text for s in all_settings for c in s.cases})
    at = {t: n for n, t in enumerate(texts)}
    use = encode_texts(embedder, texts)
    e5 = reranker.query(texts) if reranker is not None else use
    docs: dict[tuple[str, str], object] = {}
    placeholder = Scorer((0.0,) * len(FEATURES), 0.0, 0.5)
    xs, ys, posts, ids, gold, setting_of, langs = [], [], [], [], [], [], []
    n_post = 0
    for s_number, setting in enumerate(all_settings):
        index = ProfileIndex(embedder, linguistics, placeholder, reranker=reranker, kind=setting.kind)
        index.replace_all(setting.profiles)
        for case in setting.cases:
            key = (case.text, case.lang)
            if key not in docs:
                docs[key] = linguistics.doc(case.text, pipeline_language(case.lang))
            i = at[case.text]
            candidates = index.candidates(use[i], case.text, case.lang, docs[key], e5[i])
            xs.append(features(candidates))
            ys += [int(c.profile_id == case.gold) for c in candidates]
            ids += [c.profile_id for c in candidates]
            posts += [n_post] * len(candidates)
            gold.append(case.gold)
            setting_of.append(s_number)
            langs.append(case.lang)
            n_post += 1
    return Rows(np.vstack(xs), np.array(ys), np.array(posts), ids, gold, np.array(setting_of), langs)


def top_rows(rows: Rows, scores: np.ndarray) -> np.ndarray:
    """The best-scoring candidate row of each post that has candidates."""
    order = np.lexsort((-scores, rows.post))
    return order[np.r_[True, rows.post[order][1:] != rows.post[order][:-1]]] if len(order) else order


def picks(rows: Rows, scores: np.ndarray, posts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """For each post number in `posts`: its best score (-inf without candidates) and whether that row
    is the gold profile."""
    best = np.full(len(rows.gold), -np.inf)
    right = np.zeros(len(rows.gold), dtype=bool)
    first = top_rows(rows, scores)
    best[rows.post[first]] = scores[first]
    right[rows.post[first]] = rows.y[first] == 1
    return best[posts], right[posts]


def top1(rows: Rows, scores: np.ndarray, threshold: float) -> float:
    """Top-1 accuracy of all the posts when profiles with score >= threshold match."""
    posts = np.arange(len(rows.gold))
    best, right = picks(rows, scores, posts)
    return float(np.mean(correct_at(best, right, off_catalogue(rows, posts), threshold))) if len(posts) else 0.0


def off_catalogue(rows: Rows, posts: np.ndarray) -> np.ndarray:
    """Which of `posts` want nothing in their catalogue (gold None)."""
    return np.array([rows.gold[p] is None for p in posts], dtype=bool)


def correct_at(best: np.ndarray, right: np.ndarray, null: np.ndarray, threshold: float) -> np.ndarray:
    return np.where(null, best < threshold, (best >= threshold) & right)


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

    def __init__(self, x: np.ndarray, y: np.ndarray, c: float = C, weights: np.ndarray | None = None):
        self.mean, self.scale = x.mean(axis=0), x.std(axis=0)
        self.scale[self.scale == 0] = 1.0
        fitted = LogisticRegression(C=c, max_iter=3000).fit((x - self.mean) / self.scale, y, sample_weight=weights)
        self.weights = fitted.coef_[0] / self.scale
        self.bias = float(fitted.intercept_[0] - np.sum(fitted.coef_[0] * self.mean / self.scale))

    def predict(self, x: np.ndarray) -> np.ndarray:
        return probability(x, self.weights, self.bias)


def probability(x: np.ndarray, weights, bias: float) -> np.ndarray:
    """The scorer's match probability of each candidate row (scorer.Scorer.scores, on feature rows)."""
    return 1.0 / (1.0 + np.exp(-(x @ np.asarray(weights) + bias)))


def expected_top1(correct: np.ndarray, null: np.ndarray, null_share: float = NULL_SHARE) -> float:
    """Top-1 were `null_share` of the posts off-catalogue (`null` marks them): a catalogue's own mix of posts
    varies, so the share is stated rather than taken from the training posts (where off-catalogue ones
    outnumber the rest)."""
    if not null.any() or null.all():
        return float(np.mean(correct)) if len(correct) else 0.0
    return null_share * float(np.mean(correct[null])) + (1 - null_share) * float(np.mean(correct[~null]))


def choose_threshold(rows: Rows, scores: np.ndarray, posts: np.ndarray) -> tuple[float, float]:
    """The middle of the widest best plateau of `expected_top1`. Why not an even weight on off-catalogue
    posts: that counts a wrong abstention as cheap as a right one is dear, and so abstains on in-catalogue
    posts whenever the catalogue is written unlike the training ones (English names without keywords and
    a Russian post): a rep loses leads they could have judged, and abstention means little."""
    best, right = picks(rows, scores, posts)
    null = off_catalogue(rows, posts)
    values = [expected_top1(correct_at(best, right, null, t), null) for t in THRESHOLDS]
    return plateau_middle(values, THRESHOLDS)


def row_weights(rows: Rows) -> np.ndarray:
    """Per candidate row: each catalogue's in-catalogue posts and off-catalogue posts weigh the same in
    total (a few dozen posts of a new domain meet hundreds of off-catalogue ones)."""
    null = np.array([g is None for g in rows.gold])
    group = rows.setting * 2 + null if len(rows.setting) else null.astype(int)
    counts = np.bincount(group)
    post_weight = 1.0 / counts[group]
    post_weight *= len(post_weight) / post_weight.sum()
    return post_weight[rows.post]


def held_out(rows: Rows, all_settings: list[Setting], out=sys.stderr) -> list[dict]:
    """One model per catalogue (domain, variant), fitted without that domain and without that variant."""
    results = []
    weights = row_weights(rows)
    post_setting = rows.setting
    row_setting = post_setting[rows.post]
    for s_number, setting in enumerate(all_settings):
        train_settings = [n for n, s in enumerate(all_settings)
                          if s.domain != setting.domain and s.variant != setting.variant]
        train_rows = np.isin(row_setting, train_settings)
        model = _Model(rows.x[train_rows], rows.y[train_rows], weights=weights[train_rows])
        scores = model.predict(rows.x)
        threshold, _ = choose_threshold(rows, scores, np.flatnonzero(np.isin(post_setting, train_settings)))
        posts = np.flatnonzero(post_setting == s_number)
        best, right = picks(rows, scores, posts)
        gold_null = off_catalogue(rows, posts)
        correct = correct_at(best, right, gold_null, threshold)
        abstained = best < threshold
        result = {"domain": setting.domain, "variant": setting.variant, "n": len(posts),
                  "top1": float(np.mean(correct)), "threshold": threshold,
                  "top1_in_catalogue": float(np.mean(correct[~gold_null])) if (~gold_null).any() else None,
                  "abstain_tp": int(np.sum(abstained & gold_null)), "abstained": int(np.sum(abstained)),
                  "null": int(np.sum(gold_null)), "by_direction": {}}
        for lang in ("ru", "uk", "en"):
            mask = np.array([rows.lang[p] == lang for p in posts]) & ~gold_null
            if mask.any():
                key = f"{lang}->{variant_lang(setting.variant)}"
                result["by_direction"][key] = [float(np.mean(correct[mask])), int(mask.sum())]
        results.append(result)
        directions = " ".join(f"{k}={v[0]:.3f}" for k, v in result["by_direction"].items())
        print(f"  held out {setting.domain:<10} {setting.variant:<9} n={result['n']:<4} top1={result['top1']:.3f} "
              f"in_catalogue={result['top1_in_catalogue'] or 0:.3f} abstain_p="
              f"{result['abstain_tp'] / max(result['abstained'], 1):.3f} abstain_r="
              f"{result['abstain_tp'] / max(result['null'], 1):.3f} {directions}", file=out)
    return results


def summary(results: list[dict]) -> dict:
    tp = sum(r["abstain_tp"] for r in results)
    abstained = sum(r["abstained"] for r in results)
    null = sum(r["null"] for r in results)
    directions: dict[str, list[float]] = defaultdict(list)
    for r in results:
        for key, (value, _n) in r["by_direction"].items():
            directions[key].append(value)
    return {"heldout_top1_mean": round(float(np.mean([r["top1"] for r in results])), 4),
            "heldout_top1_min": round(float(min(r["top1"] for r in results)), 4),
            "heldout_in_catalogue_mean": round(float(np.mean([r["top1_in_catalogue"] for r in results])), 4),
            "heldout_abstain_precision": round(tp / max(abstained, 1), 4),
            "heldout_abstain_recall": round(tp / max(null, 1), 4),
            "heldout_direction_mean": {k: round(float(np.mean(v)), 4) for k, v in sorted(directions.items())},
            "heldout_direction_min": {k: round(float(min(v)), 4) for k, v in sorted(directions.items())}}


def fit_kind(rows: Rows, all_settings: list[Setting], out=sys.stderr) -> tuple[Scorer, list[dict]]:
    results = held_out(rows, all_settings, out)
    model = _Model(rows.x, rows.y, weights=row_weights(rows))
    threshold, top1 = choose_threshold(rows, model.predict(rows.x), np.arange(len(rows.gold)))
    notes = {"C": C, "fit_top1": round(top1, 4), "catalogues": len(all_settings), "posts": len(rows.gold),
             "candidate_rows": len(rows.y), "variants": list(VARIANTS), **summary(results)}
    return Scorer(tuple(float(w) for w in model.weights), model.bias, float(threshold), notes), results


def without_reranker(rows: Rows) -> Rows:
    """The rows as a ProfileIndex without reranker sees them: the e5 features are USE's."""
    x = rows.x.copy()
    for e5, use in (("e5", "cosine"), ("e5_lead", "lead"), ("e5_lift", "lift"), ("e5_mean", "cosine"),
                    ("e5_mean_lead", "lead"), ("e5_bg", "lift"), ("e5_mean_bg", "lift")):
        x[:, FEATURES.index(e5)] = x[:, FEATURES.index(use)]
    return Rows(x, rows.y, rows.post, rows.ids, rows.gold, rows.setting, rows.lang)


def fit_fallback(rows: Rows) -> Scorer:
    """The scorer used with MATCH_RERANKER off (USE only): same rows, no held-out figures."""
    use_rows = without_reranker(rows)
    model = _Model(use_rows.x, use_rows.y, weights=row_weights(rows))
    threshold, top1 = choose_threshold(use_rows, model.predict(use_rows.x), np.arange(len(rows.gold)))
    return Scorer(tuple(float(w) for w in model.weights), model.bias, float(threshold),
                  {"C": C, "fit_top1": round(top1, 4), "reranker": False, "posts": len(rows.gold),
                   "candidate_rows": len(rows.y)})


def decisions(rows: Rows, entry: dict) -> list[str | None]:
    """Per (catalogue, post): the profile a scorer.json entry matches, or None when nothing passes."""
    scores = probability(rows.x, entry["weights"], entry["bias"])
    chosen: list[str | None] = [None] * len(rows.gold)
    for row in top_rows(rows, scores):
        if scores[row] >= entry["threshold"]:
            chosen[rows.post[row]] = rows.ids[row]
    return chosen


def same_fit(stored: dict, fresh: dict, rows_by_kind: dict[str, Rows], min_agreement: float = 0.99) -> list[str]:
    """What makes the stored scorer differ from a fresh fit, or [] when it is the same fit.

    The same fit means: the same features and training set (post and candidate counts) and the same match
    decision on at least `min_agreement` of the training (catalogue, post) pairs. Weights are not compared:
    another kind of CPU moves the embeddings' last digits, and the collinear e5 features turn that into
    weight shifts of up to 1.0 that change almost no decision."""
    if stored.keys() != fresh.keys():
        return [f"kinds {sorted(stored)} != {sorted(fresh)}"]
    problems = []
    for kind, entry in fresh.items():
        old = stored[kind]
        if old["features"] != entry["features"]:
            problems.append(f"{kind}: features differ")
            continue
        counts = [(old["notes"].get(k), entry["notes"].get(k)) for k in ("posts", "candidate_rows")]
        if any(a != b for a, b in counts):
            problems.append(f"{kind}: trained on other data (posts, candidate rows) {counts}")
            continue
        rows = rows_by_kind[kind]
        agreement = float(np.mean([a == b for a, b in zip(decisions(rows, old), decisions(rows, entry))]))
        if agreement < min_agreement:
            problems.append(f"{kind}: same decision on {agreement:.4f} of the training pairs (< {min_agreement})")
    return problems


def main(argv: list[str] | None = None) -> int:
    from intentflow.e5 import CachedEncoder, load_e5
    from intentflow.embedding import load_embedder
    from intentflow.nlp.linguistics import Linguistics
    from intentflow.settings import ModelSettings, from_env

    parser = argparse.ArgumentParser(prog="python -m services.match.training.train", description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="*", default=None, help=f"labelled files (default {TRAIN_GLOB})")
    parser.add_argument("--out", default=str(SCORER_PATH))
    parser.add_argument("--report", default="", help="write the held-out figures per catalogue as JSON here")
    parser.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    args = parser.parse_args(argv)
    paths = args.data or sorted(glob.glob(TRAIN_GLOB))
    if any(p.endswith("dev.jsonl") for p in paths):
        parser.error("dev.jsonl is the evaluation file; training on it would make eval match meaningless")
    model = from_env(ModelSettings)
    os.makedirs(CACHE_DIR, exist_ok=True)
    embedder = CachedEmbedder(load_embedder(model.embedder, model.encoder_threads))
    reranker = CachedEncoder(load_e5(model.encoder_threads), os.path.join(CACHE_DIR, "match_embeddings_e5.npz"))
    linguistics = Linguistics()
    domains = load_domains()
    legacy, new = load_posts(paths)
    print(f"{len(legacy)} + {len(new)} labelled posts, {len(domains)} profiles in {len(VARIANTS)} variants",
          file=sys.stderr)
    fitted, report, rows_by_kind = {}, {}, {}
    for kind in KINDS:
        all_settings = settings(kind, domains, legacy, new)
        rows = setting_rows(all_settings, embedder, reranker, linguistics)
        reranker.save()
        print(f"# {kind}: {len(all_settings)} catalogues, {len(rows.gold)} post-catalogue pairs, "
              f"{len(rows.y)} candidate rows", file=sys.stderr)
        scorer, report[kind] = fit_kind(rows, all_settings)
        fitted[kind] = scorer.to_json()
        fitted[kind]["notes"]["trained_on"] = paths + ["data/match/domains_posts.jsonl", "data/match/domains.json"]
        print(f"{kind}: " + json.dumps({k: fitted[kind][k] for k in ("weights", "bias", "threshold")}), file=sys.stderr)
        print(f"{kind}: " + json.dumps({k: v for k, v in fitted[kind]["notes"].items() if k.startswith("heldout")}),
              file=sys.stderr)
        fitted[f"{kind}@use"] = fit_fallback(rows).to_json()
        rows_by_kind[kind], rows_by_kind[f"{kind}@use"] = rows, without_reranker(rows)
    if args.report:
        with open(args.report, "w", encoding="utf-8") as fh:
            json.dump(report, fh, indent=1)
    text = json.dumps(fitted, ensure_ascii=False, indent=1) + "\n"
    if args.check:
        with open(args.out, encoding="utf-8") as fh:
            problems = same_fit(json.load(fh), fitted, rows_by_kind)
        for problem in problems:
            print(f"scorer.json differs from a fresh fit: {problem}", file=sys.stderr)
        if not problems:
            print("scorer.json is up to date (same decisions on the training pairs)", file=sys.stderr)
        return 1 if problems else 0
    with open(args.out, "w", encoding="utf-8") as fh:
        fh.write(text)
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
