"""Named phrases found on lemmas with spaCy's PhraseMatcher, in whichever language the post is in."""
from __future__ import annotations

from spacy.matcher import PhraseMatcher
from spacy.tokens import Doc

from intentflow.nlp.linguistics import Linguistics

PIPELINE_LANGUAGES = ("ru", "uk", "en")


def pipeline_language(lang: str) -> str:
    return lang if lang in PIPELINE_LANGUAGES else "en"


class PhraseIndex:
    """key -> phrases. Each phrase is lemmatised by every pipeline, so "Мегамарт" matches "в Мегамарте" in a
    Russian post and "у Мегамарті" in a Ukrainian one; lowercase forms are matched too, for brand names
    the morphology does not know."""

    def __init__(self, linguistics: Linguistics, phrases: dict[str, list[str]]):
        self.linguistics = linguistics
        self.phrases = {k: [p for p in v if p.strip()] for k, v in phrases.items()}
        self._matchers: dict[str, tuple[PhraseMatcher, PhraseMatcher]] = {}

    def _matcher(self, lang: str) -> tuple[PhraseMatcher, PhraseMatcher]:
        if lang not in self._matchers:
            vocab = self.linguistics.nlp(lang).vocab
            by_lemma, by_form = PhraseMatcher(vocab, attr="LEMMA"), PhraseMatcher(vocab, attr="LOWER")
            for key, phrases in self.phrases.items():
                if phrases:
                    docs = list(self.linguistics.docs(phrases, [lang] * len(phrases)))
                    by_lemma.add(key, docs)
                    by_form.add(key, docs)
            self._matchers[lang] = (by_lemma, by_form)
        return self._matchers[lang]

    def find(self, doc: Doc, lang: str) -> dict[str, list[str]]:
        """key -> matched surface texts."""
        found: dict[str, list[str]] = {}
        for matcher in self._matcher(pipeline_language(lang)):
            for match_id, start, end in matcher(doc):
                text = doc[start:end].text
                hits = found.setdefault(doc.vocab.strings[match_id], [])
                if text not in hits:
                    hits.append(text)
        return found

    def find_in_text(self, text: str, lang: str) -> dict[str, list[str]]:
        return self.find(self.linguistics.doc(text, pipeline_language(lang)), lang)
