"""What the local host reads before it serves anything: settings, host.json, the app object.

Mirrors Core Tools: `local.settings.json` "Values" become environment variables (existing
variables win), `%NAME%` binding expressions resolve against them, and a binding's
`connection` names the app setting that holds the storage connection string.
"""

from __future__ import annotations

import importlib
import json
import logging
import re
import sys
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shared import local_settings

logger = logging.getLogger(__name__)

# The user agent of the storage calls the host makes itself (queue listening, trigger bindings).
HOST_USER_AGENT = "local-functions-host"

DEFAULT_APP = "function_app:app"
# The Functions host's fallback when a binding names no connection.
DEFAULT_CONNECTION = "AzureWebJobsStorage"

_EXPRESSION = re.compile(r"%([^%]+)%")
_TIMESPAN = re.compile(r"^(?:(\d+)\.)?(\d{1,2}):(\d{1,2}):(\d{1,2})(?:\.(\d+))?$")


class HostConfigError(RuntimeError):
    """The app, its settings or host.json cannot be served; the message says what to fix."""


# The queues extension's floor for maxPollingInterval, and where an idle listener's back-off starts.
MIN_POLLING_INTERVAL_SECONDS = 0.1


@dataclass(frozen=True)
class QueueOptions:
    """`extensions.queues` of host.json, with the Functions host's defaults."""

    max_dequeue_count: int = 5
    visibility_timeout_seconds: float = 0.0
    batch_size: int = 16
    # A new batch is fetched once fewer than this many messages are being processed (the
    # extension's default: half the batch), so one slow message never holds up the others.
    new_batch_threshold: int = 8
    # An idle listener's polls back off (from 100 ms, doubling) up to this: the queue's own latency.
    max_polling_interval_seconds: float = 60.0

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> QueueOptions:
        queues = (host_json.get("extensions") or {}).get("queues") or {}
        try:
            max_dequeue_count = int(queues.get("maxDequeueCount", cls.max_dequeue_count))
            batch_size = int(queues.get("batchSize", cls.batch_size))
            threshold = int(queues.get("newBatchThreshold", batch_size // 2))
        except (TypeError, ValueError) as exc:
            raise HostConfigError(f"host.json extensions.queues: {exc}") from exc
        visibility = queues.get("visibilityTimeout")
        visibility_seconds = parse_timespan(visibility) if visibility else cls.visibility_timeout_seconds
        polling = queues.get("maxPollingInterval")
        polling_seconds = parse_timespan(polling) if polling else cls.max_polling_interval_seconds
        if polling_seconds < MIN_POLLING_INTERVAL_SECONDS:
            raise HostConfigError(f"host.json maxPollingInterval must be at least 00:00:00.100, got {polling}")
        if max_dequeue_count < 1:
            raise HostConfigError(f"host.json maxDequeueCount must be at least 1, got {max_dequeue_count}")
        # The queue service hands out at most 32 messages per receive, as the real host enforces.
        if not 1 <= batch_size <= 32:
            raise HostConfigError(f"host.json batchSize must be 1..32, got {batch_size}")
        if threshold < 0:
            raise HostConfigError(f"host.json newBatchThreshold must be 0 or more, got {threshold}")
        return cls(max_dequeue_count, visibility_seconds, batch_size, threshold, polling_seconds)


@dataclass(frozen=True)
class BlobsOptions:
    """`extensions.blobs` of host.json, as the Blobs extension (v5) applies them to a blob trigger.

    A failed blob trigger invocation is retried through the host's blob trigger queue, whose
    options the extension builds from these alone (`SharedBlobQueueListenerFactory.
    BlobsOptionsToQueuesOptions`): `MaxDequeueCount` is `poisonBlobThreshold` and the visibility
    timeout keeps its default of zero, so a retry comes back at once and `extensions.queues`
    (maxDequeueCount, visibilityTimeout) has no say.
    """

    poison_blob_threshold: int = 5
    retry_delay_seconds: float = 0.0

    @classmethod
    def from_host_json(cls, host_json: Mapping[str, Any]) -> BlobsOptions:
        blobs = (host_json.get("extensions") or {}).get("blobs") or {}
        try:
            threshold = int(blobs.get("poisonBlobThreshold", cls.poison_blob_threshold))
        except (TypeError, ValueError) as exc:
            raise HostConfigError(f"host.json extensions.blobs.poisonBlobThreshold: {exc}") from exc
        if threshold < 1:
            raise HostConfigError(f"host.json poisonBlobThreshold must be at least 1, got {threshold}")
        return cls(poison_blob_threshold=threshold)


def parse_timespan(text: str) -> float:
    """'hh:mm:ss' (optionally 'd.hh:mm:ss' and fractional seconds), as .NET TimeSpan, in seconds."""
    match = _TIMESPAN.match(str(text).strip())
    if not match:
        raise HostConfigError(f"{text!r} is not a time span like 00:00:30")
    days, hours, minutes, seconds, fraction = match.groups()
    total = int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + int(seconds)
    return total + (float(f"0.{fraction}") if fraction else 0.0)


def is_timespan(text: str) -> bool:
    return bool(_TIMESPAN.match(text.strip()))


def load_host_json(project_dir: Path) -> dict[str, Any]:
    path = project_dir / "host.json"
    if not path.exists():
        logger.warning("no host.json in %s: using the Functions host's defaults", project_dir)
        return {}
    try:
        loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return loaded
    except json.JSONDecodeError as exc:
        raise HostConfigError(f"{path} is not valid JSON: {exc}") from exc


def load_local_settings(project_dir: Path, environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Copies "Values" of local.settings.json (else the sample) into `environ`; existing variables win."""
    try:
        return local_settings.load_local_settings(project_dir, environ)
    except local_settings.LocalSettingsError as exc:
        raise HostConfigError(str(exc)) from exc


def import_app(spec: str, project_dir: Path) -> Any:
    """Imports 'module:attribute' with the project directory first on sys.path, like the worker does."""
    module_name, _, attribute = spec.partition(":")
    attribute = attribute or "app"
    if not module_name:
        raise HostConfigError(f"--app must look like module:attribute, got {spec!r}")
    project = str(project_dir.resolve())
    if project not in sys.path:
        sys.path.insert(0, project)
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        # The real host says "No job functions found" here; the cause is more useful.
        raise HostConfigError(f"importing {module_name!r} from {project} failed: {exc!r}") from exc
    try:
        return getattr(module, attribute)
    except AttributeError as exc:
        raise HostConfigError(f"module {module_name!r} has no attribute {attribute!r}") from exc


def resolve_expression(value: str, env: Mapping[str, str], *, function_name: str, field: str) -> str:
    """Replaces each %NAME% in a binding value by the app setting NAME."""

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        setting = env.get(name)
        if setting is None:
            raise HostConfigError(
                f"function {function_name!r}: binding {field!r} uses %{name}%, but app setting {name} is not "
                "set (add it to local.settings.json Values or the environment)"
            )
        return setting

    return _EXPRESSION.sub(substitute, value)
