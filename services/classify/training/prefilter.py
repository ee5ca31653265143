"""Fitting the first stage (services/classify/prefilter.py) and measuring it leave-one-source-out.

Training rows (`GateRows` from services/classify/training/gate.py): the written corpus (positives and
look-alikes) and the real public posts of data/real/ (background chatter, hand-labelled real positives and
look-alikes). A row is positive when it carries any label. Sample weights balance three classes
(positives, written negatives, real negatives) so that neither the ~20k real background rows swamp the
positives nor "written style" alone predicts a signal; within a class the rows keep gate_rows' weights
(hand-checked rows weigh more).

Threshold: out-of-fold scores with folds grouped by source (a whole public source or a whole corpus file is
held out together, sklearn GroupKFold), then the highest threshold that still passes RECALL_TARGET of the
out-of-fold positives. The dev split is never read here, except by `leave_one_source_out`, which only
scores it.
"""
from __future__ import annotations

import glob
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import GroupKFold

from services.classify.prefilter import CHAR_WORD, Prefilter, design
from services.classify.training.corpus import load_examples, source_name
from services.classify.training.gate import GateRows, gate_rows

RECALL_TARGET = 0.99
C = 1.0
FOLDS = 5
FEATURES = CHAR_WORD
CHATTER_GLOB = "data/real/chatter/*.jsonl"
DEV_GLOB = "data/classify/dev_*.jsonl"


def positives_of(rows: GateRows) -> np.ndarray:
    return np.array([bool(e.labels) for e in rows.examples])


def balanced_weights(y: np.ndarray, weights: np.ndarray, real: np.ndarray) -> np.ndarray:
    """Each of positives, written negatives and real negatives gets the same total weight."""
    cls = np.where(y == 1, 0, np.where(real, 2, 1))
    present = np.unique(cls)
    out = weights.astype(float).copy()
    for c in present:
        mask = cls == c
        out[mask] *= len(y) / (len(present) * out[mask].sum())
    return out


def fit_model(x, y: np.ndarray, sample_weight: np.ndarray, c: float = C) -> LogisticRegression:
    return LogisticRegression(C=c, solver="liblinear", max_iter=2000).fit(x, y, sample_weight=sample_weight)


def grouped_oof(x, y: np.ndarray, sample_weight: np.ndarray, groups: Sequence[str], folds: int = FOLDS,
                c: float = C) -> np.ndarray:
    """Out-of-fold P(signal) with every group (source) held out together."""
    oof = np.zeros(len(y))
    splitter = GroupKFold(n_splits=min(folds, len(set(groups))))
    for train_idx, test_idx in splitter.split(x, y, groups=list(groups)):
        model = fit_model(x[train_idx], y[train_idx], sample_weight[train_idx], c)
        oof[test_idx] = model.predict_proba(x[test_idx])[:, 1]
    return oof


def threshold_for_recall(positive_scores: np.ndarray, target: float = RECALL_TARGET) -> float:
    """The highest threshold that passes at least `target` of these scores."""
    ranked = np.sort(positive_scores)
    return float(ranked[int(np.floor((1 - target) * len(ranked)))])


def rows_design(rows: GateRows):
    return design([e.text for e in rows.examples], [e.parent_text for e in rows.examples], FEATURES)


def fit_inputs(rows: GateRows, x=None) -> tuple:
    """(design, 0/1 labels, balanced sample weights, mask of the real background) of training rows; `x` = the
    design when the caller has it already."""
    y = positives_of(rows).astype(int)
    return (rows_design(rows) if x is None else x, y, balanced_weights(y, rows.weights, rows.real),
            rows.real & (y == 0))


def train_prefilter(rows: GateRows, folds: int = FOLDS, recall_target: float = RECALL_TARGET, x=None) -> Prefilter:
    """Fit on `rows` (gate_rows(written, real)); `x` = design of the rows when the caller has it already."""
    x, y, weight, background = fit_inputs(rows, x)
    oof = grouped_oof(x, y, weight, rows.sources, folds)
    threshold = threshold_for_recall(oof[y == 1], recall_target)
    model = fit_model(x, y, weight)
    return Prefilter(coef=model.coef_[0].astype(np.float32), intercept=float(model.intercept_[0]),
                     threshold=threshold, oof_recall=float(np.mean(oof[y == 1] >= threshold)),
                     oof_pass_rate=float(np.mean(oof[background] >= threshold)) if background.any() else 0.0,
                     features=FEATURES)


def regularisation_sweep(rows: GateRows, cs: Sequence[float], recall_targets: Sequence[float] = (0.99, 0.98, 0.95),
                         folds: int = FOLDS) -> list[dict]:
    """For each C: the out-of-fold pass rate of the real background at each recall target, sources held out
    together as in train_prefilter (`intentflow eval prefilter --sweep-c`). Training rows only; dev is not read."""
    x, y, weight, background = fit_inputs(rows)
    result = []
    for c in cs:
        oof = grouped_oof(x, y, weight, rows.sources, folds, c)
        result.append({"C": c, "pass_rate": {str(target): round(float(np.mean(
            oof[background] >= threshold_for_recall(oof[y == 1], target))), 3) for target in recall_targets}})
    return result


def subset(rows: GateRows, mask: np.ndarray) -> GateRows:
    keep = np.flatnonzero(mask)
    return GateRows([rows.examples[i] for i in keep], [rows.sources[i] for i in keep], rows.weights[keep],
                    rows.real[keep])


@dataclass
class SourceFold:
    source: str
    lang: str
    posts: int
    passed: int                  # posts of the held-out source that pass
    negatives: int
    negatives_passed: int
    threshold: float
    dev_positives: int           # dev positives of the source's language
    dev_passed: int
    dev_all_positives: int       # dev positives of every language
    dev_all_passed: int
    real_positives: int          # real positives of the source's language, all withheld from this fold's fit
    real_passed: int


def _rate(passed: int, total: int) -> float | None:
    return round(passed / total, 4) if total else None


def leave_one_source_out(written: Sequence[str], real: Sequence[str], chatter: Sequence[str] | None = None,
                         dev: Sequence[str] | None = None, folds: int = FOLDS,
                         recall_target: float = RECALL_TARGET, progress: Callable[[str], None] | None = None) -> dict:
    """For each real chatter source S: fit (threshold included) without S, without any real positive of S's
    language and without the other real sources of that language that are not chatter (data/real/signals:
    their look-alikes without their positives would teach the fit that such posts are negatives); then the
    pass rate on S, and the recall on the dev positives and on those withheld real positives.

    `written`/`real`: the training files (as for train_prefilter); `chatter`: the files whose sources are held
    out in turn (default data/real/chatter); `dev`: held-out labelled files (default the dev split), scored
    only."""
    chatter = sorted(glob.glob(CHATTER_GLOB)) if chatter is None else list(chatter)
    dev = sorted(glob.glob(DEV_GLOB)) if dev is None else list(dev)
    rows = gate_rows(written, real)
    x = rows_design(rows)
    positive = positives_of(rows)
    sources = np.array(rows.sources)
    langs = np.array([e.lang for e in rows.examples])
    dev_examples = [e for e in load_examples(dev) if e.labels]
    dev_x = design([e.text for e in dev_examples], [e.parent_text for e in dev_examples], FEATURES)
    dev_langs = np.array([e.lang for e in dev_examples])
    names = np.array([e.extra.get("source", "") for e in rows.examples])
    held_sources = list(dict.fromkeys(source_name(e, path) for path in chatter for e in load_examples([path])))
    signal_source = rows.real & ~np.isin(names, held_sources)
    result = []
    for n, source in enumerate(held_sources, 1):
        held = names == source
        if not held.any():
            continue
        values, counts = np.unique(langs[held], return_counts=True)
        lang = str(values[np.argmax(counts)])
        real_positive = rows.real & positive & (langs == lang)
        same_dataset = np.isin(sources, np.unique(sources[held]))
        train = ~same_dataset & ~real_positive & ~(signal_source & (langs == lang))
        prefilter = train_prefilter(subset(rows, train), folds, recall_target, x=x[np.flatnonzero(train)])
        passes = np.zeros(len(rows), dtype=bool)
        scored = np.flatnonzero(held | real_positive)
        passes[scored] = prefilter.scores_of(x[scored]) >= prefilter.threshold
        dev_pass = prefilter.scores_of(dev_x) >= prefilter.threshold if len(dev_examples) else np.zeros(0, bool)
        in_lang = dev_langs == lang
        fold = SourceFold(
            source=source, lang=lang, posts=int(held.sum()), passed=int(passes[held].sum()),
            negatives=int((held & ~positive).sum()), negatives_passed=int(passes[held & ~positive].sum()),
            threshold=prefilter.threshold,
            dev_positives=int(in_lang.sum()), dev_passed=int(dev_pass[in_lang].sum()),
            dev_all_positives=len(dev_examples), dev_all_passed=int(dev_pass.sum()),
            real_positives=int(real_positive.sum()), real_passed=int(passes[real_positive].sum()))
        result.append(fold)
        if progress:
            progress(f"[{n}/{len(held_sources)}] {source}: pass {_rate(fold.passed, fold.posts)}, "
                     f"dev recall {_rate(fold.dev_passed, fold.dev_positives)}")
    return summarise(result, recall_target, folds)


def summarise(result: list[SourceFold], recall_target: float = RECALL_TARGET, folds: int = FOLDS) -> dict:
    per_source = [{**vars(f), "pass_rate": _rate(f.passed, f.posts),
                   "negatives_pass_rate": _rate(f.negatives_passed, f.negatives),
                   "dev_recall": _rate(f.dev_passed, f.dev_positives),
                   "dev_recall_all": _rate(f.dev_all_passed, f.dev_all_positives),
                   "real_recall": _rate(f.real_passed, f.real_positives)} for f in result]
    per_lang = {}
    for lang in sorted({f.lang for f in result}):
        fs = [f for f in result if f.lang == lang]
        total = {k: sum(getattr(f, k) for f in fs) for k in ("posts", "passed", "negatives", "negatives_passed",
                                                             "dev_positives", "dev_passed", "real_positives",
                                                             "real_passed")}
        # Positives are scored once per fold of the language; pooled over folds, as every fold holds them out.
        per_lang[lang] = {"sources": len(fs), **total, "pass_rate": _rate(total["passed"], total["posts"]),
                          "negatives_pass_rate": _rate(total["negatives_passed"], total["negatives"]),
                          "dev_recall": _rate(total["dev_passed"], total["dev_positives"]),
                          "real_recall": _rate(total["real_passed"], total["real_positives"])}
    all_posts = sum(f.posts for f in result)
    overall = {"posts": all_posts, "pass_rate": _rate(sum(f.passed for f in result), all_posts),
               "dev_recall_all": _rate(sum(f.dev_all_passed for f in result), sum(f.dev_all_positives for f in result)),
               "real_recall": _rate(sum(f.real_passed for f in result), sum(f.real_positives for f in result))}
    return {"recall_target": recall_target, "folds": folds, "features": FEATURES, "per_source": per_source,
            "per_language": per_lang, "overall": overall}


def loso_markdown(report: dict) -> str:
    def fmt(v) -> str:
        return "–" if v is None else f"{v:.3f}"

    lines = ["| held-out source | lang | posts | pass rate | negatives pass | threshold | dev recall (lang) | "
             "dev recall (all) | real positives | real recall |",
             "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in report["per_source"]:
        lines.append(f"| {r['source']} | {r['lang']} | {r['posts']} | {fmt(r['pass_rate'])} | "
                     f"{fmt(r['negatives_pass_rate'])} | {r['threshold']:.3f} | {fmt(r['dev_recall'])} | "
                     f"{fmt(r['dev_recall_all'])} | {r['real_positives']} | {fmt(r['real_recall'])} |")
    for lang, r in report["per_language"].items():
        lines.append(f"| **all {lang}** ({r['sources']} sources) | {lang} | {r['posts']} | {fmt(r['pass_rate'])} | "
                     f"{fmt(r['negatives_pass_rate'])} | | {fmt(r['dev_recall'])} | | {r['real_positives']} | "
                     f"{fmt(r['real_recall'])} |")
    o = report["overall"]
    lines.append(f"| **all** | | {o['posts']} | {fmt(o['pass_rate'])} | | | | {fmt(o['dev_recall_all'])} | | "
                 f"{fmt(o['real_recall'])} |")
    return "\n".join(lines)
