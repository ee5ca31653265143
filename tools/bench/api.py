"""Part 4: PullLeads and SearchCandidates latency with concurrent clients against the running stack.

Run after the end-to-end part so the queue and the candidate index hold real data. Each client has its own
channel (as separate reps' tools would) and calls back to back; the pipeline is idle by then, so this is
the API's own cost, not its cost under ingest load.
"""
from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable

import grpc

from intentflow.v1 import match_pb2, match_pb2_grpc
from tools.bench.progress import Progress
from tools.bench.stats import latency_summary, rate
from tools.stack import LocalStack

CLIENTS = 4
# Leases expire after a second so four clients pulling for a while keep finding leads, as reps who work
# through their leads and release them would, instead of measuring an empty queue after the first pulls.
LEASE_S = 1

Call = Callable[[match_pb2_grpc.MatchServiceStub, int, int], int]


def concurrent_calls(connect: Callable[[], grpc.Channel], call: Call, clients: int, calls: int) -> dict:
    """`clients` threads, each on its own channel from `connect` and making `calls` back-to-back calls; call
    returns how many items came back."""
    latencies: list[list[float]] = [[] for _ in range(clients)]
    items = [0] * clients
    errors: list[str] = []
    barrier = threading.Barrier(clients)

    def client(n: int) -> None:
        with connect() as channel:
            stub = match_pb2_grpc.MatchServiceStub(channel)
            try:
                call(stub, n, -1)  # connect and warm up outside the measurement
            except grpc.RpcError as exc:  # counted; the client still meets the others at the barrier
                errors.append(f"{exc.code().name}: {exc.details()}")
            barrier.wait()
            for i in range(calls):
                started = time.perf_counter()
                try:
                    items[n] += call(stub, n, i)
                except grpc.RpcError as exc:
                    errors.append(f"{exc.code().name}: {exc.details()}")
                    continue
                latencies[n].append(time.perf_counter() - started)

    threads = [threading.Thread(target=client, args=(n,), name=f"bench-client-{n}") for n in range(clients)]
    started = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    elapsed = time.perf_counter() - started
    flat = [x for per_client in latencies for x in per_client]
    return {"clients": clients, **latency_summary(flat), "calls_per_s": rate(len(flat), elapsed),
            "mean_items": round(sum(items) / max(1, len(flat)), 2), "errors": len(errors),
            "first_error": errors[0] if errors else None}


def search_queries(catalog_path: str, texts: list[str]) -> list[match_pb2.SearchCandidatesRequest]:
    """Recruiter searches: by vacancy profile and by free text (both encode the query in the service)."""
    with open(catalog_path, encoding="utf-8") as fh:
        vacancies = [v["id"] for v in json.load(fh).get("vacancies", [])]
    requests = [match_pb2.SearchCandidatesRequest(vacancy_id=v, top_k=10) for v in vacancies]
    requests += [match_pb2.SearchCandidatesRequest(query=t, top_k=10) for t in texts]
    return requests


def run(stack: LocalStack, search_texts: list[str], catalog_path: str, calls: int, progress: Progress) -> dict:
    # With auth on (INTENTFLOW_TOKENS_FILE in the services' environment) the clients send the configured token,
    # whose id is then every lease's owner, and the token's rate limit (INTENTFLOW_RATE_PER_S) applies.
    token = stack.client_token

    def connect() -> grpc.Channel:
        return stack.channel("match", token)

    def pull(stub, client: int, _i: int) -> int:
        return len(stub.PullLeads(match_pb2.PullLeadsRequest(
            owner="" if token else f"bench-rep-{client}", limit=10, lease_seconds=LEASE_S, include_unmatched=True),
            timeout=30).leads)

    requests = search_queries(catalog_path, search_texts)

    def search(stub, client: int, i: int) -> int:
        return len(stub.SearchCandidates(requests[(client * calls + i) % len(requests)], timeout=30).hits)

    results = {}
    for name, call in (("PullLeads", pull), ("SearchCandidates", search)):
        results[name] = concurrent_calls(connect, call, CLIENTS, calls)
        progress.say(f"  {name}: p50 {results[name]['p50_ms']} ms, p99 {results[name]['p99_ms']} ms, "
                     f"{results[name]['calls_per_s']} calls/s, {results[name]['mean_items']} items per call")
    return results
