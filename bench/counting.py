"""Counting the calls a piece of the app makes: storage requests (azure-core's transport, in this
process, or every process's from Azurite's debug log) and service requests (the emulator's own
counters, in its process)."""

from __future__ import annotations

import re
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
from azure.core.pipeline.transport import RequestsTransport

from devstack.emulator.storage import USER_AGENT as EMULATOR_USER_AGENT
from devstack.host.config import HOST_USER_AGENT
from shared.storage.clients import USER_AGENT as APP_USER_AGENT

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


# Who made a storage request, from its user agent (each part names itself; see USER_AGENT).
CALLERS = {
    APP_USER_AGENT: "the app",
    HOST_USER_AGENT: "the Functions host (queue listening, trigger bindings)",
    EMULATOR_USER_AGENT: "the translation service (emulator: reads sources, writes translations)",
    "axios": "Azurite itself (copy sources)",
}
OTHER_CALLER = "the bench (uploads, result checks)"
_OPERATION = re.compile(r"^\S+ (?P<id>[0-9a-f-]{36}) info: DispatchMiddleware: Operation=(?P<operation>\w+)")
_USER_AGENT = re.compile(r'^\S+ (?P<id>[0-9a-f-]{36}) info: \w+: RequestMethod=.*?"user-agent":"(?P<agent>[^"]*)"')


def azurite_requests(debug_log: Path) -> Counter[tuple[str, str]]:
    """Requests Azurite served, by (caller, operation), from its `--debug` log."""
    operations: dict[str, str] = {}
    agents: dict[str, str] = {}
    with debug_log.open(encoding="utf-8", errors="replace") as lines:
        for line in lines:
            if "DispatchMiddleware: Operation=" in line and (found := _OPERATION.match(line)):
                operations[found["id"]] = found["operation"]
            elif "RequestMethod=" in line and (found := _USER_AGENT.match(line)):
                agents.setdefault(found["id"], found["agent"])
    counts: Counter[tuple[str, str]] = Counter()
    for request, operation in operations.items():
        agent = agents.get(request, "")
        caller = next((name for prefix, name in CALLERS.items() if agent.startswith(prefix)), OTHER_CALLER)
        counts[caller, operation] += 1
    return counts
