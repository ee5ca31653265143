"""Progress lines on stderr (stdout carries only the Markdown table) and per-part wall times."""
from __future__ import annotations

import sys
import time
from contextlib import contextmanager


class Progress:
    def __init__(self, stream=sys.stderr):
        self.stream = stream
        self.started = time.monotonic()
        self.durations: dict[str, float] = {}

    def elapsed(self) -> float:
        return time.monotonic() - self.started

    def say(self, message: str) -> None:
        print(f"[bench {self.elapsed():6.1f}s] {message}", file=self.stream, flush=True)

    @contextmanager
    def part(self, name: str):
        self.say(f"{name}: start")
        started = time.monotonic()
        try:
            yield
        finally:
            self.durations[name] = round(time.monotonic() - started, 2)
            self.say(f"{name}: done in {self.durations[name]:.1f}s")
