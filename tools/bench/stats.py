"""Small numeric helpers shared by every benchmark part (pure, unit-tested in tests/bench)."""
from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence

import numpy as np


def percentile(values: Sequence[float], q: float) -> float | None:
    """q-th percentile with linear interpolation between order statistics (numpy's default), None if empty.

    Linear interpolation rather than "nearest rank" so p99 of a few hundred samples does not jump between
    the two slowest calls when one more sample arrives.
    """
    if len(values) == 0:
        return None
    if not 0 <= q <= 100:
        raise ValueError(f"percentile must be within 0..100, got {q}")
    return float(np.percentile(np.asarray(values, dtype=np.float64), q))


def latency_summary(seconds: Sequence[float]) -> dict:
    """Latencies given in seconds, summarised in milliseconds (the unit every report uses)."""
    ms = [s * 1000.0 for s in seconds]

    def rounded(value: float | None) -> float | None:
        return None if value is None else round(value, 3)

    return {"n": len(ms), "p50_ms": rounded(percentile(ms, 50)), "p90_ms": rounded(percentile(ms, 90)),
            "p99_ms": rounded(percentile(ms, 99)), "mean_ms": rounded(float(np.mean(ms)) if ms else None),
            "max_ms": rounded(max(ms) if ms else None)}


def recall_at_k(found: np.ndarray, truth: np.ndarray, k: int) -> float:
    """Mean over queries of |found[:k] ∩ truth[:k]| / k; ids < 0 (FAISS "no result") never count.

    Set semantics, not rank order: a search that returns the right ten posts in a slightly different order
    (8-bit quantised scores) has perfect recall.
    """
    found, truth = np.asarray(found), np.asarray(truth)
    if found.shape[0] != truth.shape[0]:
        raise ValueError(f"{found.shape[0]} result rows for {truth.shape[0]} queries")
    if found.shape[0] == 0:
        return 0.0
    if truth.shape[1] < k:
        raise ValueError(f"ground truth has only {truth.shape[1]} neighbours, need {k}")
    hits = 0
    for row_found, row_truth in zip(found[:, :k], truth[:, :k]):
        hits += len({int(i) for i in row_found if i >= 0} & {int(i) for i in row_truth})
    return hits / (k * found.shape[0])


def rate(count: int, seconds: float) -> float | None:
    return round(count / seconds, 2) if seconds > 0 else None


def per_item_us(seconds: float, count: int) -> float | None:
    return round(seconds * 1e6 / count, 2) if count else None


def time_per_item(fn: Callable[[], int], min_seconds: float = 0.0) -> tuple[float, int]:
    """Run fn (which returns how many items it handled) until at least min_seconds passed; total (s, items)."""
    elapsed, items = 0.0, 0
    while True:
        started = time.perf_counter()
        items += fn()
        elapsed += time.perf_counter() - started
        if elapsed >= min_seconds:
            return elapsed, items


def chunks(items: Sequence, size: int) -> Iterable[Sequence]:
    for start in range(0, len(items), size):
        yield items[start:start + size]
