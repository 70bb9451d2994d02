"""Retries with exponential backoff, jitter and `Retry-After`, inside a total time budget."""

from __future__ import annotations

import logging
import random as _random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC
from email.utils import parsedate_to_datetime
from typing import TypeVar

from shared.translator.errors import ServiceUnreachableError, SubmissionUncertainError, TranslatorError

logger = logging.getLogger(__name__)

T = TypeVar("T")

# 408/429: the request was not processed. 5xx: a passing failure, by the service's own account.
RETRYABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: Callable[[], float] = time.time) -> float | None:
    """Seconds to wait from a `Retry-After` value: delta-seconds or an HTTP date. None if absent/unreadable."""
    if value is None:
        return None
    text = value.strip()
    if not text:
        return None
    try:
        seconds = float(text)
    except ValueError:
        pass
    else:
        return max(seconds, 0.0) if seconds == seconds else None  # NaN is unreadable
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(when.timestamp() - now(), 0.0)


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how long a call is retried. `sleep`, `clock` and `random` are injectable for tests.

    Backoff before retry n (n = 1, 2, ...) is "equal jitter": half of min(max_delay, base_delay * 2**(n-1))
    plus a random share of the other half, so retries from many instances spread out but never
    hammer the service back to back. A `Retry-After` is a floor: we never wait less than it says.
    When the wait would end past `total_budget_seconds` after the first attempt, or `max_attempts`
    attempts were made, the last error is raised.
    """

    total_budget_seconds: float = 60.0
    base_delay: float = 0.5
    max_delay: float = 20.0
    max_attempts: int = 8
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    random: Callable[[], float] = _random.random

    def is_retryable(self, error: TranslatorError) -> bool:
        if isinstance(error, SubmissionUncertainError):
            return False
        if isinstance(error, ServiceUnreachableError):
            return True
        return error.status_code in RETRYABLE_STATUSES

    def backoff(self, retry_number: int) -> float:
        """The wait before retry `retry_number` (1-based), without Retry-After."""
        ceiling: float = min(self.max_delay, self.base_delay * (2 ** (retry_number - 1)))
        return ceiling / 2 + float(self.random()) * ceiling / 2

    def call(self, attempt: Callable[[int], T], *, description: str = "request") -> T:
        """Runs `attempt(n)` (n = 1, 2, ...) until it returns, raises a non-retryable error, or the
        attempts or the time budget run out (then its last error is raised)."""
        started = self.clock()
        number = 1
        while True:
            try:
                return attempt(number)
            except TranslatorError as error:
                if not self.is_retryable(error):
                    raise
                if number >= self.max_attempts:
                    logger.warning("%s failed after %d attempts, giving up: %s", description, number, error)
                    raise
                delay = self.backoff(number)
                if error.retry_after is not None:
                    delay = max(delay, error.retry_after)
                elapsed = self.clock() - started
                if elapsed + delay > self.total_budget_seconds:
                    logger.warning(
                        "%s failed (attempt %d) and waiting %.1fs would pass the %.0fs retry budget, giving up: %s",
                        description,
                        number,
                        delay,
                        self.total_budget_seconds,
                        error,
                    )
                    raise
                logger.info("%s failed (attempt %d), retrying in %.2fs: %s", description, number, delay, error)
                self.sleep(delay)
                number += 1


class Pacer:
    """Holds every call of this client (all its threads) while the service has asked for a pause.

    A 429 or 503 with `Retry-After` pauses the one call that met it; without a shared pause, every
    other thread of the process meets its own 429 in the meantime (48% of the calls of a bulk
    under a 10 requests/s limit were). Here the first answer sets a moment before which no call
    leaves."""

    def __init__(self, *, sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self._sleep = sleep
        self._clock = clock
        self._resume_at = 0.0
        self._lock = threading.Lock()

    def hold(self, seconds: float) -> None:
        with self._lock:
            self._resume_at = max(self._resume_at, self._clock() + seconds)

    def wait(self) -> float:
        """Sleeps until calls may go again; returns how long it slept."""
        with self._lock:
            delay = self._resume_at - self._clock()
        if delay <= 0:
            return 0.0
        self._sleep(delay)
        return delay
