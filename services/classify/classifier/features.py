"""Features of a post for the learned layer.

Per post: the sentence embedding of the text and of its parent post, rule features (phrase groups, negation,
grammatical person) of the text and of the parent, shape cues, and a sparse block of hashed character 2–5-grams
of the text (robust to typos, slang and transliteration) and hashed lemma uni/bigrams of the text and, with their
own prefix, of the parent. Hashing keeps the feature space fixed, so nothing but weights has to be stored.

A comment's parent is also featurised as a post of its own (`Features.parent`), so the model can score what the
parent asks for and read a reply such as "+1, тоже ищу" in that light.
"""
from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from spacy.attrs import IS_SPACE, LEMMA, LOWER
from spacy.tokens import Doc

from intentflow.embedding import Embedder
from intentflow.nlp.tokens import TokenArrays, token_arrays
from intentflow.text.language import detect_language
from services.classify.classifier.rules import RULE_LANGUAGES, RuleEngine, RuleHits

PRICE = re.compile(r"(\d[\d\s.,]*\s*(к|k|тыс|тис|грн|руб|р\b|₽|\$|€|£|usd|uah|eur|zł|pln))|([$€£₴₽]\s*\d)",
                   re.IGNORECASE)
URL = re.compile(r"https?://|www\.|@\w{3,}", re.IGNORECASE)
SHAPE_FEATURES = ("question", "exclamation", "price", "length", "url", "digits", "emoji")
HASH_BITS = 18
PARENT_WEIGHT = 0.25
EMOJI = re.compile("[\U0001F300-\U0001FAFF\u2600-\u27BF]")

_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(3, 5), n_features=2 ** HASH_BITS,
                           alternate_sign=False, norm="l2", lowercase=True, dtype=np.float32)
_WORDS = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=2 ** HASH_BITS, alternate_sign=False,
                           norm="l2", lowercase=False, token_pattern=r"\S+", dtype=np.float32)
SPARSE_DIM = 3 * 2 ** HASH_BITS


@dataclass(frozen=True)
class ClassifyInput:
    text: str
    lang: str = ""
    parent_text: str = ""


@dataclass
class Features:
    embeddings: np.ndarray         # (n, dim) text embeddings, L2-normalised; reused downstream for matching
    parent_embeddings: np.ndarray  # (n, dim), zero rows for posts without a parent
    rules: np.ndarray              # (n, rule features) of the text
    parent_rules: np.ndarray       # (n, rule features) of the parent, zeros without one
    shape: np.ndarray              # (n, len(SHAPE_FEATURES))
    sparse: sp.csr_matrix          # (n, SPARSE_DIM): text chars | text lemmas | parent lemmas
    langs: list[str]
    hits: list[RuleHits]
    lemmas: list[str]              # lemma strings of the texts
    parent_rows: np.ndarray        # indexes of the rows that have a parent
    parent: Features | None      # the parents of parent_rows, featurised as posts of their own
    tokens: list[TokenArrays] | None = None  # the texts' tokens and lemmas, passed on to match (not features)
    texts: list[str] = field(default_factory=list)  # the posts' texts, for the stream gate's second view

    def __len__(self) -> int:
        return len(self.langs)

    @property
    def has_parent(self) -> np.ndarray:
        flags = np.zeros(len(self), dtype=np.float32)
        flags[self.parent_rows] = 1.0
        return flags


def lemma_string(doc: Doc, prefix: str = "") -> str:
    strings = doc.vocab.strings
    lemmas = doc.to_array([LEMMA, LOWER, IS_SPACE]).tolist() if len(doc) else []
    return " ".join(prefix + strings[lemma or lower] for lemma, lower, space in lemmas if not space).lower()


def stack_features(parts: list[Features]) -> Features:
    """One Features from batches built separately (row order kept)."""
    offsets = np.cumsum([0] + [len(p) for p in parts])
    parents = [p.parent for p in parts if p.parent is not None]
    return Features(
        embeddings=np.vstack([p.embeddings for p in parts]),
        parent_embeddings=np.vstack([p.parent_embeddings for p in parts]),
        rules=np.vstack([p.rules for p in parts]), parent_rules=np.vstack([p.parent_rules for p in parts]),
        shape=np.vstack([p.shape for p in parts]), sparse=sp.vstack([p.sparse for p in parts], format="csr"),
        langs=[lang for p in parts for lang in p.langs], hits=[h for p in parts for h in p.hits],
        lemmas=[w for p in parts for w in p.lemmas],
        parent_rows=np.concatenate([p.parent_rows + off for p, off in zip(parts, offsets)]).astype(np.int64),
        parent=stack_features(parents) if parents else None,
        tokens=[t for p in parts for t in p.tokens] if all(p.tokens is not None for p in parts) else None,
        texts=[t for p in parts for t in p.texts])


class FeatureBuilder:
    def __init__(self, embedder: Embedder, rules: RuleEngine):
        self.embedder = embedder
        self.rules = rules

    @property
    def linguistics(self):
        return self.rules.linguistics

    def build(self, inputs: list[ClassifyInput], embeddings: np.ndarray | None = None) -> Features:
        """Features of the inputs; `embeddings` may hold the texts' embeddings if they were computed already."""
        langs = [i.lang if i.lang in ("ru", "uk", "en", "other") else detect_language(i.text) for i in inputs]
        parent_rows = np.array([k for k, i in enumerate(inputs) if i.parent_text.strip()], dtype=np.int64)
        parent_inputs = [ClassifyInput(inputs[k].parent_text, "") for k in parent_rows]
        texts = [i.text for i in inputs]
        if embeddings is None:
            # One encoder call for texts and parents; a text repeated in the batch is encoded once.
            unique = list(dict.fromkeys(texts + [p.text for p in parent_inputs]))
            vectors = dict(zip(unique, self.embedder.encode(unique))) if unique else {}
            embeddings = np.array([vectors[t] for t in texts], dtype=np.float32).reshape(len(texts), -1)
            parent_vectors = np.array([vectors[p.text] for p in parent_inputs], dtype=np.float32)
        else:
            embeddings = np.asarray(embeddings, dtype=np.float32)
            parent_vectors = self.embedder.encode([p.text for p in parent_inputs]) if parent_inputs else None
        parent = self._posts(parent_inputs, None, parent_vectors, tokens=False) if len(parent_rows) else None
        return self._posts(inputs, langs, embeddings, parent_rows, parent)

    def _posts(self, inputs: list[ClassifyInput], langs: list[str] | None, embeddings: np.ndarray,
               parent_rows: np.ndarray | None = None, parent: Features | None = None, tokens: bool = True
               ) -> Features:
        n = len(inputs)
        texts = [i.text for i in inputs]
        if langs is None:
            langs = [detect_language(t) for t in texts]
        rule_langs = [lang if lang in RULE_LANGUAGES else "en" for lang in langs]
        docs = self.linguistics.docs(texts, rule_langs)
        arrays = [doc.to_array([LOWER, LEMMA, IS_SPACE]).tolist() if len(doc) else [] for doc in docs]
        hits = [self.rules.analyse(doc, lang, [row[0] for row in rows])
                for doc, lang, rows in zip(docs, rule_langs, arrays)]
        rules = np.array([h.features for h in hits], dtype=np.float32).reshape(n, self.rules.n_features)
        shape = np.array([_shape(t) for t in texts], dtype=np.float32).reshape(n, len(SHAPE_FEATURES))
        parent_rows = np.zeros(0, dtype=np.int64) if parent_rows is None else parent_rows
        dim = embeddings.shape[1] if embeddings.ndim == 2 and embeddings.shape[1] else self.embedder.dim
        parent_embeddings = np.zeros((n, dim), dtype=np.float32)
        parent_rules = np.zeros_like(rules)
        parent_lemmas = [""] * n
        if parent is not None:
            parent_embeddings[parent_rows] = parent.embeddings
            parent_rules[parent_rows] = parent.rules
            for k, lemmas in zip(parent_rows, parent.lemmas):
                parent_lemmas[k] = " ".join("p_" + w for w in lemmas.split())
        lemmas = [" ".join(doc.vocab.strings[lemma or lower] for lower, lemma, space in rows if not space).lower()
                  for doc, rows in zip(docs, arrays)]
        sparse = sp.hstack([_CHARS.transform(texts), _WORDS.transform(lemmas),
                            PARENT_WEIGHT * _WORDS.transform(parent_lemmas)], format="csr", dtype=np.float32)
        return Features(embeddings.astype(np.float32), parent_embeddings, rules, parent_rules, shape, sparse,
                        list(langs), hits, lemmas, parent_rows, parent,
                        [token_arrays(doc, lang) for doc, lang in zip(docs, rule_langs)] if tokens else None, texts)


def _shape(text: str) -> list[float]:
    words = len(text.split())
    return [float("?" in text), float("!" in text), float(bool(PRICE.search(text))), min(words, 80) / 80,
            float(bool(URL.search(text))), float(any(c.isdigit() for c in text)), float(bool(EMOJI.search(text)))]
