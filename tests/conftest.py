"""Shared fixtures. The integration fixtures start the real broker (tansu) and the real services."""
from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
os.chdir(ROOT)  # tests read the shipped data/ and models/ by relative path
# Before grpc is first imported: the stacks start (and restart) children with a preexec_fn, so by fork+exec,
# and gRPC's fork handlers would restart its poller in the child, which aborts (SIGABRT) when the child
# closes its descriptors before exec. The children exec at once and need none of gRPC's state.
os.environ.setdefault("GRPC_ENABLE_FORK_SUPPORT", "false")


@pytest.fixture(scope="module")
def broker(tmp_path_factory):
    """The embedded broker (tansu, memory storage), one per test module that asks for it."""
    from tools.broker import EmbeddedBroker
    with EmbeddedBroker(log_file=tmp_path_factory.mktemp("broker") / "broker.log") as running:
        yield running
