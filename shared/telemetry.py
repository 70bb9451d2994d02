"""Structured fields on every log line about a file, and the product's metrics.

A log call passes `extra=file_fields(record, event=...)`: the fields reach Application Insights as
custom dimensions (table `AppTraces`, column `Properties`) through the OpenTelemetry log handler,
and the local console shows them after the message. Names are the telemetry contract the
workbook, the alerts and the operator tool read: change them together.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from enum import StrEnum
from typing import Any, Protocol


class Event(StrEnum):
    CLAIMED = "translation.claimed"
    SUBMITTED = "translation.submitted"
    WAITING = "translation.waiting"
    UNCERTAIN = "translation.uncertain"
    FINISHING = "translation.finishing"
    REJECTED = "translation.rejected"
    RECORDED = "translation.recorded"
    NEEDS_ATTENTION = "translation.needs_attention"
    POISON = "translation.poison"
    POLL = "translation.poll"
    GROUPED = "translation.grouped"
    CATCH_UP = "translation.catch_up"
    SUPERSEDED = "translation.superseded"
    REUSED = "translation.reused"
    OUTCOME_EVENT = "translation.outcome_event"
    # The rules document (RULES_BLOB) was read and applies / cannot be used (an alert fires on it).
    RULES_APPLIED = "translation.rules_applied"
    RULES_REJECTED = "translation.rules_rejected"
    # A character budget window's spend crossed 80% of the budget (an alert fires on it).
    BUDGET_ALERT = "translation.budget_alert"


class _FileLike(Protocol):
    @property
    def key(self) -> str: ...

    source_container: str
    source_name: str
    source_etag: str
    job_id: str | None
    languages: list[str]


def file_fields(record: _FileLike | None = None, *, event: Event, **more: Any) -> dict[str, Any]:
    """The `extra` of a log call about one source version: who it is, and what happened."""
    fields: dict[str, Any] = {"event": event.value}
    if record is not None:
        fields.update(
            source_path=f"{record.source_container}/{record.source_name}",
            source_version=record.source_etag,
            record_key=record.key,
            job_id=record.job_id,
            languages=",".join(record.languages),
        )
    for name, value in more.items():
        fields[name] = value.value if isinstance(value, StrEnum) else value
    return {name: value for name, value in fields.items() if value is not None}


def submission_fields(submission: Any, *, event: Event, **more: Any) -> dict[str, Any]:
    """The `extra` of a log call about one submission (the files of one start call, and its job)."""
    fields: dict[str, Any] = {
        "event": event.value,
        "submission": submission.id,
        "job_id": submission.job_id,
        "files": len(submission.members),
        "languages": ",".join(submission.languages),
    }
    for name, value in more.items():
        fields[name] = value.value if isinstance(value, StrEnum) else value
    return {name: value for name, value in fields.items() if value is not None}


def source_fields(
    container: str, name: str, etag: str | None = None, *, event: Event, key: str | None = None, **more: Any
) -> dict[str, Any]:
    """`file_fields` for a blob that may have no record yet."""
    fields: dict[str, Any] = {"event": event.value, "source_path": f"{container}/{name}", "source_version": etag}
    fields["record_key"] = key
    fields.update(more)
    return {field: value for field, value in fields.items() if value is not None}


# Fields every LogRecord has; anything else on a record came from `extra`.
_STANDARD_ATTRIBUTES = frozenset(vars(logging.makeLogRecord({})).keys()) | {"message", "asctime", "_redacted"}


def extra_fields(record: logging.LogRecord) -> Mapping[str, Any]:
    return {name: value for name, value in vars(record).items() if name not in _STANDARD_ATTRIBUTES}


class FieldsFormatter(logging.Formatter):
    """The message, then the structured fields as `name=value` (for consoles and local logs)."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        fields = extra_fields(record)
        if not fields:
            return text
        shown = " ".join(f"{name}={value}" for name, value in fields.items() if name != "event")
        return f"{text} [{fields.get('event', '-')}{' ' + shown if shown else ''}]"


class _Instruments:
    """OpenTelemetry instruments, created on first use; no-ops when OpenTelemetry is not installed
    or not configured (the API's default meter records nothing)."""

    def __init__(self) -> None:
        self._meter: Any = None
        self._instruments: dict[str, Any] = {}

    def _get(self, kind: str, name: str, unit: str, description: str) -> Any:
        if name not in self._instruments:
            try:
                from opentelemetry import metrics
            except ImportError:
                return None
            if self._meter is None:
                self._meter = metrics.get_meter("drop_folder_translation")
            create = getattr(self._meter, f"create_{kind}")
            self._instruments[name] = create(name, unit=unit, description=description)
        return self._instruments[name]

    def count(self, name: str, amount: int = 1, *, unit: str = "1", description: str = "", **attributes: Any) -> None:
        counter = self._get("counter", name, unit, description)
        if counter is not None and amount:
            counter.add(amount, {key: str(value) for key, value in attributes.items() if value is not None})

    def record(self, name: str, value: float, *, unit: str = "1", description: str = "", **attributes: Any) -> None:
        histogram = self._get("histogram", name, unit, description)
        if histogram is not None:
            histogram.record(value, {key: str(item) for key, item in attributes.items() if item is not None})

    def gauge(self, name: str, value: float, *, unit: str = "1", description: str = "") -> None:
        gauge = self._get("gauge", name, unit, description)
        if gauge is not None:
            gauge.set(value)


metrics = _Instruments()

CONNECTION_STRING_SETTING = "APPLICATIONINSIGHTS_CONNECTION_STRING"
_configured = False


def configure_telemetry() -> bool:
    """Exports logs (with their fields), traces of the storage and service calls, and the metrics
    above to Application Insights, the way Functions Python apps do with OpenTelemetry (host.json
    `telemetryMode: OpenTelemetry`). In Azure the worker sets the distro up itself before it imports
    the app (app setting `PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true`): then, or whenever an
    OpenTelemetry SDK is already in place, this does nothing, so telemetry is set up once whichever
    way the worker behaves. Otherwise only when a connection string is set; Entra-authenticated
    ingestion comes from APPLICATIONINSIGHTS_AUTHENTICATION_STRING. Nothing is sent until there is
    telemetry. True when this call or an earlier one set it up here."""
    global _configured
    if _configured or not os.environ.get(CONNECTION_STRING_SETTING) or telemetry_already_set_up():
        return _configured
    from azure.monitor.opentelemetry import configure_azure_monitor

    configure_azure_monitor(logger_name="", enable_live_metrics=False)
    _configured = True
    return True


def telemetry_already_set_up() -> bool:
    """An OpenTelemetry SDK tracer provider is installed (by the Functions worker, or anyone else)."""
    from opentelemetry import trace
    from opentelemetry.sdk.trace import TracerProvider

    return isinstance(trace.get_tracer_provider(), TracerProvider)
