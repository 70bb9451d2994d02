"""Typed requests and results of the Document Translation batch API."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from shared.redaction import redact_url

logger = logging.getLogger(__name__)

T = TypeVar("T")


class Status(StrEnum):
    """Job and document statuses as the service spells them today."""

    NOT_STARTED = "NotStarted"
    RUNNING = "Running"
    SUCCEEDED = "Succeeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    CANCELLING = "Cancelling"
    VALIDATION_FAILED = "ValidationFailed"


KNOWN_STATUSES = frozenset(
    {
        Status.NOT_STARTED,
        Status.RUNNING,
        Status.SUCCEEDED,
        Status.FAILED,
        Status.CANCELLED,
        Status.CANCELLING,
        Status.VALIDATION_FAILED,
    }
)
FINAL_STATUSES = frozenset({Status.SUCCEEDED, Status.FAILED, Status.CANCELLED, Status.VALIDATION_FAILED})

# Older reference pages spell the American way; the service answers the British way.
_STATUS_BY_LOWER = {status.lower(): status for status in KNOWN_STATUSES} | {
    "canceled": Status.CANCELLED,
    "canceling": Status.CANCELLING,
}


def normalize_status(raw: str) -> Status | str:
    """The known status as a `Status`; an unknown one is returned unchanged (a newer service may add
    statuses, and the poller must keep asking rather than fail)."""
    if not isinstance(raw, str):
        return str(raw)
    return _STATUS_BY_LOWER.get(raw.strip().lower(), raw)


def is_known_status(status: str) -> bool:
    return normalize_status(status) in KNOWN_STATUSES


def is_final_status(status: str) -> bool:
    """True only for statuses known to be final: an unknown one is not, so the poller keeps asking
    (its own age limit, not this function, decides when to give up)."""
    return normalize_status(status) in FINAL_STATUSES


def parse_datetime(raw: Any) -> datetime | None:
    """ISO 8601 as the service writes it ("2021-01-22T23:11:05.1262994Z"), as an aware UTC datetime.
    Python 3.11's fromisoformat reads the `Z` and the seventh fractional digit (it keeps six)."""
    if not isinstance(raw, str) or not raw.strip():
        return None
    try:
        parsed = datetime.fromisoformat(raw.strip())
    except ValueError:
        logger.warning("Unreadable date %r in a service answer; treated as absent", raw)
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return 0


def _float(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return 0.0


def _str_or_none(value: Any) -> str | None:
    return value if isinstance(value, str) and value != "" else None


@dataclass(frozen=True)
class ErrorDetail:
    code: str
    message: str
    target: str | None = None
    inner_code: str | None = None
    inner_message: str | None = None

    @classmethod
    def from_json(cls, obj: Any) -> ErrorDetail | None:
        if not isinstance(obj, Mapping) or not obj:
            return None
        inner = obj.get("innerError") or obj.get("innererror") or {}
        if not isinstance(inner, Mapping):
            inner = {}
        return cls(
            code=str(obj.get("code") or ""),
            message=str(obj.get("message") or ""),
            target=_str_or_none(obj.get("target")),
            inner_code=_str_or_none(inner.get("code")),
            inner_message=_str_or_none(inner.get("message")),
        )


@dataclass(frozen=True)
class StatusSummary:
    total: int = 0
    failed: int = 0
    success: int = 0
    in_progress: int = 0
    not_yet_started: int = 0
    cancelled: int = 0
    total_character_charged: int = 0

    @classmethod
    def from_json(cls, obj: Any) -> StatusSummary:
        if not isinstance(obj, Mapping):
            return cls()
        return cls(
            total=_int(obj.get("total")),
            failed=_int(obj.get("failed")),
            success=_int(obj.get("success")),
            in_progress=_int(obj.get("inProgress")),
            not_yet_started=_int(obj.get("notYetStarted")),
            cancelled=_int(obj.get("cancelled", obj.get("canceled"))),
            total_character_charged=_int(obj.get("totalCharacterCharged")),
        )

    @classmethod
    def from_fields(cls, obj: Any) -> StatusSummary:
        """The summary as `dataclasses.asdict` wrote it (how a submission stores it)."""
        if not isinstance(obj, Mapping):
            return cls()
        return cls(**{name: _int(obj.get(name)) for name in cls.__dataclass_fields__})

    @property
    def done(self) -> int:
        """Documents that reached a final status."""
        return self.success + self.failed + self.cancelled


@dataclass(frozen=True)
class JobStatus:
    id: str
    status: Status | str  # a str only for a status this client does not know
    created_at: datetime | None
    last_updated_at: datetime | None
    summary: StatusSummary
    error: ErrorDetail | None
    # The service's hint (seconds) for when to ask again, from the `Retry-After` header.
    retry_after: float | None = None

    @property
    def is_final(self) -> bool:
        return is_final_status(self.status)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any], *, retry_after: float | None = None) -> JobStatus:
        return cls(
            id=str(obj.get("id") or ""),
            status=normalize_status(str(obj.get("status") or "")),
            created_at=parse_datetime(obj.get("createdDateTimeUtc")),
            last_updated_at=parse_datetime(obj.get("lastActionDateTimeUtc")),
            summary=StatusSummary.from_json(obj.get("summary")),
            error=ErrorDetail.from_json(obj.get("error")),
            retry_after=retry_after,
        )


@dataclass(frozen=True, repr=False)
class DocumentStatus:
    id: str
    status: Status | str  # a str only for a status this client does not know
    source_path: str
    target_path: str
    language: str
    created_at: datetime | None
    last_updated_at: datetime | None
    progress: float
    characters_charged: int
    error: ErrorDetail | None

    @property
    def is_final(self) -> bool:
        return is_final_status(self.status)

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> DocumentStatus:
        return cls(
            id=str(obj.get("id") or ""),
            status=normalize_status(str(obj.get("status") or "")),
            source_path=str(obj.get("sourcePath") or ""),
            target_path=str(obj.get("path") or ""),
            language=str(obj.get("to") or ""),
            created_at=parse_datetime(obj.get("createdDateTimeUtc")),
            last_updated_at=parse_datetime(obj.get("lastActionDateTimeUtc")),
            progress=_float(obj.get("progress")),
            characters_charged=_int(obj.get("characterCharged")),
            error=ErrorDetail.from_json(obj.get("error")),
        )

    def __repr__(self) -> str:
        # Paths are blob URLs and may carry the SAS the service was given.
        return (
            f"DocumentStatus(id={self.id!r}, status={self.status!r}, source_path={redact_url(self.source_path)!r}, "
            f"target_path={redact_url(self.target_path)!r}, language={self.language!r}, "
            f"progress={self.progress!r}, characters_charged={self.characters_charged!r}, error={self.error!r})"
        )


@dataclass(frozen=True)
class FileFormat:
    format: str
    file_extensions: tuple[str, ...]
    content_types: tuple[str, ...]
    versions: tuple[str, ...] = ()
    default_version: str | None = None
    type: str | None = None

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> FileFormat:
        def strings(key: str) -> tuple[str, ...]:
            values = obj.get(key) or ()
            return tuple(str(value) for value in values) if isinstance(values, list | tuple) else ()

        return cls(
            format=str(obj.get("format") or ""),
            file_extensions=strings("fileExtensions"),
            content_types=strings("contentTypes"),
            versions=strings("versions"),
            default_version=_str_or_none(obj.get("defaultVersion")),
            type=_str_or_none(obj.get("type")),
        )


@dataclass(frozen=True)
class Page(Generic[T]):
    """One page of a list answer and the link to the next one (None on the last page)."""

    items: list[T]
    next_link: str | None


# Request side ------------------------------------------------------------------------------


@dataclass(frozen=True, repr=False)
class Glossary:
    url: str
    format: str
    version: str | None = None

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"glossaryUrl": self.url, "format": self.format}
        if self.version:
            body["version"] = self.version
        return body

    def __repr__(self) -> str:
        return f"Glossary(url={redact_url(self.url)!r}, format={self.format!r}, version={self.version!r})"


@dataclass(frozen=True, repr=False)
class TranslationTarget:
    url: str
    language: str
    category: str | None = None
    glossaries: tuple[Glossary, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "glossaries", tuple(self.glossaries))

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"targetUrl": self.url, "language": self.language}
        if self.category:
            body["category"] = self.category
        if self.glossaries:
            body["glossaries"] = [glossary.to_json() for glossary in self.glossaries]
        return body

    def __repr__(self) -> str:
        return (
            f"TranslationTarget(url={redact_url(self.url)!r}, language={self.language!r}, "
            f"category={self.category!r}, glossaries={self.glossaries!r})"
        )


@dataclass(frozen=True, repr=False)
class TranslationInput:
    source_url: str
    targets: tuple[TranslationTarget, ...]
    storage_type: str | None = None  # "File" (one blob) or "Folder" (the service's default)
    source_language: str | None = None
    prefix: str | None = None
    suffix: str | None = None

    def __post_init__(self) -> None:
        # Callers build targets as lists; keep the value immutable like the rest of the object.
        object.__setattr__(self, "targets", tuple(self.targets))

    def to_json(self) -> dict[str, Any]:
        source: dict[str, Any] = {"sourceUrl": self.source_url}
        if self.source_language:
            source["language"] = self.source_language
        name_filter = {key: value for key, value in (("prefix", self.prefix), ("suffix", self.suffix)) if value}
        if name_filter:
            source["filter"] = name_filter
        body: dict[str, Any] = {"source": source, "targets": [target.to_json() for target in self.targets]}
        if self.storage_type:
            body["storageType"] = self.storage_type
        return body

    def __repr__(self) -> str:
        return (
            f"TranslationInput(source_url={redact_url(self.source_url)!r}, targets={self.targets!r}, "
            f"storage_type={self.storage_type!r}, source_language={self.source_language!r}, "
            f"prefix={self.prefix!r}, suffix={self.suffix!r})"
        )
