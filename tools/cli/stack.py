"""`intentflow run`, `demo` and `push`: the embedded stack and feeding it."""
from __future__ import annotations

import dataclasses
import json
import signal
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from tqdm import tqdm

from intentflow import auth, topology
from intentflow.kafka_io import consumer_lag, make_producer
from intentflow.settings import SERVICE_SETTINGS, ClientSettings, KafkaSettings, StackSettings, from_env
from intentflow.wire import post_id
from tools.cli.queues import print_candidates, print_leads
from tools.cli.tables import clip, print_table
from tools.stack import LocalStack

ROOT = Path(__file__).resolve().parents[2]
DEFAULT_PROFILES = ROOT / "data" / "profiles" / "catalog.json"
DEMO_POSTS = ROOT / "data" / "demo" / "posts.jsonl"


def stage_lags(kafka: KafkaSettings, env: dict[str, str] | None = None) -> dict[str, int]:
    """Records each service has not yet committed on its input topic, with its configured group id."""
    return {service: consumer_lag(kafka, from_env(SERVICE_SETTINGS[service], env).group_id,
                                  kafka.name(topology.SERVICE_SPECS[service].consumes))
            for service in topology.SERVICES}


def _key(line: str) -> bytes | None:
    try:
        row = json.loads(line)
        return post_id(row.get("network", ""), row["id"]).encode() if isinstance(row, dict) and row.get("id") else None
    except (json.JSONDecodeError, TypeError):
        return None


def push_file(path: str | Path, kafka: KafkaSettings, topic: str | None = None) -> int:
    """Produce every non-empty line as-is (ingest validates, so bad lines reach the DLQ with a reason)."""
    lines = [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]
    producer = make_producer(kafka)
    futures = []
    for line in tqdm(lines, desc=f"push {Path(path).name}", unit="post", file=sys.stderr, disable=None):
        futures.append(producer.send(topic or kafka.topic_raw, key=_key(line), value=line.encode("utf-8")))
    producer.flush(60)
    for future in futures:
        future.get(timeout=60)
    producer.close()
    return len(lines)


def broker_or_embedded(kafka: KafkaSettings) -> KafkaSettings:
    """The configured broker, else (nothing configured) the embedded one of `intentflow run`."""
    if kafka.bootstrap_servers:
        return kafka
    return dataclasses.replace(kafka, bootstrap_servers=f"127.0.0.1:{from_env(StackSettings).embedded_kafka_port}")


def push(args, settings: ClientSettings) -> int:
    kafka = broker_or_embedded(settings.kafka)
    print(f"pushed {push_file(args.file, kafka, args.topic)} records to {args.topic or kafka.topic_raw} "
          f"at {kafka.bootstrap_servers}", file=sys.stderr)
    return 0


def wait_drained(kafka: KafkaSettings, timeout_s: float = 600) -> None:
    """Wait until every stage has committed everything upstream of it (twice in a row, to be sure)."""
    deadline = time.monotonic() + timeout_s
    quiet = 0
    with tqdm(desc="processing", unit="rec", file=sys.stderr, disable=None) as bar:
        while time.monotonic() < deadline:
            lags = stage_lags(kafka)
            bar.set_postfix(**lags)
            bar.update(0)
            quiet = quiet + 1 if sum(lags.values()) == 0 else 0
            if quiet >= 2:
                return
            time.sleep(1)
    raise TimeoutError(f"pipeline not drained after {timeout_s:.0f}s")


def admin_token(workdir: Path) -> tuple[Path, Path]:
    """The tokens file of the local stack (INTENTFLOW_TOKENS_FILE, else <workdir>/tokens.json) and a file
    holding a valid admin token (<workdir>/admin.token, created or reused)."""
    workdir.mkdir(parents=True, exist_ok=True)
    configured = from_env(ClientSettings).tokens_file
    tokens_file = Path(configured) if configured else workdir / "tokens.json"
    token_file = workdir / "admin.token"
    store = auth.TokenStore(tokens_file)
    if token_file.exists():
        identity = store.verify(token_file.read_text("utf-8").strip())
        if identity is not None and identity.role == auth.ADMIN:
            return tokens_file, token_file
    _record, token = store.create(auth.ADMIN, "local stack admin")
    token_file.touch(0o600)
    token_file.write_text(token + "\n", "utf-8")
    return tokens_file, token_file


def _stack(workdir: Path, fixed_ports: bool) -> tuple[LocalStack, Path]:
    """The local stack with auth on (an admin token in the returned file); TLS only when configured."""
    settings = from_env(StackSettings)
    tokens_file, token_file = admin_token(workdir)
    stack = LocalStack(workdir, env={"INTENTFLOW_PROFILES_FILE": str(DEFAULT_PROFILES),
                                     "INTENTFLOW_TOKENS_FILE": str(tokens_file.resolve())},
                       fixed_ports=fixed_ports, classify_replicas=settings.classify_replicas,
                       match_replicas=settings.match_replicas,
                       embedded_kafka_port=settings.embedded_kafka_port if fixed_ports else 0,
                       restart_backoff_s=settings.restart_backoff_s,
                       restart_backoff_max_s=settings.restart_backoff_max_s)
    return stack, token_file


def run(args) -> int:
    workdir = Path(args.workdir)
    stack, token_file = _stack(workdir, fixed_ports=True)
    # Explicit handlers: a shell starting us in the background ignores SIGINT, which would make Ctrl-C
    # (or a supervisor's SIGINT) a no-op; SIGTERM is turned into the same orderly stop.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, signal.default_int_handler)
    print("starting broker and services (loading the models takes about a minute on 2 cores)…", file=sys.stderr)
    try:
        stack.start()
        print(f"Kafka bootstrap     {stack.bootstrap_servers}")
        for service in stack.ports:
            print(f"{service:<10} gRPC   {stack.address(service)}   metrics {stack.metrics_url(service)}")
        print(f"store               {stack.base_env['INTENTFLOW_DATABASE_URL']}")
        if stack.tls_ca:
            print(f"gRPC                TLS (certificate {stack.base_env['INTENTFLOW_TLS_CERT']})")
        else:
            print(f"gRPC                plaintext on {stack.host} (set INTENTFLOW_TLS_CERT and INTENTFLOW_TLS_KEY "
                  "for TLS)")
        print(f"auth                on: tokens in {stack.base_env['INTENTFLOW_TOKENS_FILE']}, an admin token in "
              f"{token_file}")
        print(f"                    export INTENTFLOW_TOKEN_FILE={token_file}")
        print("A crashed service is restarted; Ctrl-C stops everything.", flush=True)
        while True:
            for name in stack.supervise():
                print(f"restarted {name} (restart {stack.restarts[name]})", file=sys.stderr, flush=True)
            time.sleep(0.5)
    except KeyboardInterrupt:
        pass
    finally:
        print("stopping… (services drain their work; Ctrl-C again kills them at once)", file=sys.stderr)
        try:
            codes = stack.stop()
        except KeyboardInterrupt:  # the children die with this process (die_with_parent): nothing lingers
            print("killed before the services finished draining", file=sys.stderr)
            return 130
    print(f"stopped: {codes}", file=sys.stderr)
    return 0 if all(c in (0, None) for c in codes.values()) else 1


def demo(args) -> int:
    from tools.cli.queues import stub
    base = Path(args.workdir)
    base.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="demo-", dir=base))
    stack, token_file = _stack(workdir, fixed_ports=False)
    print(f"demo: starting the embedded stack in {workdir}", file=sys.stderr)
    with stack:
        kafka = stack.kafka
        pushed = push_file(args.file, kafka)
        print(f"demo: pushed {pushed} records to {kafka.topic_raw}", file=sys.stderr)
        wait_drained(kafka, args.timeout)
        settings = from_env(ClientSettings, {"INTENTFLOW_MATCH_ADDR": stack.address("match"),
                                             "INTENTFLOW_TOKEN_FILE": str(token_file),
                                             "INTENTFLOW_TLS_CA": stack.tls_ca})
        found = report(stub(settings))
    return 0 if found else 1


def _counts(items, profile_field: str) -> list[tuple[str, int]]:
    counts: dict[str, int] = defaultdict(int)
    for item in items:
        counts[getattr(item, profile_field) or "(unmatched)"] += 1
    return sorted(counts.items())


def report(client) -> int:
    from intentflow.v1 import match_pb2
    leads = client.ListLeads(match_pb2.ListQueueRequest(page_size=500)).leads
    candidates = client.ListCandidates(match_pb2.ListQueueRequest(page_size=500)).candidates
    complaints = client.ListComplaints(match_pb2.ListComplaintsRequest(limit=500)).complaints
    print(f"\n== Leads: {len(leads)} ==")
    print_table(("product", "leads"), _counts(leads, "product_id"))
    print()
    print_leads(leads, as_json=False)
    print(f"\n== Candidates: {len(candidates)} ==")
    print_table(("vacancy", "candidates"), _counts(candidates, "vacancy_id"))
    print()
    print_candidates(candidates, as_json=False)
    print(f"\n== Employer complaints: {len(complaints)} ==")
    print_table(("employer", "p", "lang", "text"),
                [(c.employer_id or "(unknown)", f"{c.probability:.2f}", c.post.lang, clip(c.post.text, 90))
                 for c in complaints])
    return len(leads) + len(candidates) + len(complaints)
