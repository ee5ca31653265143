"""Fault tolerance of the local stack: restarts with backoff, no orphans, the broker going away and back."""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2

from intentflow.kafka_io import make_consumer
from intentflow.settings import KafkaSettings, from_env
from intentflow.v1 import ingest_pb2, ingest_pb2_grpc, post_pb2
from tests.integration.helpers import eventually, health_status, unique
from tools.broker import EmbeddedBroker
from tools.stack import LocalStack, wait_serving

ROOT = Path(__file__).resolve().parents[2]


def alive(pid: int) -> bool:
    """Running (a zombie nobody reaped yet counts as dead: it holds no ports)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return False
    return state not in ("Z", "X")


def listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def test_a_sigkilled_classify_is_restarted_and_the_broker_stays_up(stack):
    broker_pid = stack.broker.process.pid
    others = {name: p.pid for name, p in stack.processes.items() if name != "classify"}
    killed = stack.processes["classify"].pid
    os.kill(killed, signal.SIGKILL)
    eventually(lambda: "classify" in stack.supervise(), timeout_s=60, interval_s=0.2)
    assert stack.processes["classify"].pid != killed and stack.restarts["classify"] >= 1
    wait_serving(stack.address("classify"), 180, stack.processes["classify"])
    assert stack.broker.alive and stack.broker.process.pid == broker_pid, "the broker went down with classify"
    assert {name: p.pid for name, p in stack.processes.items() if name != "classify"} == others
    assert all(p.poll() is None for p in stack.processes.values())


def test_restart_backoff_doubles_and_is_capped(tmp_path):
    stack = LocalStack(tmp_path, restart_backoff_s=1.0, restart_backoff_max_s=3.0)
    crashed = subprocess.Popen([sys.executable, "-c", "raise SystemExit(3)"])
    crashed.wait()
    stack.processes["ingest"] = crashed
    stack._started_at["ingest"] = 0.0
    started = []
    stack.start_service = lambda service: started.append(service) or crashed  # crashes again at once
    waits = []
    for now in (0.0, 10.0, 20.0, 30.0):
        assert stack.supervise(now) == []
        waits.append(stack._restart_at["ingest"] - now)
        assert stack.supervise(now + waits[-1]) == ["ingest"]
        stack._started_at["ingest"] = now + waits[-1]
    assert waits == [1.0, 2.0, 3.0, 3.0] and started == ["ingest"] * 4


RUNNER = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path
    from tools.broker import EmbeddedBroker
    from tools.stack import LocalStack, wait_serving
    workdir = Path(sys.argv[1])
    stack = LocalStack(workdir)
    stack.broker = EmbeddedBroker(0, stack.host, workdir / "logs" / "broker.log").start()
    stack.base_env["KAFKA_BOOTSTRAP_SERVERS"] = stack.broker.bootstrap_servers
    stack.start_service("ingest")
    wait_serving(stack.address("ingest"), 120, stack.processes["ingest"])
    print(json.dumps({"pids": [stack.broker.process.pid, stack.processes["ingest"].pid],
                      "ports": [stack.broker.port, *stack.ports["ingest"]]}), flush=True)
    time.sleep(3600)
""")


def test_children_die_when_the_runner_is_sigkilled(tmp_path):
    runner = subprocess.Popen([sys.executable, "-c", RUNNER, str(tmp_path)], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True)
    try:
        started = json.loads(runner.stdout.readline())
        assert all(alive(pid) for pid in started["pids"]) and all(listening(p) for p in started["ports"])
        runner.kill()
        runner.wait()
        eventually(lambda: not any(alive(pid) for pid in started["pids"]), timeout_s=60)
        eventually(lambda: not any(listening(port) for port in started["ports"]), timeout_s=60)
    finally:
        runner.kill()
        runner.wait()


def _submit(address: str, post_id: str):
    with grpc.insecure_channel(address) as channel:
        return ingest_pb2_grpc.IngestServiceStub(channel).SubmitPosts(ingest_pb2.SubmitPostsRequest(posts=[
            post_pb2.Post(id=post_id, network="vk", text=f"Посоветуйте ноутбук для учёбы ({post_id})")]), timeout=60)


def test_not_serving_while_the_broker_is_down_then_producers_are_recreated(tmp_path):
    stack = LocalStack(tmp_path, env={"KAFKA_BROKER_CHECK_S": "0.5", "INTENTFLOW_GRACE_SECONDS": "2"})
    stack.broker = EmbeddedBroker(0, stack.host, tmp_path / "logs" / "broker.log").start()
    stack.base_env["KAFKA_BOOTSTRAP_SERVERS"] = stack.broker.bootstrap_servers
    try:
        stack.start_service("ingest")
        address = stack.address("ingest")
        wait_serving(address, 120, stack.processes["ingest"])
        assert _submit(address, unique("before")).verdicts[0].verdict == ingest_pb2.VERDICT_ACCEPTED

        stack.broker.stop()
        eventually(lambda: health_status(address) == health_pb2.HealthCheckResponse.NOT_SERVING, timeout_s=60)
        try:
            _submit(address, unique("down"))
            raise AssertionError("SubmitPosts succeeded without a broker")
        except grpc.RpcError as exc:
            assert exc.code() == grpc.StatusCode.UNAVAILABLE and "unreachable" in exc.details()

        stack.broker.start()  # same port; the embedded broker keeps nothing, so topics are created again
        wait_serving(address, 120, stack.processes["ingest"])
        after = unique("after")
        assert _submit(address, after).verdicts[0].verdict == ingest_pb2.VERDICT_ACCEPTED
        kafka = from_env(KafkaSettings, {"KAFKA_BOOTSTRAP_SERVERS": stack.bootstrap_servers})

        def published() -> bool:
            consumer = make_consumer(kafka, None, [kafka.topic_clean], consumer_timeout_ms=1000)
            keys = [r.key for r in consumer]
            consumer.close()
            return f"vk:{after}".encode() in keys
        eventually(published, timeout_s=60)
        assert stack.processes["ingest"].poll() is None, "ingest exited instead of riding the outage out"
    finally:
        codes = stack.stop()
    assert codes["ingest"] == 0


def test_the_local_stack_uses_tls_and_tokens_when_configured(tmp_path):
    from intentflow import auth
    from tests.intentflow.test_auth import self_signed
    cert, key = self_signed(tmp_path)
    tokens = auth.TokenStore(tmp_path / "tokens.json")
    _, crawler = tokens.create(auth.INGEST, "crawler")
    _, rep = tokens.create(auth.SALES, "anna")
    stack = LocalStack(tmp_path, env={"INTENTFLOW_TLS_CERT": cert, "INTENTFLOW_TLS_KEY": key,
                                      "INTENTFLOW_TOKENS_FILE": str(tokens.path), "INTENTFLOW_GRACE_SECONDS": "2"})
    stack.broker = EmbeddedBroker(0, stack.host, tmp_path / "logs" / "broker.log").start()
    stack.base_env["KAFKA_BOOTSTRAP_SERVERS"] = stack.broker.bootstrap_servers
    try:
        stack.start_service("ingest")
        wait_serving(stack.address("ingest"), 120, stack.processes["ingest"], stack.tls_ca)
        request = ingest_pb2.SubmitPostsRequest(posts=[post_pb2.Post(id=unique("tls"), network="vk", text="hello")])
        with stack.channel("ingest", crawler) as channel:
            assert ingest_pb2_grpc.IngestServiceStub(channel).SubmitPosts(request, timeout=60).verdicts
        for token, code in ((rep, grpc.StatusCode.PERMISSION_DENIED), ("", grpc.StatusCode.UNAUTHENTICATED)):
            with stack.channel("ingest", token) as channel:
                try:
                    ingest_pb2_grpc.IngestServiceStub(channel).SubmitPosts(request, timeout=60)
                    raise AssertionError("call went through")
                except grpc.RpcError as exc:
                    assert exc.code() == code
        with grpc.insecure_channel(stack.address("ingest")) as plaintext:
            try:
                ingest_pb2_grpc.IngestServiceStub(plaintext).SubmitPosts(request, timeout=10)
                raise AssertionError("plaintext call went through")
            except grpc.RpcError as exc:
                assert exc.code() == grpc.StatusCode.UNAVAILABLE
    finally:
        codes = stack.stop()
    assert codes["ingest"] == 0
