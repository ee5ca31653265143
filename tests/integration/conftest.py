"""A session-wide embedded stack: tansu + ingest + classify + match as real processes on free ports."""
from __future__ import annotations

import grpc
import pytest

from intentflow.settings import KafkaSettings, from_env
from intentflow.v1 import ingest_pb2_grpc, match_pb2_grpc
from tools.stack import LocalStack

PROFILES = "data/profiles/catalog.json"


@pytest.fixture(scope="session")
def stack(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("stack")
    with LocalStack(workdir, env={"INTENTFLOW_PROFILES_FILE": PROFILES, "MATCH_ALERT_MIN_COUNT": "3",
                                  "INTENTFLOW_GRACE_SECONDS": "5"}) as running:
        yield running
    for service, process in running.processes.items():
        assert process.poll() is not None, f"{service} still running after the stack stopped"
        assert process.returncode == 0, f"{service} exited with {process.returncode} on SIGTERM"
    assert running.broker is None or running.broker.process is None, "embedded broker left running"


@pytest.fixture(scope="session")
def kafka(stack) -> KafkaSettings:
    return from_env(KafkaSettings, {"KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers})


@pytest.fixture(scope="session")
def match(stack):
    with grpc.insecure_channel(stack.address("match")) as channel:
        yield match_pb2_grpc.MatchServiceStub(channel)


@pytest.fixture(scope="session")
def ingest(stack):
    with grpc.insecure_channel(stack.address("ingest")) as channel:
        yield ingest_pb2_grpc.IngestServiceStub(channel)


@pytest.fixture
def kayak_leads(ingest, match):
    """Factory of fresh test products with leads; the products are deleted after the test."""
    from tests.integration.helpers import submit_kayak_leads
    created: list[str] = []
    yield lambda count: submit_kayak_leads(ingest, match, count, created)
    from intentflow.v1 import match_pb2
    for product_id in created:
        match.DeleteProduct(match_pb2.DeleteProfileRequest(id=product_id))
