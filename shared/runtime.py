"""Facts about the Functions host the app runs under, read from the deployed host.json."""

from __future__ import annotations

import json
import logging
from functools import lru_cache
from pathlib import Path

logger = logging.getLogger(__name__)

HOST_JSON = Path(__file__).resolve().parent.parent / "host.json"
DEFAULT_MAX_DEQUEUE_COUNT = 5  # the queues extension's default


@lru_cache(maxsize=1)
def max_dequeue_count(host_json: Path = HOST_JSON) -> int:
    try:
        config = json.loads(host_json.read_text(encoding="utf-8"))
        return int(config.get("extensions", {}).get("queues", {}).get("maxDequeueCount", DEFAULT_MAX_DEQUEUE_COUNT))
    except (OSError, ValueError, TypeError) as exc:
        logger.warning(
            "cannot read maxDequeueCount from %s (%s); assuming %d", host_json, exc, DEFAULT_MAX_DEQUEUE_COUNT
        )
        return DEFAULT_MAX_DEQUEUE_COUNT


# The storage SDKs log every HTTP exchange (headers included) at INFO.
SDK_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def configure_logging() -> None:
    """Redact secrets in every log line, and keep the SDKs' per-request lines out of operators' logs.
    Call after the process's handlers exist (the worker's, or logging.basicConfig)."""
    from shared.redaction import install_log_redaction

    install_log_redaction()
    logging.getLogger(SDK_HTTP_LOGGER).setLevel(logging.WARNING)
