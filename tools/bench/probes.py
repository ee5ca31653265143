"""What the benchmark reads from outside a service: its Prometheus endpoint and /proc (memory, CPU time)."""
from __future__ import annotations

import os
import urllib.request
from dataclasses import dataclass

from prometheus_client.parser import text_string_to_metric_families

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# A scrape: (sample name, sorted label pairs) -> value.
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# Outcomes of intentflow_records_total that are not a consumed record.
NOT_RECORDS = {"subscriber_dropped"}


def scrape(url: str, timeout_s: float = 5.0) -> Samples:
    with urllib.request.urlopen(url, timeout=timeout_s) as response:
        text = response.read().decode("utf-8")
    return parse_samples(text)


def parse_samples(text: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            samples[(sample.name, tuple(sorted(sample.labels.items())))] = float(sample.value)
    return samples


def delta(before: Samples, after: Samples) -> Samples:
    """Counter and histogram increase between two scrapes (a series absent before counts from 0)."""
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


def total(samples: Samples, name: str, **labels: str) -> float:
    """Sum of the samples called `name` whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(v for (n, lbls), v in samples.items() if n == name and wanted <= set(lbls))


def consumed(samples: Samples) -> int:
    """Records a process consumed, whatever it decided about them (intentflow_records_total but NOT_RECORDS)."""
    return int(sum(v for (name, labels), v in samples.items()
                   if name == "intentflow_records_total" and dict(labels).get("outcome") not in NOT_RECORDS))


def label_values(samples: Samples, name: str, label: str, **labels: str) -> list[str]:
    wanted = set(labels.items())
    found = {dict(lbls).get(label) for (n, lbls), _ in samples.items() if n == name and wanted <= set(lbls)}
    return sorted(v for v in found if v is not None)


@dataclass(frozen=True)
class ProcStatus:
    peak_rss_mb: float     # VmHWM: the high-water mark of resident memory since the process started
    rss_mb: float          # VmRSS now
    cpu_s: float           # user + system CPU time so far


def proc_status(pid: int) -> ProcStatus:
    fields = {}
    with open(f"/proc/{pid}/status", encoding="ascii") as fh:
        for line in fh:
            name, _, value = line.partition(":")
            fields[name] = value.strip()
    with open(f"/proc/{pid}/stat", encoding="ascii") as fh:
        # The command name may contain spaces; fields after the closing parenthesis are positional.
        stat = fh.read().rsplit(")", 1)[1].split()
    utime, stime = int(stat[11]), int(stat[12])
    return ProcStatus(peak_rss_mb=_kb_to_mb(fields.get("VmHWM", "0 kB")), rss_mb=_kb_to_mb(fields.get("VmRSS", "0 kB")),
                      cpu_s=(utime + stime) / CLOCK_TICKS)


def machine_busy_s() -> float:
    """CPU seconds the whole machine spent busy (all cores, all processes) since boot, from /proc/stat.

    Compared with the stack's own CPU time over a run, it tells how much other work shared the cores."""
    with open("/proc/stat", encoding="ascii") as fh:
        ticks = [int(x) for x in fh.readline().split()[1:]]
    idle = ticks[3] + (ticks[4] if len(ticks) > 4 else 0)  # idle + iowait
    return (sum(ticks[:8]) - idle) / CLOCK_TICKS  # guest time is already counted in user


def _kb_to_mb(value: str) -> float:
    return round(int(value.split()[0]) / 1024, 1)
