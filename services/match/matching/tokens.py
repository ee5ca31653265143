"""The post's spaCy Doc for matching: rebuilt from the tokens and lemmas classify sent along
(ClassifiedPost.tokens) when they fit, otherwise lemmatised here.

Classify lemmatises with the same intentflow.nlp pipelines and the same language mapping (ru, uk, en; "en"
for anything else, `pipeline_language`), so the rebuilt Doc is the one `Linguistics.doc` would return; on
real chatter rebuilding costs about a quarter of lemmatising with warm caches (0.06 against 0.24 ms per post)
and a third with cold ones. Tokens from another pipeline, or that do not describe the text (an old or
foreign producer, a text changed on the way), are ignored.
"""
from __future__ import annotations

from spacy.tokens import Doc

from intentflow.nlp.linguistics import Linguistics
from intentflow.nlp.tokens import rebuild_doc
from intentflow.v1 import post_pb2
from services.match.matching.phrases import pipeline_language


def post_doc(linguistics: Linguistics, message: post_pb2.ClassifiedPost) -> Doc:
    """message.post.text as a Doc of the pipeline of its language, lemmatised at most once in the pipeline."""
    text, pipeline = message.post.text, pipeline_language(message.post.lang)
    if message.HasField("tokens") and message.tokens.pipeline == pipeline:
        tokens = message.tokens
        doc = rebuild_doc(linguistics.nlp(pipeline).vocab, text, tokens.starts, tokens.ends, tokens.lemmas)
        if doc is not None:
            return doc
    return linguistics.doc(text, pipeline)
