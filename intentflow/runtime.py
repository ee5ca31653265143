"""Service lifecycle: gRPC server with health and reflection, metrics endpoint, signals, graceful stop.

Follows the grpc examples: health reports NOT_SERVING until the service has loaded its models and
indexes, and again while the broker is unreachable; SIGTERM/SIGINT flip a run flag so the stream loop
drains and commits before the server stops. The server speaks TLS when a certificate is configured and
checks tokens and roles (intentflow.auth) when a tokens file is.
"""
from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Collection, Iterable, Mapping
from concurrent import futures

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

from intentflow.auth import AuthInterceptor, TokenStore, server_credentials
from intentflow.metrics import serve_metrics
from intentflow.settings import ServerSettings

log = logging.getLogger(__name__)


class ParseRequests(grpc.ServerInterceptor):
    """Parse unary requests in the handler, so bytes that are not a valid message of the method's request
    type are answered INVALID_ARGUMENT (the caller's fault) instead of the INTERNAL that grpc answers when
    the deserializer raises. Stream requests (reflection only) are left to grpc."""

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        if handler is None or handler.request_streaming or handler.request_deserializer is None:
            return handler
        parse, method = handler.request_deserializer, handler_call_details.method

        def parsed(raw: bytes, context):
            try:
                return parse(raw)
            except Exception as exc:  # DecodeError, or a nesting too deep for the parser
                context.abort(grpc.StatusCode.INVALID_ARGUMENT,
                              f"the request to {method} is not a valid protobuf message: {type(exc).__name__}: {exc}")

        if handler.response_streaming:
            def streaming(raw, context):
                yield from handler.unary_stream(parsed(raw, context), context)
            return grpc.unary_stream_rpc_method_handler(streaming, response_serializer=handler.response_serializer)

        def unary(raw, context):
            return handler.unary_unary(parsed(raw, context), context)
        return grpc.unary_unary_rpc_method_handler(unary, response_serializer=handler.response_serializer)


class ServiceRuntime:
    def __init__(self, name: str, server_settings: ServerSettings, grpc_port: int, metrics_port: int,
                 max_workers: int = 16):
        self.name = name
        self.settings = server_settings
        self.running = threading.Event()
        self.running.set()
        self.failed = False
        self.ready = False        # models and indexes loaded, stream started
        self.broker_up = threading.Event()
        self.broker_up.set()      # until a broker watch says otherwise
        store = TokenStore(server_settings.tokens_file) if server_settings.tokens_file else None
        self.auth = AuthInterceptor(store, server_settings.rate_per_s, server_settings.rate_burst)
        self.server = grpc.server(futures.ThreadPoolExecutor(max_workers=max_workers,
                                                             thread_name_prefix=f"{name}-rpc"),
                                  # auth first: a caller without a valid token learns nothing about parsing
                                  interceptors=[self.auth, ParseRequests()])
        self.health = health.HealthServicer(experimental_non_blocking=True)
        health_pb2_grpc.add_HealthServicer_to_server(self.health, self.server)
        self._service_names: list[str] = []
        address = f"{server_settings.host}:{grpc_port}"
        credentials = server_credentials(server_settings.tls_cert, server_settings.tls_key,
                                         server_settings.tls_client_ca)
        self.tls = credentials is not None
        self.grpc_port = (self.server.add_secure_port(address, credentials) if credentials
                          else self.server.add_insecure_port(address))
        if self.grpc_port == 0:
            raise RuntimeError(f"{name}: cannot bind gRPC port {server_settings.host}:{grpc_port}")
        self._metrics_httpd, self.metrics_port = serve_metrics(server_settings.host, metrics_port)
        self.health_server, self.health_port = self._plaintext_health(server_settings)
        self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)

    def _plaintext_health(self, settings: ServerSettings) -> tuple[grpc.Server | None, int]:
        """Health alone, in plaintext on INTENTFLOW_HEALTH_PORT: Kubernetes' gRPC probes cannot speak TLS. It
        shares the statuses of the main port and answers nothing else, so it tells a caller no more than
        SERVING or NOT_SERVING."""
        if not settings.health_port:
            return None, 0
        server = grpc.server(futures.ThreadPoolExecutor(max_workers=2, thread_name_prefix=f"{self.name}-health"))
        health_pb2_grpc.add_HealthServicer_to_server(self.health, server)
        port = server.add_insecure_port(f"{settings.host}:{settings.health_port}")
        if port == 0:
            raise RuntimeError(f"{self.name}: cannot bind health port {settings.host}:{settings.health_port}")
        return server, port

    def add_service(self, full_name: str, register: Callable[[grpc.Server], None],
                    roles: Mapping[str, Collection[str]] | None = None) -> None:
        """Register a gRPC service; `roles` maps each method name to the roles that may call it (with auth
        on, a method missing from it is admin-only)."""
        register(self.server)
        self._service_names.append(full_name)
        if roles:
            self.allow(full_name, roles)

    def allow(self, full_name: str, roles: Mapping[str, Collection[str]]) -> None:
        """Declare (or change) the roles allowed per method of a registered service."""
        self.auth.allow(full_name, roles)

    def _set_status(self, status) -> None:
        for service in ["", *self._service_names]:
            self.health.set(service, status)

    def start(self) -> None:
        reflection.enable_server_reflection(
            [*self._service_names, health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
             reflection.SERVICE_NAME], self.server)
        self._set_status(health_pb2.HealthCheckResponse.NOT_SERVING)
        self.server.start()
        if self.health_server:
            self.health_server.start()
        log.info("listening", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port,
                                     "tls": self.tls, "auth": self.auth.enabled})
        if not self.auth.enabled:
            log.warning("auth is off: INTENTFLOW_TOKENS_FILE is not set, every caller may call every method")
        if not self.tls:
            log.warning("gRPC is plaintext: INTENTFLOW_TLS_CERT is not set")

    def mark_serving(self) -> None:
        self.ready = True
        self._update_status()
        log.info("serving", extra={"grpc_port": self.grpc_port, "metrics_port": self.metrics_port})

    def _update_status(self) -> None:
        serving = self.ready and self.broker_up.is_set() and self.running.is_set()
        self._set_status(health_pb2.HealthCheckResponse.SERVING if serving
                         else health_pb2.HealthCheckResponse.NOT_SERVING)

    def watch_broker(self, reachable: Callable[[], bool], on_return: Callable[[], None] | None = None,
                     interval_s: float = 2.0) -> threading.Thread:
        """Check the broker every `interval_s`: NOT_SERVING while it is unreachable; when it comes back,
        run `on_return` (recreate producers, topics) and serve again."""
        def loop() -> None:
            while self.running.is_set():
                up = reachable()
                if up and not self.broker_up.is_set():
                    log.warning("broker reachable again")
                    if on_return:
                        try:
                            on_return()
                        except Exception:
                            log.exception("recovering after the broker came back failed; retrying")
                            time.sleep(interval_s)
                            continue
                    self.broker_up.set()
                    self._update_status()
                elif not up and self.broker_up.is_set():
                    log.error("broker unreachable: NOT_SERVING until it is back")
                    self.broker_up.clear()
                    self._update_status()
                time.sleep(interval_s)
        thread = threading.Thread(target=loop, name=f"{self.name}-broker-watch", daemon=True)
        thread.start()
        return thread

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
        if self.health_server:  # last: probes see NOT_SERVING while the service drains
            self.health_server.stop(0)
        self._metrics_httpd.shutdown()
        log.info("stopped")
