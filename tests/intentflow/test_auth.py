"""Tokens, roles, rate limits and TLS on a real gRPC server (ServiceRuntime on port 0)."""
from __future__ import annotations

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from intentflow import auth
from intentflow.runtime import ServiceRuntime
from intentflow.settings import ServerSettings
from intentflow.v1 import classify_pb2, classify_pb2_grpc, ingest_pb2, ingest_pb2_grpc, post_pb2
from services.classify.app import ROLES as CLASSIFY_ROLES
from services.classify.app import ClassifyServicer
from services.ingest.app import ROLES as INGEST_ROLES

INGEST_NAME = ingest_pb2.DESCRIPTOR.services_by_name["IngestService"].full_name
CLASSIFY_NAME = classify_pb2.DESCRIPTOR.services_by_name["ClassifyService"].full_name


class FakeClassifier:
    """Answers without a model and records who called."""

    def __init__(self):
        self.callers: list[auth.Identity | None] = []

    def classify(self, inputs):
        self.callers.append(auth.current_identity())
        return [SimpleNamespace(lang="en", verdicts=[]) for _ in inputs]


class FakeIngest(ingest_pb2_grpc.IngestServiceServicer):
    """Stands in for ingest's servicer: the interceptor decides before it runs (the real one is tested
    against the broker in tests/services/ingest/test_faults.py)."""

    def SubmitPosts(self, request, context):
        return ingest_pb2.SubmitPostsResponse(verdicts=[ingest_pb2.PostVerdict(post_id=p.id) for p in request.posts])


def start_server(tmp_path: Path, **server) -> tuple[ServiceRuntime, FakeClassifier]:
    settings = ServerSettings(grace_seconds=0.5, **server)
    runtime = ServiceRuntime("test", settings, 0, 0)
    classify = ClassifyServicer()
    classify.classifier = FakeClassifier()
    runtime.add_service(CLASSIFY_NAME, lambda s: classify_pb2_grpc.add_ClassifyServiceServicer_to_server(classify, s),
                        roles=CLASSIFY_ROLES)
    runtime.add_service(INGEST_NAME, lambda s: ingest_pb2_grpc.add_IngestServiceServicer_to_server(FakeIngest(), s),
                        roles=INGEST_ROLES)
    runtime.start()
    runtime.mark_serving()
    return runtime, classify.classifier


@pytest.fixture
def tokens(tmp_path) -> auth.TokenStore:
    return auth.TokenStore(tmp_path / "tokens.json")


@pytest.fixture
def server(tmp_path, tokens):
    runtime, classifier = start_server(tmp_path, tokens_file=str(tokens.path))
    yield runtime, classifier
    runtime.shutdown()


def code_of(call) -> grpc.StatusCode:
    try:
        call()
    except grpc.RpcError as exc:
        return exc.code()
    return grpc.StatusCode.OK


def calls(runtime: ServiceRuntime, token: str = "", tls_ca: str = ""):
    channel = auth.channel(f"127.0.0.1:{runtime.grpc_port}", tls_ca, token)
    ingest = ingest_pb2_grpc.IngestServiceStub(channel)
    classify = classify_pb2_grpc.ClassifyServiceStub(channel)
    submit = lambda: ingest.SubmitPosts(ingest_pb2.SubmitPostsRequest(  # noqa: E731
        posts=[post_pb2.Post(id="1", network="vk", text="hello")]), timeout=10)
    classify_call = lambda: classify.Classify(classify_pb2.ClassifyRequest(  # noqa: E731
        inputs=[classify_pb2.ClassifyInput(text="need a laptop")]), timeout=10)
    return channel, submit, classify_call


# -- the tokens file -------------------------------------------------------------------------------------
def test_the_tokens_file_stores_only_hashes(tokens):
    record, token = tokens.create(auth.SALES, "anna")
    text = tokens.path.read_text("utf-8")
    secret = token.split("_", 2)[2]
    assert secret not in text and token not in text
    row = json.loads(text)["tokens"][0]
    assert set(row) == {"id", "role", "name", "created", "revoked", "sha256"}
    assert row["sha256"] == auth._digest(secret) and row["role"] == "sales" and row["name"] == "anna"
    assert tokens.path.stat().st_mode & 0o077 == 0, "the tokens file is readable by others"
    assert tokens.verify(token) == auth.Identity(record.id, auth.SALES, "anna")


def test_unknown_malformed_and_revoked_tokens_do_not_verify(tokens):
    record, token = tokens.create(auth.RECRUITER, "bob")
    assert tokens.verify(token[:-1] + ("A" if token[-1] != "A" else "B")) is None
    assert tokens.verify("ift_nope_secret") is None and tokens.verify("garbage") is None and tokens.verify("") is None
    assert tokens.revoke(record.id).revoked
    assert tokens.verify(token) is None
    assert [r.revoked != "" for r in tokens.list()] == [True]
    with pytest.raises(ValueError):
        tokens.revoke("missing")
    with pytest.raises(ValueError):
        tokens.create("superuser", "eve")


def test_a_second_store_sees_revocations_without_restart(tokens):
    record, token = tokens.create(auth.ADMIN, "ops")
    service_side = auth.TokenStore(tokens.path)
    assert service_side.verify(token) is not None
    tokens.revoke(record.id)
    assert service_side.verify(token) is None


def test_token_bucket_allows_the_burst_then_refills():
    bucket = auth.TokenBucket(rate_per_s=1.0, burst=2)
    assert [bucket.take("t", now=0.0) for _ in range(3)] == [True, True, False]
    assert bucket.take("other", now=0.0)
    assert bucket.take("t", now=1.0) and not bucket.take("t", now=1.0)
    assert all(auth.TokenBucket(0, 1).take("t") for _ in range(100))


# -- roles on real servers -------------------------------------------------------------------------------
@pytest.mark.parametrize("role", auth.ROLES)
def test_each_role_against_ingest_and_classify(server, tokens, role):
    runtime, classifier = server
    record, token = tokens.create(role, f"user-{role}")
    channel, submit, classify = calls(runtime, token)
    with channel:
        expected = grpc.StatusCode.OK if role in (auth.INGEST, auth.ADMIN) else grpc.StatusCode.PERMISSION_DENIED
        assert code_of(submit) == expected
        assert code_of(classify) == grpc.StatusCode.OK
    assert classifier.callers[-1] == auth.Identity(record.id, role, f"user-{role}")


def test_no_token_bad_token_and_revoked_token_are_unauthenticated(server, tokens):
    runtime, _ = server
    record, token = tokens.create(auth.ADMIN, "ops")
    for bad in ("", "ift_0000_nope", token + "x"):
        channel, submit, classify = calls(runtime, bad)
        with channel:
            assert code_of(submit) == grpc.StatusCode.UNAUTHENTICATED
            assert code_of(classify) == grpc.StatusCode.UNAUTHENTICATED
    channel, submit, _ = calls(runtime, token)
    with channel:
        assert code_of(submit) == grpc.StatusCode.OK
        tokens.revoke(record.id)
        assert code_of(submit) == grpc.StatusCode.UNAUTHENTICATED


def test_health_and_reflection_stay_open(server):
    runtime, _ = server
    from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
    with grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
        assert health.status == health_pb2.HealthCheckResponse.SERVING
        answers = reflection_pb2_grpc.ServerReflectionStub(channel).ServerReflectionInfo(
            iter([reflection_pb2.ServerReflectionRequest(list_services="")]), timeout=10)
        names = {s.name for a in answers for s in a.list_services_response.service}
        assert INGEST_NAME in names


def test_a_method_missing_from_the_table_is_admin_only(tmp_path, tokens):
    interceptor = auth.AuthInterceptor(tokens)
    interceptor.allow(CLASSIFY_NAME, {"Classify": auth.ANY_ROLE})
    assert interceptor.roles_for("/intentflow.v1.MatchService/PullLeads") == {auth.ADMIN}
    with pytest.raises(ValueError):
        interceptor.allow(CLASSIFY_NAME, {"Classify": {"root"}})


def test_rate_limit_per_token_answers_resource_exhausted(tmp_path, tokens):
    runtime, _ = start_server(tmp_path, tokens_file=str(tokens.path), rate_per_s=0.001, rate_burst=2)
    try:
        _, first = tokens.create(auth.SALES, "fast")
        _, second = tokens.create(auth.SALES, "other")
        channel, _, classify = calls(runtime, first)
        with channel:
            assert [code_of(classify) for _ in range(3)] == [grpc.StatusCode.OK, grpc.StatusCode.OK,
                                                             grpc.StatusCode.RESOURCE_EXHAUSTED]
        channel, _, classify = calls(runtime, second)
        with channel:
            assert code_of(classify) == grpc.StatusCode.OK, "the limit is per token"
    finally:
        runtime.shutdown()


def test_auth_is_off_without_a_tokens_file(tmp_path):
    runtime, classifier = start_server(tmp_path)
    try:
        channel, submit, classify = calls(runtime)
        with channel:
            assert code_of(submit) == grpc.StatusCode.OK and code_of(classify) == grpc.StatusCode.OK
        assert classifier.callers == [None]
    finally:
        runtime.shutdown()


# -- TLS -------------------------------------------------------------------------------------------------
def self_signed(tmp_path: Path) -> tuple[str, str]:
    """A self-signed certificate for 127.0.0.1 and localhost, made with the openssl CLI."""
    cert, key = tmp_path / "server.crt", tmp_path / "server.key"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localhost",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout", str(key), "-out", str(cert)],
                   check=True, capture_output=True)
    return str(cert), str(key)


def test_tls_round_trip_with_tokens(tmp_path, tokens):
    cert, key = self_signed(tmp_path)
    runtime, classifier = start_server(tmp_path, tls_cert=cert, tls_key=key, tokens_file=str(tokens.path))
    try:
        assert runtime.tls
        _, token = tokens.create(auth.HR_BRAND, "hr")
        channel, submit, classify = calls(runtime, token, tls_ca=cert)
        with channel:
            health = health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10)
            assert health.status == health_pb2.HealthCheckResponse.SERVING
            assert code_of(classify) == grpc.StatusCode.OK
            assert code_of(submit) == grpc.StatusCode.PERMISSION_DENIED
        assert classifier.callers[-1].role == auth.HR_BRAND
        channel, _, classify = calls(runtime, token)  # plaintext client against the TLS server
        with channel:
            assert code_of(classify) == grpc.StatusCode.UNAVAILABLE
    finally:
        runtime.shutdown()


def test_tls_needs_both_certificate_and_key(tmp_path):
    cert, _key = self_signed(tmp_path)
    with pytest.raises(ValueError):
        auth.server_credentials(cert, "")
