"""Features of a post for the learned layer.

Dense block: text embedding, parent embedding, rule hits of the text and of its parent, shape cues.
Sparse block: hashed character n-grams of the text (robust to typos, slang and transliteration) and
hashed lemma uni/bigrams of the text and, with their own prefix, of the parent post. Hashing keeps the
feature space fixed, so nothing but the weights has to be stored.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
from sklearn.feature_extraction.text import HashingVectorizer
from spacy.tokens import Doc

from intentflow.classifier.rules import RULE_LANGUAGES, RuleEngine, RuleHits
from intentflow.embedding import Embedder
from intentflow.text.language import detect_language

PRICE = re.compile(r"(\d[\d\s.,]*\s*(к|k|тыс|тис|грн|руб|р\b|₽|\$|€|usd|uah))|([$€₴₽]\s*\d)", re.IGNORECASE)
URL = re.compile(r"https?://|www\.", re.IGNORECASE)
SHAPE_FEATURES = ("has_parent", "question", "price", "length", "url")
HASH_BITS = 18
PARENT_WEIGHT = 0.5

_CHARS = HashingVectorizer(analyzer="char_wb", ngram_range=(2, 5), n_features=2 ** HASH_BITS,
                           alternate_sign=False, norm="l2", lowercase=True)
_WORDS = HashingVectorizer(analyzer="word", ngram_range=(1, 2), n_features=2 ** HASH_BITS, alternate_sign=False,
                           norm="l2", lowercase=False, token_pattern=r"\S+")


@dataclass(frozen=True)
class ClassifyInput:
    text: str
    lang: str = ""
    parent_text: str = ""


@dataclass
class Features:
    dense: np.ndarray           # (n, dense_dim) float32
    sparse: sp.csr_matrix       # (n, 3 * 2**HASH_BITS)
    langs: list[str]
    embeddings: np.ndarray      # (n, embedder.dim) text embeddings, reused downstream for matching
    hits: list[RuleHits]


def lemma_string(doc: Doc, prefix: str = "") -> str:
    return " ".join(prefix + (t.lemma_ or t.lower_).lower() for t in doc if not t.is_space)


class FeatureBuilder:
    def __init__(self, embedder: Embedder, rules: RuleEngine):
        self.embedder = embedder
        self.rules = rules

    @property
    def linguistics(self):
        return self.rules.linguistics

    def build(self, inputs: list[ClassifyInput], embeddings: np.ndarray | None = None) -> Features:
        texts = [i.text for i in inputs]
        langs = [i.lang if i.lang in ("ru", "uk", "en", "other") else detect_language(i.text) for i in inputs]
        if embeddings is None:
            embeddings = self.embedder.encode(texts)
        rule_langs = [lang if lang in RULE_LANGUAGES else "en" for lang in langs]
        docs = self.linguistics.docs(texts, rule_langs)
        hits = [self.rules.analyse(doc, lang) for doc, lang in zip(docs, rule_langs)]
        parent_embeddings, parent_rules, parent_lemmas = self._parents(inputs, rule_langs)
        shape = np.array([_shape(i) for i in inputs], dtype=np.float32).reshape(len(inputs), len(SHAPE_FEATURES))
        rule_matrix = np.array([h.features for h in hits], dtype=np.float32).reshape(len(inputs), -1)
        dense = np.hstack([embeddings, parent_embeddings, rule_matrix, parent_rules, shape]).astype(np.float32)
        sparse = sp.hstack([_CHARS.transform(texts), _WORDS.transform([lemma_string(d) for d in docs]),
                            PARENT_WEIGHT * _WORDS.transform(parent_lemmas)], format="csr", dtype=np.float32)
        return Features(dense, sparse, langs, embeddings, hits)

    def _parents(self, inputs: list[ClassifyInput], langs: list[str]):
        n, groups = len(inputs), len(self.rules.groups)
        embeddings = np.zeros((n, self.embedder.dim), dtype=np.float32)
        rules = np.zeros((n, groups), dtype=np.float32)
        lemmas = [""] * n
        with_parent = [k for k, i in enumerate(inputs) if i.parent_text]
        if with_parent:
            texts = [inputs[k].parent_text for k in with_parent]
            embeddings[with_parent] = self.embedder.encode(texts)
            docs = self.linguistics.docs(texts, [langs[k] for k in with_parent])
            for k, doc in zip(with_parent, docs):
                rules[k] = self.rules.analyse(doc, langs[k]).features[:groups]
                lemmas[k] = lemma_string(doc, prefix="p_")
        return embeddings, rules, lemmas


def _shape(item: ClassifyInput) -> list[float]:
    return [float(bool(item.parent_text)), float("?" in item.text), float(bool(PRICE.search(item.text))),
            min(len(item.text.split()), 80) / 80, float(bool(URL.search(item.text)))]
