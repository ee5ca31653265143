"""The plaintext health port beside a TLS gRPC port (INTENTFLOW_HEALTH_PORT): what Kubernetes' native gRPC
probes, which cannot speak TLS, are pointed at in deploy/kubernetes/."""
from __future__ import annotations

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from intentflow.v1 import classify_pb2, classify_pb2_grpc
from tests.intentflow.test_auth import code_of, self_signed, start_server
from tools.broker import free_port


def health_of(port: int) -> int:
    with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
        return health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest(), timeout=10).status


def test_the_health_port_answers_probes_in_plaintext_and_nothing_else(tmp_path):
    cert, key = self_signed(tmp_path)
    runtime, _ = start_server(tmp_path, tls_cert=cert, tls_key=key, health_port=free_port())
    try:
        assert runtime.tls and health_of(runtime.health_port) == health_pb2.HealthCheckResponse.SERVING
        with grpc.insecure_channel(f"127.0.0.1:{runtime.health_port}") as channel:
            classify = classify_pb2_grpc.ClassifyServiceStub(channel)
            assert code_of(lambda: classify.Classify(classify_pb2.ClassifyRequest(), timeout=10)) \
                == grpc.StatusCode.UNIMPLEMENTED, "only health is served in plaintext"
        runtime.running.clear()
        runtime._update_status()
        assert health_of(runtime.health_port) == health_pb2.HealthCheckResponse.NOT_SERVING, "shares the statuses"
    finally:
        runtime.shutdown()


def test_without_a_health_port_there_is_none(tmp_path):
    runtime, _ = start_server(tmp_path)
    try:
        assert runtime.health_server is None and runtime.health_port == 0
    finally:
        runtime.shutdown()
