"""The service runtime's gRPC server: requests that do not parse are the caller's fault (INVALID_ARGUMENT)."""
from __future__ import annotations

import grpc
import pytest

from intentflow import auth
from intentflow.v1 import ingest_pb2, post_pb2
from tests.intentflow.test_auth import INGEST_NAME, start_server

SUBMIT = f"/{INGEST_NAME}/SubmitPosts"
NOT_A_POST = b"\x0a\x04\xff\xfe\xfd\xfc"  # field 1 (posts) holding bytes that are no Post


@pytest.fixture
def server(tmp_path):
    """A runtime with auth on and the fake ingest servicer of test_auth; its channel and an ingest bearer."""
    tokens = auth.TokenStore(tmp_path / "tokens.json")
    _, token = tokens.create(auth.INGEST, "crawler")
    runtime, _ = start_server(tmp_path, tokens_file=str(tokens.path), rate_per_s=0)
    with grpc.insecure_channel(f"127.0.0.1:{runtime.grpc_port}") as channel:
        yield channel, [("authorization", f"Bearer {token}")]
    runtime.shutdown()


def status(channel, method: str, body: bytes, metadata=None) -> tuple[grpc.StatusCode, str]:
    """Code and details of one call with `body` sent as raw bytes."""
    try:
        channel.unary_unary(method)(body, timeout=10, metadata=metadata)
        return grpc.StatusCode.OK, ""
    except grpc.RpcError as error:
        return error.code(), error.details()


def test_bytes_that_are_not_the_request_message_are_invalid_argument_not_internal(server):
    channel, bearer = server
    code, details = status(channel, SUBMIT, NOT_A_POST, bearer)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and f"the request to {SUBMIT} is not a valid protobuf" in details
    valid = ingest_pb2.SubmitPostsRequest(posts=[post_pb2.Post(id="1", network="vk", text="hi")])
    reply = channel.unary_unary(SUBMIT, response_deserializer=ingest_pb2.SubmitPostsResponse.FromString)(
        valid.SerializeToString(), timeout=10, metadata=bearer)
    assert [v.post_id for v in reply.verdicts] == ["1"]
    assert status(channel, "/grpc.health.v1.Health/Check", b"\xff")[0] == grpc.StatusCode.INVALID_ARGUMENT


def test_a_caller_without_a_token_learns_nothing_about_parsing(server):
    channel, _ = server
    assert status(channel, SUBMIT, NOT_A_POST)[0] == grpc.StatusCode.UNAUTHENTICATED
