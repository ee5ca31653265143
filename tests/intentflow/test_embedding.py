"""RecentEmbeddings: texts seen recently are not encoded again."""
from __future__ import annotations

import numpy as np

from intentflow.embedding import RecentEmbeddings


class CountingEmbedder:
    name, dim = "fake", 4

    def __init__(self):
        self.encoded: list[str] = []

    def encode(self, texts):
        self.encoded += list(texts)
        return np.array([[len(t), t.count("a"), 1.0, 0.0] for t in texts], dtype=np.float32).reshape(-1, self.dim)


def test_a_text_seen_before_is_not_encoded_again_and_rows_keep_their_order():
    inner = CountingEmbedder()
    cache = RecentEmbeddings(inner, size=8)
    first = cache.encode(["post a", "other post"])
    # A comment on "post a": its parent arrives as parent text of a later batch.
    second = cache.encode(["reply +1", "post a", "reply +1"])
    assert inner.encoded == ["post a", "other post", "reply +1"]
    assert np.array_equal(second[1], first[0]) and np.array_equal(second[0], second[2])
    assert np.array_equal(second, inner.encode(["reply +1", "post a", "reply +1"]))
    assert (cache.hits, cache.misses) == (1, 3), "hits: rows from the cache; misses: texts encoded"
    assert cache.name == "fake" and cache.dim == 4 and cache.encode([]).shape == (0, 4)


def test_the_least_recently_used_text_is_forgotten_first():
    inner = CountingEmbedder()
    cache = RecentEmbeddings(inner, size=2)
    cache.encode(["a", "b"])
    cache.encode(["a"])          # "a" used again: "b" is now the oldest
    cache.encode(["c"])          # evicts "b"
    inner.encoded.clear()
    cache.encode(["a", "b", "c"])
    assert inner.encoded == ["b"]
