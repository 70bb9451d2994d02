"""Jobs and documents as the emulator holds them, and their JSON in the service's shape."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.redaction import strip_query

# Kept apart from shared.translator.models on purpose: the emulator is an independent
# implementation of the service, so a mistake in the client's constants is not copied into
# the service the client is tested against.
NOT_STARTED = "NotStarted"
RUNNING = "Running"
SUCCEEDED = "Succeeded"
FAILED = "Failed"
CANCELLED = "Cancelled"
CANCELLING = "Cancelling"
VALIDATION_FAILED = "ValidationFailed"

STATUSES = (NOT_STARTED, RUNNING, SUCCEEDED, FAILED, CANCELLED, CANCELLING, VALIDATION_FAILED)
FINAL_STATUSES = frozenset({SUCCEEDED, FAILED, CANCELLED, VALIDATION_FAILED})
# Older pages spell it with one l; the service answers `Cancelled` but accepts both in filters.
STATUS_ALIASES = {"canceled": CANCELLED, "canceling": CANCELLING}


def canonical_status(value: str) -> str | None:
    lowered = value.strip().lower()
    if lowered in STATUS_ALIASES:
        return STATUS_ALIASES[lowered]
    return next((status for status in STATUSES if status.lower() == lowered), None)


def format_timestamp(moment: datetime) -> str:
    """ISO 8601 with seven fractional digits and Z, as the service writes dates."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + "0Z"


def error_body(code: str, message: str, target: str, inner_code: str | None = None) -> dict[str, Any]:
    error: dict[str, Any] = {"code": code, "message": message, "target": target}
    if inner_code is not None:
        error["innerError"] = {"code": inner_code, "message": message}
    return error


class Clock:
    """UTC now, strictly increasing, so creation order is total even for jobs created in one microsecond."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last = datetime.min.replace(tzinfo=UTC)

    def now(self) -> datetime:
        with self._lock:
            moment = datetime.now(UTC)
            if moment <= self._last:
                moment = self._last + timedelta(microseconds=1)
            self._last = moment
            return moment


@dataclass
class DocumentState:
    id: str
    source_url: str  # no query string
    target_url: str  # no query string
    source_blob: str
    target_blob: str
    language: str
    size: int
    created: datetime
    last_action: datetime
    status: str = NOT_STARTED
    progress: float = 0.0
    characters: int = 0
    error: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "path": self.target_url,
            "sourcePath": self.source_url,
            "createdDateTimeUtc": format_timestamp(self.created),
            "lastActionDateTimeUtc": format_timestamp(self.last_action),
            "status": self.status,
            "to": self.language,
            "progress": self.progress,
            "id": self.id,
            "characterCharged": self.characters,
        }
        if self.error is not None:
            body["error"] = self.error
        return body


_SAVED_DOCUMENT_FIELDS = (
    "id",
    "source_url",
    "target_url",
    "source_blob",
    "target_blob",
    "language",
    "size",
    "status",
    "progress",
    "characters",
    "error",
)


@dataclass
class JobState:
    id: str
    created: datetime
    inputs: list[dict[str, Any]]
    last_action: datetime
    status: str = NOT_STARTED
    documents: list[DocumentState] = field(default_factory=list)
    error: dict[str, Any] | None = None
    cancel_requested: bool = False
    # Set when the emulator is reset: the worker drops the job without touching storage again.
    discarded: bool = False

    @classmethod
    def new(cls, inputs: list[dict[str, Any]], created: datetime) -> JobState:
        return cls(id=str(uuid.uuid4()), created=created, inputs=inputs, last_action=created)

    @property
    def source_urls(self) -> list[str]:
        return [strip_query(item["source"]["sourceUrl"]) for item in self.inputs]

    @property
    def target_urls(self) -> list[str]:
        return [strip_query(target["targetUrl"]) for item in self.inputs for target in item.get("targets", [])]

    # Persistence (--state-dir): what a restarted emulator needs to carry on with the job.
    def to_saved(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "created": self.created.isoformat(),
            "last_action": self.last_action.isoformat(),
            "inputs": self.inputs,
            "status": self.status,
            "error": self.error,
            "cancel_requested": self.cancel_requested,
            "documents": [
                {
                    **{name: getattr(document, name) for name in _SAVED_DOCUMENT_FIELDS},
                    "created": document.created.isoformat(),
                    "last_action": document.last_action.isoformat(),
                }
                for document in self.documents
            ],
        }

    @classmethod
    def from_saved(cls, saved: dict[str, Any]) -> JobState:
        job = cls(
            id=saved["id"],
            created=datetime.fromisoformat(saved["created"]),
            inputs=saved["inputs"],
            last_action=datetime.fromisoformat(saved["last_action"]),
            status=saved["status"],
            error=saved.get("error"),
            cancel_requested=bool(saved.get("cancel_requested")),
        )
        job.documents = [
            DocumentState(
                created=datetime.fromisoformat(item["created"]),
                last_action=datetime.fromisoformat(item["last_action"]),
                **{name: item[name] for name in _SAVED_DOCUMENT_FIELDS},
            )
            for item in saved.get("documents", [])
        ]
        return job

    def summary(self) -> dict[str, int]:
        counts = {status: 0 for status in STATUSES}
        for document in self.documents:
            counts[document.status] += 1
        return {
            "total": len(self.documents),
            "failed": counts[FAILED],
            "success": counts[SUCCEEDED],
            "inProgress": counts[RUNNING],
            "notYetStarted": counts[NOT_STARTED],
            "cancelled": counts[CANCELLED],
            "totalCharacterCharged": sum(document.characters for document in self.documents),
        }

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "createdDateTimeUtc": format_timestamp(self.created),
            "lastActionDateTimeUtc": format_timestamp(self.last_action),
            "status": self.status,
            "summary": self.summary(),
        }
        if self.error is not None:
            body["error"] = self.error
        return body
