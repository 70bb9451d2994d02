"""Helpers for the local host's tests (imported by the test modules; no conftest, see docs)."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def unique_name(prefix: str) -> str:
    """A container/queue name no other test uses (lowercase, 3-63 chars)."""
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def eventually(probe: Callable[[], T], *, timeout: float = 20.0, interval: float = 0.05, what: str = "") -> T:
    """Calls `probe` until it returns something truthy; fails after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or probe}")
        time.sleep(interval)


def at_least(count: int, items: list[T]) -> list[T] | None:
    return items if len(items) >= count else None
