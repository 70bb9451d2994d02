"""How the app's process logs, under the Functions host and the local one."""

from __future__ import annotations

import logging

# The storage SDKs log every HTTP exchange (headers included) at INFO.
SDK_HTTP_LOGGER = "azure.core.pipeline.policies.http_logging_policy"


CONSOLE_FORMAT = "%(levelname)s %(name)s: %(message)s"
TIMED_CONSOLE_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def configure_logging(console_level: int | str | None = None, console_format: str = CONSOLE_FORMAT) -> None:
    """Redact secrets in every log record when it is created, and keep the SDKs' per-request lines
    out of operators' logs. Safe to call more than once, before or after handlers exist.

    Under a Functions host the host owns the handlers; a command-line tool passes `console_level`
    to log to the terminal."""
    from shared.redaction import install_log_redaction

    if console_level is not None:
        logging.basicConfig(level=console_level, format=console_format)

    install_log_redaction()
    logging.getLogger(SDK_HTTP_LOGGER).setLevel(logging.WARNING)
