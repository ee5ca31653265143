"""Lemma phrase rules (spaCy PhraseMatcher on LEMMA): features for the learned layer and evidence spans."""
from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import yaml
from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from intentflow.nlp.linguistics import Linguistics

RULES_PATH = Path(__file__).with_name("rules.yaml")
NEGATION = "negation"
NEGATION_REACH = 2  # tokens before a match that can negate it ("не ищу работу", "not looking for a job")
RULE_LANGUAGES = ("ru", "uk", "en")


@dataclass(frozen=True)
class Span:
    start: int
    end: int
    text: str
    rule: str


@dataclass
class RuleHits:
    features: np.ndarray
    spans: list[Span]


class RuleEngine:
    """One matcher per pipeline language holding every language's phrases, because posts mix languages
    (Surzhyk, English words in Russian posts); each phrase is lemmatised by the pipeline it is matched with."""

    def __init__(self, linguistics: Linguistics, path: Path = RULES_PATH):
        self.linguistics = linguistics
        spec = yaml.safe_load(path.read_text(encoding="utf-8"))
        self.negations = {str(w).lower() for words in spec.pop(NEGATION).values() for w in words}
        self.groups: list[str] = list(spec)
        self._index = {g: i for i, g in enumerate(self.groups)}
        self._phrases = {g: sorted({str(p) for words in by_lang.values() for p in words}) for g, by_lang in spec.items()}
        self._matchers: dict[str, PhraseMatcher] = {}

    @property
    def n_features(self) -> int:
        return 2 * len(self.groups)

    def feature_names(self) -> list[str]:
        return [f"rule:{g}" for g in self.groups] + [f"rule:{g}:negated" for g in self.groups]

    def _matcher(self, lang: str) -> PhraseMatcher:
        if lang not in self._matchers:
            nlp = self.linguistics.nlp(lang)
            matcher = PhraseMatcher(nlp.vocab, attr="LEMMA")
            for group, phrases in self._phrases.items():
                matcher.add(group, list(self.linguistics.docs(phrases, [lang] * len(phrases))))
            self._matchers[lang] = matcher
        return self._matchers[lang]

    def analyse(self, doc: Doc, lang: str) -> RuleHits:
        counts = np.zeros(len(self.groups), dtype=np.float32)
        negated = np.zeros(len(self.groups), dtype=np.float32)
        spans: list[Span] = []
        matcher = self._matcher(lang)
        for match_id, start, end in matcher(doc):
            group = doc.vocab.strings[match_id]
            i = self._index[group]
            counts[i] += 1
            if any(t.lower_ in self.negations for t in doc[max(0, start - NEGATION_REACH):start]):
                negated[i] += 1
            span = doc[start:end]
            spans.append(Span(span.start_char, span.end_char, span.text, group))
        features = np.concatenate([np.minimum(counts, 3) / 3, np.minimum(negated, 3) / 3])
        return RuleHits(features, spans)
