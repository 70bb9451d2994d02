"""Counting the calls a piece of the app makes: storage requests (azure-core's transport, in this
process) and service requests (the emulator's own counters, in its process)."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import httpx
from azure.core.pipeline.transport import RequestsTransport

_lock = threading.Lock()
_counts: Counter[str] | None = None
_original_send = RequestsTransport.send


def _counting_send(self: RequestsTransport, request: Any, **kwargs: Any) -> Any:
    with _lock:
        if _counts is not None:
            _counts[request.method] += 1
    return _original_send(self, request, **kwargs)


@contextmanager
def storage_calls() -> Iterator[Counter[str]]:
    """Counts every storage request this process makes inside the block, by HTTP method."""
    global _counts
    counts: Counter[str] = Counter()
    with _lock:
        _counts = counts
    RequestsTransport.send = _counting_send
    try:
        yield counts
    finally:
        RequestsTransport.send = _original_send
        with _lock:
            _counts = None


def service_calls(endpoint: str, key: str) -> Counter[str]:
    """The emulator's request counters, by operation (`POST /batches`, `GET /batches/{id}`...)."""
    response = httpx.get(f"{endpoint}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)
    response.raise_for_status()
    return Counter({name: int(count) for name, count in response.json()["requests"].items()})


def emulator_jobs(endpoint: str, key: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{endpoint}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)
    response.raise_for_status()
    return list(response.json()["batches"])


def reset_emulator(endpoint: str, key: str) -> None:
    httpx.post(f"{endpoint}/_emulator/reset", headers={"Ocp-Apim-Subscription-Key": key}, timeout=30)
