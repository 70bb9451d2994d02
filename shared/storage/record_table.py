"""Records in Table Storage: one per source version (container, blob name, ETag).

Keys are designed so a poll reads only what is still outstanding:
- partition `open`  : one entity per source version not yet finally recorded (being submitted,
  running at the service, or waiting for its outcome to be recorded). The poller reads this
  partition only, so its cost follows the number of outstanding records, not the table's history.
- partition `final` : what happened to every source version, written by the record function.
The row key is the same in both: `<path digest>-<version digest>`. Inserting the `open` entity
is the claim that makes a duplicate delivery harmless; the path digest first lets one range
query find every version of a file.

Entities stay within Table Storage's limits (64 KiB per property, 1 MiB per entity) whatever
the blob name: per-document detail lives in the report blob, and any text is cut to fit.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import MISSING, asdict, dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import EdmType, EntityProperty, TableClient, UpdateMode

from shared.storage.table_transactions import TransactionRefused, TransactionTooLarge, replace_if_unchanged

logger = logging.getLogger(__name__)

OPEN_PARTITION = "open"
FINAL_PARTITION = "final"
# Small facts the app keeps about itself (the catch-up's watermark), away from the records.
STATE_PARTITION = "state"
# Table Storage takes at most 100 operations on one partition in a transaction.
MAX_TRANSACTION_OPERATIONS = 100
# Transactions sent at once by `update_many` (each one request).
PARALLEL_TRANSACTIONS = 4
# A string property holds at most 64 KiB (32K UTF-16 units); keep a margin for the JSON escaping.
MAX_TEXT_LENGTH = 30_000
# Messages from the service or an exception are cut to this in records (reports keep more).
MAX_REASON_LENGTH = 2_000
_DIGEST_LENGTH = 20


class State(StrEnum):
    """Where an open record stands."""

    WAITING = "Waiting"  # no job exists for the current attempt; submit again when due
    SUBMITTING = "Submitting"  # an attempt to start a job may be under way (or was cut off)
    UNCERTAIN = "Uncertain"  # the start call's answer was lost: find the job before submitting again
    SUBMITTED = "Submitted"  # the service gave a job id; the poller follows it
    FINISHING = "Finishing"  # the outcome is decided; handed to the results queue for recording


class Outcome(StrEnum):
    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    SUPERSEDED = "Superseded"  # a newer version of the file arrived while this one was in flight


def path_digest(container: str, name: str) -> str:
    return hashlib.sha256(f"{container}\n{name}".encode()).hexdigest()[:_DIGEST_LENGTH]


def record_key(container: str, name: str, etag: str) -> str:
    """The row key of one source version. Table keys forbid '/', '#', '?' and more: the path is hashed."""
    version = etag.strip('"')
    version_digest = hashlib.sha256(f"{container}\n{name}\n{version}".encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{path_digest(container, name)}-{version_digest}"


def cut(text: str | None, limit: int = MAX_REASON_LENGTH) -> str | None:
    """`text` cut to `limit` characters, saying so."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 30] + f"... [{len(text) - limit + 30} more characters]"


@dataclass
class OpenRecord:
    """An outstanding source version (partition `open`)."""

    key: str
    source_container: str
    source_name: str
    source_etag: str
    source_modified: datetime | None  # the blob's Last-Modified: orders versions of one file
    content_length: int
    state: State
    intent_at: datetime  # when the drop was claimed
    languages: list[str] = field(default_factory=list)
    glossaries: dict[str, str] = field(default_factory=dict)  # language -> glossary blob name
    attempt: int = 1
    attempt_started_at: datetime | None = None
    attempt_ended_at: datetime | None = None
    job_id: str | None = None
    submitted_at: datetime | None = None
    service_status: str | None = None
    summary: dict[str, int] = field(default_factory=dict)
    last_polled_at: datetime | None = None
    next_check_at: datetime | None = None
    enqueued_at: datetime | None = None
    # Set when the outcome is decided without the service's document list (rejected, refused, lost):
    outcome: Outcome | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    job_error_code: str | None = None  # the job-level error of a Failed/ValidationFailed job
    job_error_message: str | None = None
    last_error: str | None = None
    needs_attention: bool = False
    attention_reason: str | None = None
    superseded_by: str | None = None  # the record key of the newer version
    etag: str | None = None  # the table entity's ETag, for optimistic concurrency

    @classmethod
    def new(
        cls,
        container: str,
        name: str,
        etag: str,
        *,
        modified: datetime | None,
        size: int,
        state: State,
        at: datetime,
        **more: Any,
    ) -> OpenRecord:
        """The open record of one source version, claimed at `at`."""
        return cls(
            key=record_key(container, name, etag),
            source_container=container,
            source_name=name,
            source_etag=etag,
            source_modified=modified,
            content_length=size,
            state=state,
            intent_at=at,
            **more,
        )

    @property
    def version_order(self) -> str:
        """Sorts the versions of one file oldest first: the blob's Last-Modified (one-second
        resolution), then the moment each version was claimed."""
        return version_order(self.source_modified, self.intent_at)


def version_order(source_modified: datetime | None, intent_at: datetime | None) -> str:
    modified = source_modified.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if source_modified else "0"
    claimed = intent_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") if intent_at else "0"
    return f"{modified}.{claimed}"


@dataclass
class LanguageOutcome:
    """What happened for one target language, small enough for the record."""

    language: str
    status: str
    characters_charged: int = 0
    error_code: str | None = None
    error_message: str | None = None
    published: bool = False  # copied to <lang>/<source path>


@dataclass
class FinalRecord:
    """What happened to one source version (partition `final`)."""

    key: str
    source_container: str
    source_name: str
    source_etag: str
    source_modified: datetime | None
    outcome: Outcome
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
    language_outcomes: list[LanguageOutcome]
    report_blob: str
    intent_at: datetime | None
    submitted_at: datetime | None
    finished_at: datetime
    attempts: int = 1
    needs_attention: bool = False
    attention_reason: str | None = None
    superseded_by: str | None = None


_JSON_FIELDS = {"languages", "glossaries", "summary", "language_outcomes"}
_ENUM_FIELDS: dict[str, type[StrEnum]] = {"state": State, "outcome": Outcome}

Record = TypeVar("Record", OpenRecord, FinalRecord)


def _column(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def to_entity(partition: str, record: OpenRecord | FinalRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": record.key}
    for item in fields(record):
        if item.name in ("key", "etag"):
            continue
        value = getattr(record, item.name)
        if item.name in _JSON_FIELDS:
            value = json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)
        if value is None:
            continue
        if isinstance(value, StrEnum):
            value = value.value
        if isinstance(value, str):
            value = cut(value, MAX_TEXT_LENGTH)
        elif isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
            # A plain int is an Edm.Int32 to the SDK (it refuses larger ones): a 3 GB drop's length.
            value = EntityProperty(value, EdmType.INT64)
        entity[_column(item.name)] = value
    return entity


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def from_entity(cls: type[Record], entity: Any) -> Record:
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
        if isinstance(value, EntityProperty):
            value = value.value
        if item.name in _JSON_FIELDS and isinstance(value, str):
            value = json.loads(value)
            if item.name == "language_outcomes":
                value = [LanguageOutcome(**outcome) for outcome in value]
        elif item.name in _ENUM_FIELDS and isinstance(value, str):
            value = _ENUM_FIELDS[item.name](value)
        elif isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        values[item.name] = value
    record = cls(**values)
    if isinstance(record, OpenRecord):
        record.etag = entity.metadata.get("etag") if hasattr(entity, "metadata") else None
    return record


class RecordTable:
    def __init__(self, table: TableClient):
        self._table = table

    # --- open records -------------------------------------------------------------------
    def claim(self, record: OpenRecord) -> OpenRecord | None:
        """Insert the open record; None when this source version is already claimed."""
        try:
            metadata = self._table.create_entity(to_entity(OPEN_PARTITION, record))
        except ResourceExistsError:
            return None
        return replace(record, etag=metadata.get("etag"))

    def get_open(self, key: str) -> OpenRecord | None:
        try:
            return from_entity(OpenRecord, self._table.get_entity(OPEN_PARTITION, key))
        except ResourceNotFoundError:
            return None

    def outstanding(self) -> list[OpenRecord]:
        return [
            from_entity(OpenRecord, entity)
            for entity in self._table.query_entities(f"PartitionKey eq '{OPEN_PARTITION}'")
        ]

    def update(self, record: OpenRecord) -> OpenRecord | None:
        """Replace the open record if nobody changed it since it was read; None on a lost race."""
        try:
            metadata = self._table.update_entity(
                to_entity(OPEN_PARTITION, record),
                mode=UpdateMode.REPLACE,
                etag=record.etag,
                match_condition=MatchConditions.IfNotModified,
            )
        except (ResourceModifiedError, ResourceNotFoundError):
            logger.info("open record %s changed or vanished meanwhile; leaving it to its new owner", record.key)
            return None
        return replace(record, etag=metadata.get("etag"))

    def update_many(self, records: Iterable[OpenRecord]) -> list[OpenRecord | None]:
        """`update` for many records, in transactions of up to 100 (one request each, a few at a
        time). A transaction that loses a race on any record is retried record by record, so one
        conflict costs only itself."""
        pending = list(records)
        chunks = [
            pending[start : start + MAX_TRANSACTION_OPERATIONS]
            for start in range(0, len(pending), MAX_TRANSACTION_OPERATIONS)
        ]
        if len(chunks) <= 1:
            return [result for chunk in chunks for result in self._update_chunk(chunk)]
        with ThreadPoolExecutor(max_workers=PARALLEL_TRANSACTIONS, thread_name_prefix="table-batch") as pool:
            return [result for written in pool.map(self._update_chunk, chunks) for result in written]

    def _update_chunk(self, chunk: list[OpenRecord]) -> list[OpenRecord | None]:
        if len(chunk) == 1:
            return [self.update(chunk[0])]
        if any(record.etag is None for record in chunk):
            return [self.update(record) for record in chunk]
        try:
            etags = replace_if_unchanged(
                self._table, [(to_entity(OPEN_PARTITION, record), str(record.etag)) for record in chunk]
            )
        except TransactionTooLarge:
            # Long names and reasons: these records need two transactions or more.
            half = len(chunk) // 2
            return self._update_chunk(chunk[:half]) + self._update_chunk(chunk[half:])
        except TransactionRefused as refused:
            logger.info("a transaction of %s records was refused (%s); writing them one by one", len(chunk), refused)
            return [self.update(record) for record in chunk]
        return [replace(record, etag=etag) for record, etag in zip(chunk, etags, strict=True)]

    def delete_open(self, key: str, etag: str | None = None) -> None:
        try:
            if etag is None:
                self._table.delete_entity(OPEN_PARTITION, key)
            else:
                self._table.delete_entity(OPEN_PARTITION, key, etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            pass

    # --- final records ------------------------------------------------------------------
    def get_final(self, key: str) -> FinalRecord | None:
        try:
            return from_entity(FinalRecord, self._table.get_entity(FINAL_PARTITION, key))
        except ResourceNotFoundError:
            return None

    def put_final(self, record: FinalRecord) -> None:
        self._table.upsert_entity(to_entity(FINAL_PARTITION, record), mode=UpdateMode.REPLACE)

    def final_versions(self, container: str, name: str) -> list[FinalRecord]:
        """Every recorded version of one file, oldest first."""
        prefix = path_digest(container, name)
        query = f"PartitionKey eq '{FINAL_PARTITION}' and RowKey ge '{prefix}-' and RowKey lt '{prefix}.'"
        found = [from_entity(FinalRecord, entity) for entity in self._table.query_entities(query)]
        found = [record for record in found if (record.source_container, record.source_name) == (container, name)]
        return sorted(found, key=lambda record: version_order(record.source_modified, record.intent_at))

    def finals(self, *, since: datetime | None = None) -> Iterator[FinalRecord]:
        """Final records (all, or finished since a moment): for operators' reports, never on a hot path."""
        query = f"PartitionKey eq '{FINAL_PARTITION}'"
        parameters: dict[str, Any] = {}
        if since is not None:
            query += " and FinishedAt ge @since"
            parameters["since"] = since
        for entity in self._table.query_entities(query, parameters=parameters):
            yield from_entity(FinalRecord, entity)

    # --- the app's own state ------------------------------------------------------------
    def get_moment(self, name: str) -> datetime | None:
        try:
            value = self._table.get_entity(STATE_PARTITION, name).get("Moment")
        except ResourceNotFoundError:
            return None
        if isinstance(value, datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value if isinstance(value, datetime) else None

    def set_moment(self, name: str, moment: datetime) -> None:
        self._table.upsert_entity(
            {"PartitionKey": STATE_PARTITION, "RowKey": name, "Moment": moment}, mode=UpdateMode.REPLACE
        )
