"""The whole pipeline on one machine: embedded broker (unless Kafka is configured) and the three services
as child processes. Used by `intentflow run`, `intentflow demo`, the integration tests and the benchmark."""
from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

from intentflow import topology
from tools.broker import EmbeddedBroker, free_port

log = logging.getLogger(__name__)
SERVICES = topology.SERVICES


def wait_serving(address: str, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    """Wait until the grpc.health.v1 check of `address` answers SERVING."""
    deadline = time.monotonic() + timeout_s
    with grpc.insecure_channel(address) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        while time.monotonic() < deadline:
            if process is not None and process.poll() is not None:
                raise RuntimeError(f"service at {address} exited with code {process.returncode}")
            try:
                status = stub.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                if status == health_pb2.HealthCheckResponse.SERVING:
                    return
            except grpc.RpcError:
                pass
            time.sleep(0.2)
    raise TimeoutError(f"{address} not SERVING after {timeout_s:.0f}s")


@dataclass
class LocalStack:
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    fixed_ports: bool = False
    host: str = "127.0.0.1"
    classify_replicas: int = 1
    embedded_kafka_port: int = 0  # 0 = any free port
    broker: EmbeddedBroker | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)

    def __post_init__(self):
        self.workdir = Path(self.workdir)
        (self.workdir / "logs").mkdir(parents=True, exist_ok=True)
        self.base_env = {**os.environ, **self.env}
        for service in SERVICES:
            spec = topology.SERVICE_SPECS[service]
            if spec.grpc_env in self.base_env:
                self.ports[service] = (int(self.base_env[spec.grpc_env]), int(self.base_env.get(spec.metrics_env, 0)))
            elif self.fixed_ports:
                self.ports[service] = (spec.grpc_port, spec.metrics_port)
            else:
                self.ports[service] = (free_port(self.host), free_port(self.host))
        # Extra classify processes join the same consumer group: classification scales by partitions.
        for n in range(2, self.classify_replicas + 1):
            self.ports[f"classify-{n}"] = (free_port(self.host), free_port(self.host))
        self.base_env.setdefault("INTENTFLOW_DATABASE_URL", f"sqlite:///{(self.workdir / 'intentflow.db').resolve()}")
        self.base_env.setdefault("INTENTFLOW_INDEX_DIR", str((self.workdir / "index").resolve()))

    def address(self, service: str) -> str:
        return f"{self.host}:{self.ports[service][0]}"

    def metrics_url(self, service: str) -> str:
        return f"http://{self.host}:{self.ports[service][1]}/metrics"

    @property
    def bootstrap_servers(self) -> str:
        return self.base_env["KAFKA_BOOTSTRAP_SERVERS"]

    def start(self, timeout_s: float = 240) -> LocalStack:
        if not self.base_env.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.broker = EmbeddedBroker(self.embedded_kafka_port, self.host,
                                         self.workdir / "logs" / "broker.log").start()
            self.base_env["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap_servers
        for service in self.ports:
            self.start_service(service)
        for service in self.ports:
            wait_serving(self.address(service), timeout_s, self.processes[service])
        return self

    def start_service(self, service: str) -> subprocess.Popen:
        """Start `service` ("ingest", "classify", "match", or a replica such as "classify-2")."""
        module = service.split("-")[0]
        spec = topology.SERVICE_SPECS[module]
        env = {**self.base_env, spec.grpc_env: str(self.ports[service][0]),
               spec.metrics_env: str(self.ports[service][1])}
        out = open(self.workdir / "logs" / f"{service}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", f"services.{module}"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        self.processes[service] = process
        return process

    def stop_service(self, service: str, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int | None:
        process = self.processes.get(service)
        if process is None or process.poll() is not None:
            return process.returncode if process else None
        process.send_signal(sig)
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("service did not stop in time; killing", extra={"service": service})
            process.kill()
            return process.wait()

    def stop(self) -> dict[str, int | None]:
        codes = {service: self.stop_service(service) for service in reversed(list(self.ports))}
        if self.broker:
            self.broker.stop()
        return codes

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
