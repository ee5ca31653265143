"""A cheap first stage that rules posts out before the sentence encoder.

Most posts in a real stream carry no signal, and the encoder costs ~10x more per post than everything
else in classify. This stage scores "any signal at all" from hashed character n-grams (and, in models trained
with real chatter as background, hashed word uni- and bigrams; no tokeniser, no encoder) with a logistic
model, and lets a post skip the full classifier only when that score is below a threshold chosen on
out-of-fold training predictions (folds grouped by source) to keep a recall target of the positives
(services/classify/training/prefilter.py). The recall it really keeps is measured by
`intentflow eval prefilter` and reported with the benchmark.
"""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer

from services.classify.artifact import load_artifact, save_artifact

HASH_BITS = 18
CHAR, CHAR_WORD = "char", "char+word"   # feature sets: a model records the one it was trained on
_VECTORIZER = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=2 ** HASH_BITS,
                                alternate_sign=False, norm="l2", lowercase=True)
_WORDS = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=2 ** HASH_BITS, alternate_sign=False,
                           norm="l2", lowercase=True, token_pattern=r"(?u)\b\w+\b")


def design(texts: list[str], parents: list[str], features: str = CHAR):
    """Sparse rows: char n-grams (2**HASH_BITS columns), then word n-grams (as many more) for CHAR_WORD."""
    # The parent is part of the evidence for a comment ("+1, тоже ищу"), so it is scored with it.
    joined = [f"{t} \n {p}" if p else t for t, p in zip(texts, parents)]
    chars = _VECTORIZER.transform(joined)
    if features == CHAR:
        return chars
    if features != CHAR_WORD:
        raise ValueError(f"unknown prefilter features {features!r}")
    return sp.hstack([chars, _WORDS.transform(joined)], format="csr")


@dataclass
class Prefilter:
    coef: np.ndarray       # (2**HASH_BITS,)
    intercept: float
    threshold: float
    oof_recall: float
    oof_pass_rate: float   # out-of-fold share of the real background (unlabelled real posts) that passes
    features: str = CHAR

    def scores(self, texts: list[str], parents: list[str] | None = None) -> np.ndarray:
        parents = parents or [""] * len(texts)
        return self.scores_of(design(texts, parents, self.features))

    def scores_of(self, x) -> np.ndarray:
        """Scores of rows already built by `design(..., self.features)`."""
        z = x @ self.coef + self.intercept
        return 1.0 / (1.0 + np.exp(-z))

    def passes(self, texts: list[str], parents: list[str] | None = None) -> np.ndarray:
        """True where the post may carry a signal and must go through the full classifier."""
        return self.scores(texts, parents) >= self.threshold

    def save(self, path: str | Path) -> None:
        save_artifact(path, {"coef": self.coef.astype(np.float32)}, {
            "intercept": self.intercept, "threshold": self.threshold, "oof_recall": self.oof_recall,
            "oof_pass_rate": self.oof_pass_rate, "features": self.features})

    @classmethod
    def load(cls, path: str | Path) -> Prefilter:
        arrays, meta = load_artifact(path, "prefilter model")
        return cls(coef=arrays["coef"].astype(np.float32), **meta)
