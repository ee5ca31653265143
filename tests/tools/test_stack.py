"""The local stack's layout, without starting it: replicas, their ports, and the store several match processes
need."""
from __future__ import annotations

import subprocess
import sys
import time

import pytest

from tools.stack import LocalStack, require_shared_store

PG = "postgresql://postgres@127.0.0.1:5432/test"


def test_replicas_get_their_own_ports_and_join_their_services_group(tmp_path):
    stack = LocalStack(tmp_path, env={"INTENTFLOW_DATABASE_URL": PG}, classify_replicas=2, match_replicas=3)
    assert stack.replicas("classify") == ["classify", "classify-2"]
    assert stack.replicas("match") == ["match", "match-2", "match-3"]
    assert len({port for ports in stack.ports.values() for port in ports}) == 2 * len(stack.ports)


@pytest.mark.parametrize("url", ["sqlite:///var/intentflow.db", ""])
def test_several_match_processes_refuse_a_store_they_cannot_share(tmp_path, monkeypatch, url):
    monkeypatch.delenv("INTENTFLOW_DATABASE_URL", raising=False)  # "": the stack's own SQLite default
    with pytest.raises(ValueError, match="INTENTFLOW_DATABASE_URL=postgresql://"):
        LocalStack(tmp_path, env={"INTENTFLOW_DATABASE_URL": url} if url else {}, match_replicas=2)
    require_shared_store(1, url)  # one match process is fine on SQLite
    require_shared_store(2, PG)


# Stands in for a service: on SIGTERM it notes the time, drains for a second, notes the time again and exits.
DRAINING_SERVICE = """
import signal, sys, time
out = sys.argv[1]
def drain(*_):
    open(out, "a").write(f"term {time.time()}\\n")
    time.sleep(1)
    open(out, "a").write(f"exit {time.time()}\\n")
    sys.exit(0)
signal.signal(signal.SIGTERM, drain)
open(out, "a").write("ready\\n")
while True:
    time.sleep(0.1)
"""


def test_stop_signals_every_service_before_waiting_for_any(tmp_path):
    """Stand-in processes instead of the real services (those are stopped in tests/tools/cli/test_run.py):
    what is checked is the stack's order of work, that every service is asked to drain before the first
    one has finished, so their drains overlap instead of adding up."""
    stack = LocalStack(tmp_path, env={"INTENTFLOW_DATABASE_URL": PG}, classify_replicas=2)
    marks = {service: tmp_path / f"{service}.marks" for service in stack.ports}
    for service, path in marks.items():
        stack.processes[service] = subprocess.Popen([sys.executable, "-c", DRAINING_SERVICE, str(path)])
    deadline = time.monotonic() + 30
    while not all(p.exists() and "ready" in p.read_text() for p in marks.values()):
        assert time.monotonic() < deadline, "stand-in services did not start"
        time.sleep(0.05)
    assert set(stack.stop().values()) == {0}
    times = {kind: [float(line.split()[1]) for p in marks.values() for line in p.read_text().splitlines()
                    if line.startswith(kind)] for kind in ("term", "exit")}
    assert len(times["term"]) == len(times["exit"]) == len(marks)
    assert max(times["term"]) < min(times["exit"]), "a service was signalled only after another had exited"
