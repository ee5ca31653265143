"""The whole pipeline on one machine: embedded broker (unless Kafka is configured) and the three services
as child processes. Used by `intentflow run`, `intentflow demo`, the integration tests and the benchmark.

Children die with the process that started them, even when it is SIGKILLed (PR_SET_PDEATHSIG), so no
orphan keeps the ports. `supervise` restarts a crashed service (or the embedded broker) with backoff; a
crashed service never takes the broker or the other services down with it.
"""
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

from intentflow import auth, topology
from intentflow.settings import ClientSettings, KafkaSettings, from_env
from tools.broker import EmbeddedBroker, die_with_parent, free_port

log = logging.getLogger(__name__)
SERVICES = topology.SERVICES
STABLE_AFTER_S = 60.0  # a process up this long has its restart backoff reset


def wait_serving(address: str, timeout_s: float, process: subprocess.Popen | None = None, tls_ca: str = "") -> None:
    """Wait until the grpc.health.v1 check of `address` answers SERVING (over TLS when `tls_ca` is given)."""
    deadline = time.monotonic() + timeout_s
    with auth.channel(address, tls_ca) as channel:
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


def shared_store(database_url: str) -> bool:
    """Whether several match processes can share the store at `database_url`: PostgreSQL can, SQLite (one
    file on one host, one writer at a time) cannot."""
    return database_url.startswith(("postgresql://", "postgres://"))


def require_shared_store(match_replicas: int, database_url: str) -> None:
    """Match processes in one consumer group share the queues, job posts and publication claims through the
    store, so more than one needs PostgreSQL."""
    if match_replicas > 1 and not shared_store(database_url):
        raise ValueError(f"{match_replicas} match processes need a shared PostgreSQL store: set "
                         f"INTENTFLOW_DATABASE_URL=postgresql://... (it is {database_url!r}), or run one match process "
                         "(INTENTFLOW_MATCH_REPLICAS=1)")


@dataclass
class LocalStack:
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    fixed_ports: bool = False
    host: str = "127.0.0.1"
    classify_replicas: int = 1
    match_replicas: int = 1     # more than one needs INTENTFLOW_DATABASE_URL=postgresql://...
    embedded_kafka_port: int = 0  # 0 = any free port
    broker: EmbeddedBroker | None = None
    processes: dict[str, subprocess.Popen] = field(default_factory=dict)
    ports: dict[str, tuple[int, int]] = field(default_factory=dict)
    restart_backoff_s: float = 1.0
    restart_backoff_max_s: float = 30.0
    restarts: dict[str, int] = field(default_factory=dict)
    _started_at: dict[str, float] = field(default_factory=dict)
    _backoff: dict[str, float] = field(default_factory=dict)
    _restart_at: dict[str, float] = field(default_factory=dict)
    _stopped: set[str] = field(default_factory=set)  # stopped on purpose: not restarted

    def _unused_port_pair(self) -> tuple[int, int]:
        """Two free ports no other process of this stack has: the OS may hand out a port it just gave back."""
        taken = {port for pair in self.ports.values() for port in pair}
        pair: list[int] = []
        while len(pair) < 2:
            port = free_port(self.host)
            if port not in taken:
                taken.add(port)
                pair.append(port)
        return pair[0], pair[1]

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
                self.ports[service] = self._unused_port_pair()
        # Extra classify and match processes join their service's consumer group: each scales by partitions.
        for module, count in ((topology.CLASSIFY, self.classify_replicas), (topology.MATCH, self.match_replicas)):
            for n in range(2, count + 1):
                self.ports[f"{module}-{n}"] = self._unused_port_pair()
        self.base_env.setdefault("INTENTFLOW_DATABASE_URL", f"sqlite:///{(self.workdir / 'intentflow.db').resolve()}")
        self.base_env.setdefault("INTENTFLOW_INDEX_DIR", str((self.workdir / "index").resolve()))
        require_shared_store(self.match_replicas, self.base_env["INTENTFLOW_DATABASE_URL"])

    def replicas(self, module: str) -> list[str]:
        """The processes of one service: e.g. ["match", "match-2"]."""
        return [name for name in self.ports if name.split("-")[0] == module]

    def address(self, service: str) -> str:
        return f"{self.host}:{self.ports[service][0]}"

    @property
    def tls_ca(self) -> str:
        """The CA clients verify the services with: INTENTFLOW_TLS_CA, else the (self-signed) server
        certificate; empty when the services are plaintext."""
        if not self.base_env.get("INTENTFLOW_TLS_CERT"):
            return ""
        return self.base_env.get("INTENTFLOW_TLS_CA") or self.base_env["INTENTFLOW_TLS_CERT"]

    def channel(self, service: str, token: str = "") -> grpc.Channel:
        """A client channel to `service`, TLS when the stack is, carrying `token` when given."""
        return auth.channel(self.address(service), self.tls_ca, token)

    @property
    def client_token(self) -> str:
        """The token a client of this stack sends, found as the CLI finds it (INTENTFLOW_TOKEN, else
        INTENTFLOW_TOKEN_FILE); empty when none is configured, which a stack with auth off needs."""
        settings = from_env(ClientSettings, self.base_env)
        return auth.read_token(settings.token, settings.token_file)

    def metrics_url(self, service: str) -> str:
        return f"http://{self.host}:{self.ports[service][1]}/metrics"

    @property
    def bootstrap_servers(self) -> str:
        return self.base_env["KAFKA_BOOTSTRAP_SERVERS"]

    @property
    def kafka(self) -> KafkaSettings:
        """The broker as the services see it (security settings and topic names included), for clients of the
        stack's topics."""
        return from_env(KafkaSettings, self.base_env)

    def start(self, timeout_s: float = 240) -> LocalStack:
        if not self.base_env.get("KAFKA_BOOTSTRAP_SERVERS"):
            self.broker = EmbeddedBroker(self.embedded_kafka_port, self.host,
                                         self.workdir / "logs" / "broker.log").start()
            self.base_env["KAFKA_BOOTSTRAP_SERVERS"] = self.broker.bootstrap_servers
        for service in self.ports:
            self.start_service(service)
        for service in self.ports:
            wait_serving(self.address(service), timeout_s, self.processes[service], self.tls_ca)
        return self

    def start_service(self, service: str) -> subprocess.Popen:
        """Start `service` ("ingest", "classify", "match", or a replica such as "classify-2")."""
        module = service.split("-")[0]
        spec = topology.SERVICE_SPECS[module]
        env = {**self.base_env, spec.grpc_env: str(self.ports[service][0]),
               spec.metrics_env: str(self.ports[service][1])}
        if service != module:  # a replica keeps its own candidate index beside the first process's
            env["INTENTFLOW_INDEX_DIR"] = str(Path(self.base_env["INTENTFLOW_INDEX_DIR"]) / service)
        out = open(self.workdir / "logs" / f"{service}.log", "ab")
        process = subprocess.Popen([sys.executable, "-m", f"services.{module}"], env=env, stdout=out,
                                   stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=die_with_parent())
        out.close()
        self.processes[service] = process
        self._started_at[service] = time.monotonic()
        self._stopped.discard(service)
        return process

    def supervise(self, now: float | None = None) -> list[str]:
        """Restart what crashed, once its backoff has passed: a service that exited without being stopped
        (backoff doubling from `restart_backoff_s` to `restart_backoff_max_s`, reset once it ran
        STABLE_AFTER_S), and the embedded broker. Call it periodically from the thread that started the
        stack (children die with the thread that forked them). Returns what it restarted."""
        now = time.monotonic() if now is None else now
        restarted = []
        if self.broker is not None and self.broker.process is not None and not self.broker.alive:
            log.error("embedded broker exited; restarting it on the same port",
                      extra={"code": self.broker.process.returncode})
            self.broker.process = None
            self.broker.start()
            self.restarts["broker"] = self.restarts.get("broker", 0) + 1
            restarted.append("broker")
        for service, process in list(self.processes.items()):
            if service in self._stopped or process.poll() is None:
                continue
            if service not in self._restart_at:
                ran = now - self._started_at.get(service, now)
                backoff = self.restart_backoff_s if ran >= STABLE_AFTER_S else self._backoff.get(
                    service, self.restart_backoff_s / 2) * 2
                self._backoff[service] = min(backoff, self.restart_backoff_max_s)
                self._restart_at[service] = now + self._backoff[service]
                log.error("service exited; restarting after backoff", extra={
                    "service": service, "code": process.returncode, "backoff_s": self._backoff[service]})
            if now >= self._restart_at[service]:
                del self._restart_at[service]
                self.start_service(service)
                self.restarts[service] = self.restarts.get(service, 0) + 1
                restarted.append(service)
        return restarted

    def stop_service(self, service: str, sig: int = signal.SIGTERM, timeout_s: float = 30) -> int | None:
        self._signal(service, sig)
        return self._await_exit(service, timeout_s)

    def stop(self, timeout_s: float = 30) -> dict[str, int | None]:
        """SIGTERM every service at once, then wait for each: they drain in parallel, so stopping takes the
        slowest service's drain (at most `timeout_s`, then it is killed), not the sum of all of them."""
        for service in self.ports:
            self._signal(service, signal.SIGTERM)
        deadline = time.monotonic() + timeout_s
        codes = {service: self._await_exit(service, max(0.0, deadline - time.monotonic())) for service in self.ports}
        if self.broker:
            self.broker.stop()
        return codes

    def _signal(self, service: str, sig: int) -> None:
        self._stopped.add(service)  # before the signal: supervise() must not restart what is stopping
        process = self.processes.get(service)
        if process is not None and process.poll() is None:
            process.send_signal(sig)

    def _await_exit(self, service: str, timeout_s: float) -> int | None:
        process = self.processes.get(service)
        if process is None:
            return None
        try:
            return process.wait(timeout_s)
        except subprocess.TimeoutExpired:
            log.warning("service did not stop in time; killing", extra={"service": service})
            process.kill()
            return process.wait()

    def __enter__(self) -> LocalStack:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
