"""A tiny thread-safe connection pool: each transaction borrows one connection for its duration."""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterator
from typing import Any

from .errors import StoreError


class ConnectionPool:
    def __init__(self, connect: Callable[[], Any], is_reusable: Callable[[Any], bool],
                 max_size: int):
        if max_size < 1:
            raise ValueError("pool size must be >= 1")
        self._connect = connect
        self._is_reusable = is_reusable
        self._slots = threading.BoundedSemaphore(max_size)
        self._lock = threading.Lock()
        self._idle: list[Any] = []
        self._closed = False

    @contextlib.contextmanager
    def connection(self) -> Iterator[Any]:
        self._slots.acquire()
        try:
            with self._lock:
                if self._closed:
                    raise StoreError("store is closed")
                conn = self._idle.pop() if self._idle else None
            if conn is None:
                conn = self._connect()
            try:
                yield conn
            finally:
                self._give_back(conn)
        finally:
            self._slots.release()

    def _give_back(self, conn: Any) -> None:
        keep = False
        # A connection that cannot even report its state (e.g. already closed) is not reused.
        with contextlib.suppress(Exception):
            keep = self._is_reusable(conn)
        with self._lock:
            if keep and not self._closed:
                self._idle.append(conn)
                return
        _close_quietly(conn)

    def close(self) -> None:
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
        # Connections still borrowed are closed when they come back.
        for conn in idle:
            _close_quietly(conn)


def _close_quietly(conn: Any) -> None:
    with contextlib.suppress(Exception):
        conn.close()
