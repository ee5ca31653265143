"""`intentflow run` as a user starts it: prints where each API listens, stops everything on Ctrl-C."""
from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time

from tools.broker import free_port


def test_run_prints_endpoints_and_stops_cleanly_on_ctrl_c(tmp_path):
    ports = {var: str(free_port()) for var in (
        "INGEST_GRPC_PORT", "INGEST_METRICS_PORT", "CLASSIFY_GRPC_PORT", "CLASSIFY_METRICS_PORT",
        "MATCH_GRPC_PORT", "MATCH_METRICS_PORT", "INTENTFLOW_EMBEDDED_KAFKA_PORT")}
    env = {**os.environ, **ports, "INTENTFLOW_CLASSIFY_REPLICAS": "1"}
    env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
    process = subprocess.Popen([sys.executable, "-m", "tools.cli", "run", "--workdir", str(tmp_path)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        line = process.stdout.readline()
        if not line:
            break
        lines.append(line)
        if "Ctrl-C stops everything" in line:
            break
    output = "".join(lines)
    assert f"127.0.0.1:{ports['MATCH_GRPC_PORT']}" in output, output + process.stderr.read()
    assert f"Kafka bootstrap     127.0.0.1:{ports['INTENTFLOW_EMBEDDED_KAFKA_PORT']}" in output
    process.send_signal(signal.SIGINT)
    stopping = time.monotonic()
    try:
        code = process.wait(60)  # services stop in parallel, each within its 30 s, then the broker within 10 s
    except subprocess.TimeoutExpired:
        process.kill()
        raise AssertionError(f"still running 60 s after Ctrl-C\n{_log_tails(tmp_path / 'logs')}") from None
    assert code == 0, _log_tails(tmp_path / "logs")
    print(f"stopped {time.monotonic() - stopping:.1f} s after Ctrl-C")
    assert "'match': 0" in process.stderr.read()
    still_listening = [var for var, port in ports.items() if _listening(int(port))]
    assert not still_listening, f"something still serves {still_listening} after Ctrl-C"


def _log_tails(logs, lines: int = 8) -> str:
    return "\n".join(f"== {log.name}\n" + "\n".join(log.read_text("utf-8", "replace").splitlines()[-lines:])
                     for log in sorted(logs.glob("*.log")))


def _listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
        return True
    except OSError:
        return False
