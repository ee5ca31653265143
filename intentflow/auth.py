"""Access control for the gRPC APIs: TLS credentials, API tokens with roles, and the server interceptor.

Tokens live in a JSON file (`INTENTFLOW_TOKENS_FILE`) that every service can read (ingest has no
database). The file holds, per token, its id, role, name, creation and revocation times and the SHA-256 of
its random secret: never the secret itself. A token is `ift_<id>_<secret>`; the caller sends it as
`authorization: Bearer <token>` metadata. The services re-read the file when it changes, so a revocation
takes effect on the next call without a restart.

The interceptor resolves the caller (token id and role) and answers UNAUTHENTICATED without a token or with
an unknown or revoked one, PERMISSION_DENIED when the role may not call the method (each service passes its
method → roles table; a method missing from the table is admin-only), and RESOURCE_EXHAUSTED when the token
is over its rate (token bucket per token). Health checks and reflection stay open. With no tokens file
configured, auth is off: every call is let through, and the service says so in its log.
"""
from __future__ import annotations

import contextlib
import contextvars
import fcntl
import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Collection, Iterator, Mapping
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import grpc

log = logging.getLogger(__name__)

SALES, RECRUITER, HR_BRAND, ADMIN, INGEST = "sales", "recruiter", "hr_brand", "admin", "ingest"
ROLES = (SALES, RECRUITER, HR_BRAND, ADMIN, INGEST)
ANY_ROLE = frozenset(ROLES)
TOKEN_PREFIX = "ift_"
OPEN_METHOD_PREFIXES = ("/grpc.health.v1.Health/", "/grpc.reflection.v1alpha.ServerReflection/",
                        "/grpc.reflection.v1.ServerReflection/")


@dataclass(frozen=True)
class Identity:
    """Who is calling: the token's id, role and name."""
    token_id: str
    role: str
    name: str


@dataclass(frozen=True)
class TokenRecord:
    id: str
    role: str
    name: str
    created: str
    revoked: str  # ISO time of revocation, empty while valid
    sha256: str   # of the secret part of the token


_CALLER: contextvars.ContextVar[Identity | None] = contextvars.ContextVar("intentflow_caller", default=None)


def current_identity() -> Identity | None:
    """The caller of the RPC being handled (None when auth is off)."""
    return _CALLER.get()


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


class TokenStore:
    """The tokens file: create, list and revoke tokens (the CLI), verify them (the services)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock = threading.Lock()
        self._stamp: tuple | None = None
        self._records: dict[str, TokenRecord] = {}

    # -- reading ---------------------------------------------------------------------------------------
    def _read(self) -> dict[str, TokenRecord]:
        if not self.path.exists():
            return {}
        data = json.loads(self.path.read_text("utf-8") or "{}")
        return {row["id"]: TokenRecord(**{k: row.get(k, "") for k in TokenRecord.__dataclass_fields__})
                for row in data.get("tokens", [])}

    def _current(self) -> dict[str, TokenRecord]:
        """The records, re-read when the file changed (a revocation applies on the next call)."""
        try:
            st = self.path.stat()
            stamp = (st.st_mtime_ns, st.st_size, st.st_ino)
        except FileNotFoundError:
            stamp = None
        with self._lock:
            if stamp != self._stamp:
                try:
                    self._records = self._read()
                except (OSError, ValueError, TypeError, KeyError):
                    log.exception("cannot read the tokens file; refusing every token", extra={"path": str(self.path)})
                    self._records = {}
                self._stamp = stamp
            return self._records

    def list(self) -> list[TokenRecord]:
        return sorted(self._current().values(), key=lambda r: (r.created, r.id))

    def verify(self, token: str) -> Identity | None:
        """The identity of a valid token, None for a malformed, unknown or revoked one."""
        if not token.startswith(TOKEN_PREFIX) or "_" not in token[len(TOKEN_PREFIX):]:
            return None
        token_id, secret = token[len(TOKEN_PREFIX):].split("_", 1)
        record = self._current().get(token_id)
        if record is None or record.revoked or not hmac.compare_digest(record.sha256, _digest(secret)):
            return None
        return Identity(record.id, record.role, record.name)

    # -- writing (the CLI) -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def _locked(self) -> Iterator[dict[str, TokenRecord]]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path.with_name(self.path.name + ".lock"), "a") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            records = self._read()
            yield records
            rows = [asdict(r) for r in sorted(records.values(), key=lambda r: (r.created, r.id))]
            tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w", encoding="utf-8") as out:
                json.dump({"version": 1, "tokens": rows}, out, indent=2)
                out.write("\n")
            os.replace(tmp, self.path)

    def create(self, role: str, name: str) -> tuple[TokenRecord, str]:
        """A new token: its record (stored) and the token itself (shown once, never stored)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}: use one of {', '.join(ROLES)}")
        secret = secrets.token_urlsafe(32)
        with self._locked() as records:
            token_id = secrets.token_hex(6)
            while token_id in records:
                token_id = secrets.token_hex(6)
            record = TokenRecord(token_id, role, name, _now(), "", _digest(secret))
            records[token_id] = record
        return record, f"{TOKEN_PREFIX}{token_id}_{secret}"

    def revoke(self, token_id: str) -> TokenRecord:
        with self._locked() as records:
            if token_id not in records:
                raise ValueError(f"no token with id {token_id!r}")
            record = records[token_id]
            if not record.revoked:
                record = TokenRecord(**{**asdict(record), "revoked": _now()})
                records[token_id] = record
        return record


class TokenBucket:
    """Requests per second with a burst, per key (token id)."""

    def __init__(self, rate_per_s: float, burst: int):
        self.rate = rate_per_s
        self.burst = max(1, burst)
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str, now: float | None = None) -> bool:
        if self.rate <= 0:
            return True
        now = time.monotonic() if now is None else now
        with self._lock:
            tokens, last = self._buckets.get(key, (float(self.burst), now))
            tokens = min(float(self.burst), tokens + (now - last) * self.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            return allowed


def bearer_token(metadata) -> str:
    for key, value in metadata or ():
        if key.lower() == "authorization" and isinstance(value, str) and value[:7].lower() == "bearer ":
            return value[7:].strip()
    return ""


def _same_kind(handler: grpc.RpcMethodHandler, behaviour) -> grpc.RpcMethodHandler:
    """A handler of the same streaming kind and (de)serialisers as `handler` running `behaviour`."""
    kwargs = dict(request_deserializer=handler.request_deserializer, response_serializer=handler.response_serializer)
    if handler.request_streaming and handler.response_streaming:
        return grpc.stream_stream_rpc_method_handler(behaviour, **kwargs)
    if handler.request_streaming:
        return grpc.stream_unary_rpc_method_handler(behaviour, **kwargs)
    if handler.response_streaming:
        return grpc.unary_stream_rpc_method_handler(behaviour, **kwargs)
    return grpc.unary_unary_rpc_method_handler(behaviour, **kwargs)


def _refusal(handler: grpc.RpcMethodHandler, code: grpc.StatusCode, message: str) -> grpc.RpcMethodHandler:
    def refuse(_request, context):
        context.abort(code, message)
    return _same_kind(handler, refuse)


def _as(handler: grpc.RpcMethodHandler, identity: Identity) -> grpc.RpcMethodHandler:
    """The handler, run with `identity` as current_identity()."""
    behaviour = (handler.stream_stream or handler.stream_unary or handler.unary_stream or handler.unary_unary)
    if handler.response_streaming:
        def streaming(request, context):
            reset = _CALLER.set(identity)
            try:
                yield from behaviour(request, context)
            finally:
                _CALLER.reset(reset)
        return _same_kind(handler, streaming)

    def unary(request, context):
        reset = _CALLER.set(identity)
        try:
            return behaviour(request, context)
        finally:
            _CALLER.reset(reset)
    return _same_kind(handler, unary)


class AuthInterceptor(grpc.ServerInterceptor):
    """Authenticates and authorises every call but health and reflection (see the module docstring)."""

    def __init__(self, store: TokenStore | None, rate_per_s: float = 0.0, burst: int = 1):
        self.store = store
        self.limiter = TokenBucket(rate_per_s, burst)
        self.methods: dict[str, frozenset[str]] = {}

    @property
    def enabled(self) -> bool:
        return self.store is not None

    def allow(self, service: str, roles: Mapping[str, Collection[str]]) -> None:
        """Declare which roles may call each method of `service` (e.g. {"SubmitPosts": {"ingest", "admin"}})."""
        for method, allowed in roles.items():
            unknown = set(allowed) - ANY_ROLE
            if unknown:
                raise ValueError(f"{service}/{method}: unknown roles {sorted(unknown)}")
            self.methods[f"/{service}/{method}"] = frozenset(allowed)

    def roles_for(self, method: str) -> frozenset[str]:
        return self.methods.get(method, frozenset({ADMIN}))

    def intercept_service(self, continuation, handler_call_details):
        handler = continuation(handler_call_details)
        method = handler_call_details.method
        if handler is None or self.store is None or method.startswith(OPEN_METHOD_PREFIXES):
            return handler
        token = bearer_token(handler_call_details.invocation_metadata)
        if not token:
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED,
                            "missing token: send `authorization: Bearer <token>` (INTENTFLOW_TOKEN for the CLI)")
        identity = self.store.verify(token)
        if identity is None:
            return _refusal(handler, grpc.StatusCode.UNAUTHENTICATED, "invalid or revoked token")
        allowed = self.roles_for(method)
        if identity.role not in allowed:
            return _refusal(handler, grpc.StatusCode.PERMISSION_DENIED,
                            f"role {identity.role} may not call {method} (allowed: {', '.join(sorted(allowed))})")
        if not self.limiter.take(identity.token_id):
            return _refusal(handler, grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"rate limit of token {identity.token_id} exceeded; retry later")
        return _as(handler, identity)


# -- TLS and client channels ---------------------------------------------------------------------------
def _read(path: str) -> bytes:
    return Path(path).read_bytes()


def server_credentials(cert: str, key: str, client_ca: str = "") -> grpc.ServerCredentials | None:
    """TLS credentials for a server, None for plaintext (no certificate configured)."""
    if not cert and not key:
        return None
    if not (cert and key):
        raise ValueError("TLS needs both INTENTFLOW_TLS_CERT and INTENTFLOW_TLS_KEY")
    return grpc.ssl_server_credentials([(_read(key), _read(cert))],
                                       root_certificates=_read(client_ca) if client_ca else None,
                                       require_client_auth=bool(client_ca))


class _BearerInterceptor(grpc.UnaryUnaryClientInterceptor, grpc.UnaryStreamClientInterceptor,
                         grpc.StreamUnaryClientInterceptor, grpc.StreamStreamClientInterceptor):
    """Adds `authorization: Bearer <token>` to every call (works on plaintext channels too)."""

    def __init__(self, token: str):
        self.header = ("authorization", f"Bearer {token}")

    def _details(self, details):
        metadata = [*(details.metadata or ()), self.header]
        return details._replace(metadata=metadata) if hasattr(details, "_replace") else _Details(details, metadata)

    def intercept_unary_unary(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_unary_stream(self, continuation, details, request):
        return continuation(self._details(details), request)

    def intercept_stream_unary(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)

    def intercept_stream_stream(self, continuation, details, request_iterator):
        return continuation(self._details(details), request_iterator)


class _Details(grpc.ClientCallDetails):
    def __init__(self, details, metadata):
        self.method = details.method
        self.timeout = details.timeout
        self.metadata = metadata
        self.credentials = details.credentials
        self.wait_for_ready = getattr(details, "wait_for_ready", None)
        self.compression = getattr(details, "compression", None)


def channel(address: str, tls_ca: str = "", token: str = "", cert: str = "", key: str = "") -> grpc.Channel:
    """A client channel: TLS when a CA is given (client certificate when cert and key are), plaintext
    otherwise; with a token, every call carries it."""
    if tls_ca:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=_read(tls_ca), private_key=_read(key) if key else None,
            certificate_chain=_read(cert) if cert else None)
        chan = grpc.secure_channel(address, credentials)
    else:
        chan = grpc.insecure_channel(address)
    return grpc.intercept_channel(chan, _BearerInterceptor(token)) if token else chan


def read_token(token: str, token_file: str) -> str:
    """The token itself, else the first line of the token file, else empty."""
    if token:
        return token.strip()
    if token_file:
        return Path(token_file).read_text("utf-8").strip()
    return ""
