"""Service lifecycle: gRPC server with health and reflection, metrics endpoint, signals, graceful stop.

Follows the grpc examples: health reports NOT_SERVING until the service has loaded its models and
indexes; SIGTERM/SIGINT flip a run flag so the stream loop drains and commits before the server stops.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterable
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from intentflow.metrics import serve_metrics
from intentflow.settings import ServerSettings

log = logging.getLogger(__name__)


class ServiceRuntime:
    def __init__(self, name: str, server_settings: ServerSettings, grpc_port: int, metrics_port: int,
                 max_workers: int = 16):
        self.name = name
        self.settings = server_settings
        self.running = threading.Event()
        self.running.set()
        self.failed = False
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers,
                                                             thread_name_prefix=f"{name}-rpc"))
        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = []
        self.grpc_port = self.server.add_insecure_port(f"{server_settings.host}:{grpc_port}")
        if self.grpc_port == 0:
            raise RuntimeError(f"{name}: cannot bind gRPC port {server_settings.host}:{grpc_port}")
        self._metrics_httpd, self.metrics_port = serve_metrics(server_settings.host, metrics_port)
        self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)

    def add_service(self, full_name: str, register: Callable[[grpc.Server], None]) -> None:
        register(self.server)
        self._service_names.append(full_name)

    def _set_status(self, status) -> None:
        for service in ["", *self._service_names]:
            self.health.set(service, status)

    def start(self) -> None:
        reflection.enable_server_reflection(
            [*self._service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME], self.server)
        self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.start()
        log.info("listening", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port})

    def mark_serving(self) -> None:
        self._set_status(health_pb2.HealthCheckResponse.SERVING)
        log.info("serving", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port})

    def install_signal_handlers(self) -> None:
        def on_signal(signum, _frame):
            log.info("signal received, draining", extra={"signal": signal.Signals(signum).name})
            self.running.clear()
        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

    def wait(self, workers: Iterable[threading.Thread] = ()) -> None:
        """Block until a signal clears the run flag; a dead worker stops the service too."""
        workers = list(workers)
        while self.running.is_set():
            time.sleep(0.2)
            if self.running.is_set() and any(not w.is_alive() for w in workers):
                log.error("a worker stopped unexpectedly; shutting down")
                self.failed = True
                self.running.clear()

    def shutdown(self, workers: Iterable[threading.Thread] = (), before_stop: Callable[[], None] | None = None):
        """Stop taking RPCs and stream records at once, let in-flight work finish within the grace period."""
        self.running.clear()
        self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        server_stopped = self.server.stop(self.settings.grace_seconds)
        for w in workers:
            w.join(self.settings.grace_seconds)
            if w.is_alive():
                log.warning("worker did not drain within the grace period", extra={"worker": w.name})
        server_stopped.wait(self.settings.grace_seconds + 1)
        if before_stop:
            before_stop()
        self._metrics_httpd.shutdown()
        log.info("stopped")
