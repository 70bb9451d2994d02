"""Job records in Table Storage.

Keys are designed so a poll reads only what is still outstanding:
- partition `open`  : one entity per source version not yet finally recorded (being submitted,
  running at the service, or waiting for its outcome to be recorded). The poller reads this
  partition only, so its cost follows the number of outstanding jobs, not the table's history.
- partition `final` : the final record of every source version, written by the record function.
The row key is the same in both: a hash of (container, blob name, ETag), i.e. one source
*version*. Inserting the `open` entity is the claim that makes a duplicate delivery harmless.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, UpdateMode

logger = logging.getLogger(__name__)

OPEN_PARTITION = "open"
FINAL_PARTITION = "final"


class State:
    """Where an open record stands."""

    SUBMITTING = "Submitting"  # intent recorded, the service not (knowingly) called yet
    UNCERTAIN = "Uncertain"  # the start call's outcome is unknown: reconcile before submitting again
    SUBMITTED = "Submitted"  # the service gave a job id; the poller follows it
    FINISHING = "Finishing"  # final (or rejected): handed to the results queue for recording


class Outcome:
    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"


def source_key(container: str, name: str, etag: str) -> str:
    """The row key of one source version. Table keys forbid '/', so the path is hashed."""
    version = etag.strip('"')
    digest = hashlib.sha256(f"{container}\n{name}\n{version}".encode()).hexdigest()
    return digest[:40]


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class OpenJob:
    """An outstanding source version (partition `open`)."""

    key: str
    source_container: str
    source_name: str
    source_etag: str
    source_url: str  # plain URL, as the service reports `sourcePath`
    content_length: int
    languages: list[str]
    state: str
    intent_at: datetime
    glossaries: dict[str, str] = field(default_factory=dict)  # language -> glossary blob name
    attempt: int = 1
    job_id: str | None = None
    submitted_at: datetime | None = None
    service_status: str | None = None
    summary: dict[str, int] = field(default_factory=dict)
    last_polled_at: datetime | None = None
    enqueued_at: datetime | None = None
    # Set when the record is decided without a job (rejected, or the service refused it):
    outcome: str | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    last_error: str | None = None
    needs_attention: bool = False
    attention_reason: str | None = None
    etag: str | None = None  # the table entity's ETag, for optimistic concurrency


@dataclass
class DocumentOutcome:
    language: str
    status: str
    target_path: str | None
    source_path: str | None = None
    document_id: str | None = None
    characters_charged: int = 0
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class FinalRecord:
    """What happened to one source version (partition `final`)."""

    key: str
    source_container: str
    source_name: str
    source_etag: str
    outcome: str
    languages: list[str]
    job_id: str | None
    job_status: str | None
    reason_code: str | None
    reason_message: str | None
    total: int
    succeeded: int
    failed: int
    cancelled: int
    characters_charged: int
    documents: list[DocumentOutcome]
    report_blob: str
    intent_at: datetime | None
    finished_at: datetime
    needs_attention: bool = False
    attention_reason: str | None = None

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("intent_at", "finished_at"):
            value = data[name]
            data[name] = value.isoformat() if value else None
        return data


_JSON_FIELDS = {"languages", "glossaries", "summary", "documents"}


def _to_entity(partition: str, record: Any) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": record.key}
    for item in fields(record):
        if item.name in ("key", "etag"):
            continue
        value = getattr(record, item.name)
        if item.name in _JSON_FIELDS:
            value = json.dumps(value, default=_json_default, separators=(",", ":"))
        if value is None:
            continue
        entity[_column(item.name)] = value
    return entity


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def _column(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def _from_entity(cls: type, entity: Any) -> Any:
    values: dict[str, Any] = {"key": entity["RowKey"]}
    for item in fields(cls):
        if item.name in ("key", "etag"):
            continue
        column = _column(item.name)
        if column not in entity:
            # Tables store no nulls: an absent optional column reads back as None.
            if item.default is MISSING and item.default_factory is MISSING:
                values[item.name] = None
            continue
        value = entity[column]
        if item.name in _JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
            if item.name == "documents":
                value = [DocumentOutcome(**doc) for doc in value]
        values[item.name] = value
    record = cls(**{k: v for k, v in values.items() if k in {f.name for f in fields(cls)}})
    if hasattr(record, "etag"):
        record.etag = entity.metadata.get("etag") if hasattr(entity, "metadata") else None
    return record


class JobTable:
    def __init__(self, table: TableClient):
        self._table = table

    # --- open records -------------------------------------------------------------------
    def claim(self, job: OpenJob) -> OpenJob | None:
        """Insert the open record; None when this source version is already claimed."""
        try:
            metadata = self._table.create_entity(_to_entity(OPEN_PARTITION, job))
        except ResourceExistsError:
            return None
        return replace(job, etag=metadata.get("etag"))

    def get_open(self, key: str) -> OpenJob | None:
        try:
            return _from_entity(OpenJob, self._table.get_entity(OPEN_PARTITION, key))
        except ResourceNotFoundError:
            return None

    def outstanding(self) -> Iterator[OpenJob]:
        for entity in self._table.query_entities(f"PartitionKey eq '{OPEN_PARTITION}'"):
            yield _from_entity(OpenJob, entity)

    def update(self, job: OpenJob) -> OpenJob | None:
        """Replace the open record if nobody changed it since it was read; None on a lost race."""
        try:
            metadata = self._table.update_entity(
                _to_entity(OPEN_PARTITION, job),
                mode=UpdateMode.REPLACE,
                etag=job.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            logger.info("open record %s changed or vanished meanwhile; leaving it to its new owner", job.key)
            return None
        return replace(job, etag=metadata.get("etag"))

    def delete_open(self, key: str) -> None:
        try:
            self._table.delete_entity(OPEN_PARTITION, key)
        except ResourceNotFoundError:
            pass

    # --- final records ------------------------------------------------------------------
    def get_final(self, key: str) -> FinalRecord | None:
        try:
            return _from_entity(FinalRecord, self._table.get_entity(FINAL_PARTITION, key))
        except ResourceNotFoundError:
            return None

    def put_final(self, record: FinalRecord) -> None:
        self._table.upsert_entity(_to_entity(FINAL_PARTITION, record), mode=UpdateMode.REPLACE)

    def finals(self) -> Iterator[FinalRecord]:
        for entity in self._table.query_entities(f"PartitionKey eq '{FINAL_PARTITION}'"):
            yield _from_entity(FinalRecord, entity)
