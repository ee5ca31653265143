"""Classify service main: the posts.clean stream and the ad-hoc Classify API share one classifier."""
from __future__ import annotations

import logging
import time

import grpc

from intentflow import auth, topology
from intentflow.embedding import RecentEmbeddings, load_embedder
from intentflow.kafka_io import OutMessage, StreamStage
from intentflow.metrics import RECORDS, RPCS, SIGNALS, STAGE_SECONDS
from intentflow.nlp.tokens import TokenArrays
from intentflow.service import dead_letter_for, serve, start_runtime
from intentflow.settings import ClassifySettings, from_env
from intentflow.signals import TO_PROTO
from intentflow.v1 import classify_pb2, classify_pb2_grpc, post_pb2
from intentflow.wire import BadRecord, decode_post, encode, post_key
from services.classify.classifier import ClassifyInput, Result, SignalClassifier, load_classifier
from services.classify.prefilter import Prefilter

SERVICE = topology.CLASSIFY
MAX_INPUTS = 256
MAX_TEXT_CHARS = 20000
ROLES = {"Classify": auth.ANY_ROLE}  # who may call what when auth is on
# Embeddings of the last this many distinct texts (posts and parents) are kept, 2 KB each for USE: a comment's
# parent was usually classified as a post shortly before, and is then not encoded again.
EMBEDDING_CACHE = 4096
log = logging.getLogger(__name__)


def to_classifications(result: Result) -> list[post_pb2.Classification]:
    return [post_pb2.Classification(
        signal=TO_PROTO[v.signal], probability=v.probability, positive=v.positive, reason=v.reason,
        evidence=[post_pb2.EvidenceSpan(start=s.start, end=s.end, text=s.text, rule=s.rule) for s in v.evidence])
        for v in result.verdicts]


def to_tokens(tokens: TokenArrays | None) -> post_pb2.PostTokens | None:
    if tokens is None:
        return None
    return post_pb2.PostTokens(pipeline=tokens.pipeline, starts=tokens.starts, ends=tokens.ends,
                               lemmas=tokens.lemmas)


def ruled_out(score: float) -> list[post_pb2.Classification]:
    reason = f"ruled out by the first stage (any-signal score {score:.3f})"
    return [post_pb2.Classification(signal=signal, probability=score, positive=False, reason=reason)
            for signal in TO_PROTO.values()]


class ClassifyHandler:
    def __init__(self, settings: ClassifySettings, classifier: SignalClassifier, prefilter: Prefilter | None):
        self.topic_out = settings.kafka.topic_classified
        self.classifier = classifier
        self.prefilter = prefilter
        self.dead_letter = dead_letter_for(settings.kafka, SERVICE)

    def process(self, records) -> list[OutMessage]:
        outputs: list[OutMessage] = []
        posts, keys = [], []
        for record in records:
            try:
                posts.append(decode_post(record.value))
                keys.append(record.key)
            except BadRecord as exc:
                RECORDS.labels(SERVICE, "rejected").inc()
                outputs.append(self.dead_letter(record, str(exc)))
        started = time.perf_counter()
        scores = self._first_stage(posts)
        full = [n for n in range(len(posts)) if scores is None or scores[n] >= self.prefilter.threshold]
        STAGE_SECONDS.labels(SERVICE, "prefilter").observe(time.perf_counter() - started)
        results = dict(zip(full, self.classifier.classify(
            [ClassifyInput(posts[n].text, posts[n].lang, posts[n].parent_text) for n in full])))
        STAGE_SECONDS.labels(SERVICE, "classify_batch").observe(time.perf_counter() - started)
        for n, (post, key) in enumerate(zip(posts, keys)):
            message = self._classified(post, results[n]) if n in results else self._ruled_out(post, scores[n])
            outputs.append(OutMessage(self.topic_out, key or post_key(post).encode(), encode(message)))
        return outputs

    def _first_stage(self, posts: list[post_pb2.Post]):
        if self.prefilter is None:
            return None
        return self.prefilter.scores([p.text for p in posts], [p.parent_text for p in posts])

    def _ruled_out(self, post: post_pb2.Post, score: float) -> post_pb2.ClassifiedPost:
        RECORDS.labels(SERVICE, "ruled_out").inc()
        return post_pb2.ClassifiedPost(post=post, classifications=ruled_out(float(score)),
                                       classifier_version=self.classifier.model.version)

    def _classified(self, post: post_pb2.Post, result: Result) -> post_pb2.ClassifiedPost:
        RECORDS.labels(SERVICE, "classified").inc()
        for verdict in result.verdicts:
            if verdict.positive:
                SIGNALS.labels(SERVICE, verdict.signal).inc()
        post.lang = result.lang
        message = post_pb2.ClassifiedPost(
            post=post, classifications=to_classifications(result), embedding=result.embedding.tolist(),
            embedding_model=self.classifier.embedder.name, classifier_version=self.classifier.model.version,
            tokens=to_tokens(result.tokens))
        if result.second_view is not None:
            message.second_embedding.extend(result.second_view.tolist())
            message.second_embedding_model = self.classifier.second_encoder.name
        return message


class ClassifyServicer(classify_pb2_grpc.ClassifyServiceServicer):
    def __init__(self):
        self.classifier: SignalClassifier | None = None  # set once the model is loaded

    def Classify(self, request, context):
        if self.classifier is None:
            context.abort(grpc.StatusCode.UNAVAILABLE, "model is still loading")
        if len(request.inputs) > MAX_INPUTS:
            RPCS.labels(SERVICE, "Classify", "INVALID_ARGUMENT").inc()
            context.abort(grpc.StatusCode.INVALID_ARGUMENT, f"at most {MAX_INPUTS} inputs per call")
        for n, item in enumerate(request.inputs):
            if not item.text.strip() or len(item.text) > MAX_TEXT_CHARS:
                RPCS.labels(SERVICE, "Classify", "INVALID_ARGUMENT").inc()
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"inputs[{n}].text must be non-empty and at most {MAX_TEXT_CHARS} characters")
        results = self.classifier.classify(
            [ClassifyInput(i.text, i.lang, i.parent_text) for i in request.inputs])
        RPCS.labels(SERVICE, "Classify", "OK").inc()
        return classify_pb2.ClassifyResponse(results=[
            classify_pb2.ClassifyResult(lang=r.lang, classifications=to_classifications(r)) for r in results])


def main() -> None:
    settings = from_env(ClassifySettings)
    runtime = start_runtime(SERVICE, settings.server, settings.grpc_port, settings.metrics_port)
    servicer = ClassifyServicer()
    runtime.add_service(classify_pb2.DESCRIPTOR.services_by_name["ClassifyService"].full_name,
                        lambda server: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(servicer, server),
                        roles=ROLES)

    def load() -> StreamStage:
        servicer.classifier = load_classifier(settings.model, RecentEmbeddings(
            load_embedder(settings.model.embedder, settings.model.encoder_threads), EMBEDDING_CACHE))
        prefilter = Prefilter.load(settings.model.prefilter_path) if settings.model.prefilter else None
        handler = ClassifyHandler(settings, servicer.classifier, prefilter)
        return StreamStage(SERVICE, settings.kafka, settings.group_id, settings.kafka.topic_clean,
                           handler.process, runtime.running, handler.dead_letter)

    serve(runtime, settings.kafka, load)
