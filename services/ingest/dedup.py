"""Bounded, time-windowed memory of keys already seen (post identities and text fingerprints)."""
from __future__ import annotations

import threading
from collections import OrderedDict


class SeenWindow:
    def __init__(self, window_s: float, capacity: int):
        self.window_s = window_s
        self.capacity = capacity
        self._seen: OrderedDict[str, float] = OrderedDict()
        self._lock = threading.Lock()

    def check_and_add(self, keys: list[str], now: float) -> str | None:
        """Return the first key already seen within the window, else remember all keys and return None."""
        with self._lock:
            self._expire(now)
            for key in keys:
                if key in self._seen:
                    return key
            for key in keys:
                self._seen[key] = now
            while len(self._seen) > self.capacity:
                self._seen.popitem(last=False)
            return None

    def forget(self, keys: list[str]) -> None:
        """Undo check_and_add for posts that could not be published, so a retry is not a 'duplicate'."""
        with self._lock:
            for key in keys:
                self._seen.pop(key, None)

    def _expire(self, now: float) -> None:
        horizon = now - self.window_s
        while self._seen:
            seen_at = next(iter(self._seen.values()))
            if seen_at >= horizon:
                break
            self._seen.popitem(last=False)

    def __len__(self) -> int:
        return len(self._seen)


class RecentTexts:
    """Texts of recent posts by key, so a comment arriving after its parent is judged with it."""

    def __init__(self, capacity: int):
        self.capacity = capacity
        self._texts: OrderedDict[str, str] = OrderedDict()
        self._lock = threading.Lock()

    def put(self, key: str, text: str) -> None:
        with self._lock:
            self._texts[key] = text
            self._texts.move_to_end(key)
            while len(self._texts) > self.capacity:
                self._texts.popitem(last=False)

    def get(self, key: str) -> str | None:
        with self._lock:
            return self._texts.get(key)
