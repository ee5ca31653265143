"""Prometheus metrics shared by the services (each service is its own process, so labels say which)."""
from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, start_http_server

RECORDS = Counter(
    "intentflow_records_total", "Records handled by a pipeline stage", ["service", "outcome"])
BATCHES = Histogram(
    "intentflow_batch_seconds", "Time to process one consumed batch, produce and commit", ["service"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10))
BATCH_SIZE = Histogram(
    "intentflow_batch_records", "Records per consumed batch", ["service"],
    buckets=(1, 4, 16, 64, 128, 256, 512, 1024))
STAGE_SECONDS = Histogram(
    "intentflow_step_seconds", "Time spent in one step of a batch (encode, rules, match, store, ...)",
    ["service", "step"], buckets=(0.0005, 0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5))
RPCS = Counter("intentflow_rpc_total", "gRPC calls", ["service", "method", "code"])
SIGNALS = Counter("intentflow_signals_total", "Signals emitted", ["service", "signal"])
INDEX_SIZE = Gauge("intentflow_index_size", "Vectors in a FAISS index", ["service", "index"])
PARTITIONS = Gauge(
    "intentflow_assigned_partitions", "Partitions of its input topic this process consumes now", ["service"])


def serve_metrics(host: str, port: int) -> tuple[object, int]:
    """Start the /metrics HTTP endpoint; returns the server and the bound port (port 0 = any)."""
    httpd, _thread = start_http_server(port, addr=host)
    return httpd, httpd.server_port
