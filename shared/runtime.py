"""How the app's process logs, under the Functions host and the local one."""

from __future__ import annotations

import logging

# The storage SDKs log every HTTP exchange (headers included) at INFO.
SDK_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


def configure_logging() -> None:
    """Redact secrets in every log record when it is created, and keep the SDKs' per-request lines
    out of operators' logs. Safe to call more than once, before or after handlers exist."""
    from shared.redaction import install_log_redaction

    install_log_redaction()
    logging.getLogger(SDK_HTTP_LOGGER).setLevel(logging.WARNING)
