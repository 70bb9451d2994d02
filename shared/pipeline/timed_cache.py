"""One value loaded on first use and again when it is older than its time to live (per process)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Generic, TypeVar, cast

T = TypeVar("T")

# A value loaded before what asks for it was written is loaded again, at most this often.
MIN_RELOAD_INTERVAL = timedelta(seconds=1)


class TimedCache(Generic[T]):
    """One value, loaded on first use and again once it is older than `ttl_seconds`.
    A failed load is not cached: the next caller tries again."""

    def __init__(
        self,
        load: Callable[[], T],
        ttl_seconds: float,
        *,
        none_ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._load = load
        self._ttl = ttl_seconds
        # A loader may answer None for "not available now": kept for a shorter time.
        self._none_ttl = ttl_seconds if none_ttl_seconds is None else none_ttl_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._value: T | None = None
        self._loaded_at: float | None = None
        self._loaded_wall: datetime | None = None
        self._lock = threading.Lock()

    def get(self, *, newer_than: datetime | None = None) -> T:
        """`newer_than`: load again if the value was loaded before that moment (what it describes
        may have changed since), but not more than once a second."""
        with self._lock:
            now = self._clock()
            ttl = self._none_ttl if self._value is None else self._ttl
            stale = (
                newer_than is not None
                and self._loaded_wall is not None
                and self._loaded_wall <= newer_than
                and self._wall_clock() - self._loaded_wall >= MIN_RELOAD_INTERVAL
            )
            if self._loaded_at is None or now - self._loaded_at >= ttl or stale:
                self._value = self._load()
                self._loaded_at = now
                self._loaded_wall = self._wall_clock()
            return cast(T, self._value)

    def clear(self) -> None:
        with self._lock:
            self._loaded_at = None
