"""Records: our rows about one source version (container, blob name, ETag) each.

- An open record (partitions `open-0` ... `open-f`, see record_keys.py) is a version not yet finally
  recorded: waiting to be grouped into a submission, a member of one, or finishing. Inserting it is
  the claim that makes a duplicate delivery harmless.
- A final record (partition `final`) says what happened to a version, written by the record step.

Entities stay within Table Storage's limits (64 KiB per property, 1 MiB per entity) whatever the
blob name: per-document detail lives in the report blob, and any text is cut to fit.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from shared.storage.entity_codec import Codec
from shared.storage.record_keys import record_key, unquoted_etag
from shared.translator.models import Status


class State(StrEnum):
    """Where an open record stands."""

    WAITING = "Waiting"  # not in a submission: waits to be grouped (or to be planned, when that failed)
    GROUPED = "Grouped"  # a member of `submission`, which submits it and follows its job
    FINISHING = "Finishing"  # the outcome is decided; handed to the results queue for recording


class Outcome(StrEnum):
    SUCCEEDED = "Succeeded"
    PARTIALLY_SUCCEEDED = "PartiallySucceeded"
    FAILED = "Failed"
    CANCELLED = "Cancelled"
    REJECTED = "Rejected"
    SUPERSEDED = "Superseded"  # a newer version of the file arrived while this one was in flight
    REUSED = "Reused"  # the same bytes were translated with the same plan before: copies, no job, no charge


class ReasonCode(StrEnum):
    """Why a version ended as it did, in one word an operator filters by (records, reports, log
    fields, metrics). The values are stored and read by people's queries: they never change. A
    record's `reason_code` may also hold the service's own code (a job's or a document's error)."""

    # Refused by the checks made before any service call (checks.py): the outcome is Rejected.
    RULE_NOT_HONOURED = "RuleNotHonoured"  # its folder rule names a glossary that is not there
    UNSUPPORTED_FORMAT = "UnsupportedFormat"
    DOCUMENT_TOO_LARGE = "DocumentTooLarge"
    EMPTY_DOCUMENT = "EmptyDocument"
    INVALID_TARGET_LANGUAGES = "InvalidTargetLanguages"
    UNSUPPORTED_LANGUAGE = "UnsupportedLanguage"
    NAME_TOO_LONG = "NameTooLong"
    ALREADY_TRANSLATED = "AlreadyTranslated"
    TARGET_IS_SOURCE_LANGUAGE = "TargetIsSourceLanguage"
    CONTROL_CHARACTER_IN_NAME = "ControlCharacterInName"
    # Taken out before or while its job ran.
    NEWER_VERSION = "NewerVersion"
    SOURCE_DELETED = "SourceDeleted"
    CANCELLED_BY_OPERATOR = "CancelledByOperator"
    # Reused: the same bytes and plan were translated (or are being translated) for another version.
    SAME_CONTENT = "SameContent"
    SAME_CONTENT_IN_FLIGHT = "SameContentInFlight"
    # What its job said, when neither the job nor a document names a code of the service's.
    SUBMISSION_FAILED = "SubmissionFailed"
    JOB_NOT_FOUND = "JobNotFound"
    CANCELLED = "Cancelled"
    VALIDATION_FAILED = "ValidationFailed"
    NO_DOCUMENT_TRANSLATED = "NoDocumentTranslated"
    # The service's own code for a target that holds a file this app did not write.
    TARGET_FILE_ALREADY_EXISTS = "TargetFileAlreadyExists"
    # An operator must act (log fields, not outcomes).
    NEEDS_ATTENTION = "NeedsAttention"
    # Waits (State.WAITING) because submitting it would pass the character budget (budget.py).
    BUDGET_EXCEEDED = "BudgetExceeded"
    CATCH_UP_LISTING_FAILED = "CatchUpListingFailed"

    @property
    def rejects(self) -> bool:
        """A code the checks before submission reject a file with."""
        return self in REJECTIONS

    @property
    def about_the_file(self) -> bool:
        """The file's own bytes or name are refused: submitting the same version again can only
        fail again (a new version is a new record)."""
        return self in ABOUT_THE_FILE


REJECTIONS = frozenset(
    {
        ReasonCode.RULE_NOT_HONOURED,
        ReasonCode.UNSUPPORTED_FORMAT,
        ReasonCode.DOCUMENT_TOO_LARGE,
        ReasonCode.EMPTY_DOCUMENT,
        ReasonCode.INVALID_TARGET_LANGUAGES,
        ReasonCode.UNSUPPORTED_LANGUAGE,
        ReasonCode.NAME_TOO_LONG,
        ReasonCode.ALREADY_TRANSLATED,
        ReasonCode.TARGET_IS_SOURCE_LANGUAGE,
        ReasonCode.CONTROL_CHARACTER_IN_NAME,
    }
)
ABOUT_THE_FILE = frozenset(
    {
        ReasonCode.UNSUPPORTED_FORMAT,
        ReasonCode.DOCUMENT_TOO_LARGE,
        ReasonCode.EMPTY_DOCUMENT,
        ReasonCode.NAME_TOO_LONG,
    }
)


@dataclass(frozen=True)
class SourceVersion:
    """One version of a dropped blob, as its properties describe it."""

    container: str
    name: str
    etag: str
    modified: datetime | None
    size: int  # bytes
    # What the bytes are: `md5:<hex>`, from storage's Content-MD5 or hashed while streaming (content.py).
    content_hash: str | None = None

    @classmethod
    def of(cls, container: str, name: str, properties: Any) -> SourceVersion:
        """From a blob's properties (the ETag without its quotes, the one place they are stripped)."""
        settings = getattr(properties, "content_settings", None)
        md5 = getattr(settings, "content_md5", None) if settings is not None else None
        return cls(
            container,
            name,
            unquoted_etag(properties.etag),
            properties.last_modified,
            int(properties.size or 0),
            f"md5:{bytes(md5).hex()}" if md5 else None,
        )

    @property
    def key(self) -> str:
        return record_key(self.container, self.name, self.etag)


@dataclass
class DocumentResult:
    """What the service said of one document (one target language) of a version."""

    language: str
    status: str
    path: str | None = None  # where the service wrote it (a staging name, no query)
    document_id: str | None = None
    characters_charged: int = 0
    error_code: str | None = None
    error_message: str | None = None


@dataclass
class OpenRecord:
    """An outstanding source version (its record key is derived from container, name and ETag)."""

    source_container: str
    source_name: str
    source_etag: str
    source_modified: datetime | None  # the blob's Last-Modified: orders versions of one file
    size: int  # the blob's length in bytes, as its version's `size` (stored as `ContentLength` before; still read)
    state: State
    claimed_at: datetime  # when the drop was claimed (stored as `IntentAt` before; still read)
    content_hash: str | None = None  # see SourceVersion
    languages: list[str] = field(default_factory=list)
    glossaries: dict[str, str] = field(default_factory=dict)  # language -> glossary blob name
    glossary_notes: dict[str, str] = field(default_factory=dict)  # language -> why a glossary-like blob is not used
    plan: str | None = None  # digest of what the version is sent with: versions of one plan share jobs
    # Tries of this version so far (plans that failed, submissions), numbered from 1: the latest
    # one's staging names carry this number. One count with the final record's `attempts` (a
    # version submitted again counts on from it); a submission's `attempts` counts its start calls.
    attempts: int = 0
    submission: str | None = None  # while Grouped: the submission that submits it and follows its job
    job_id: str | None = None  # from Finishing on: the job that translated it
    submitted_at: datetime | None = None
    job_status: str | None = None  # the job's status when it ended
    documents: list[DocumentResult] = field(default_factory=list)  # from Finishing on: one per language
    job_lost: bool = False  # the service no longer knows the job: what it wrote is all there is
    enqueued_at: datetime | None = None  # when it was handed to the record step
    # Set when the outcome is decided without a job (rejected, refused, superseded before submission):
    outcome: Outcome | None = None
    reason_code: str | None = None
    reason_message: str | None = None
    job_error_code: str | None = None  # the job-level error of a Failed job
    job_error_message: str | None = None
    last_error: str | None = None
    needs_attention: bool = False
    attention_reason: str | None = None
    superseded_by: str | None = None  # the record key of the newer version
    cancelled_by: str | None = None  # who withdrew it from its job
    # Reused: the version whose translations serve this one, and language -> the blob to copy.
    reused_from: str | None = None
    reused_etag: str | None = None  # the source ETag those translations are stamped with
    reuse: dict[str, str] = field(default_factory=dict)
    characters_saved: int = 0
    # The folder rule it got (its prefix; None: none matched) and the rules document's version
    # (its ETag); both None when no rules document applied (and in records written before rules).
    rule: str | None = None
    rules_version: str | None = None
    # With a character budget set (budget.py): the characters x languages it is estimated to be billed,
    # how that was estimated (estimate.py: text | package | size), and the budget windows its job's
    # estimate was counted in (comma-separated); None in records written without a budget.
    estimated_characters: int | None = None
    estimate_method: str | None = None
    budget_windows: str | None = None
    etag: str | None = None  # the table entity's ETag, for optimistic concurrency

    @classmethod
    def new(cls, source: SourceVersion, *, state: State, at: datetime, **more: Any) -> OpenRecord:
        """The open record of one source version, claimed at `at`."""
        return cls(
            source_container=source.container,
            source_name=source.name,
            source_etag=source.etag,
            source_modified=source.modified,
            size=source.size,
            state=state,
            claimed_at=at,
            content_hash=source.content_hash,
            **more,
        )

    @property
    def key(self) -> str:
        """The row key: derived, so that a record cannot name one version and be keyed by another."""
        return record_key(self.source_container, self.source_name, self.source_etag)

    @property
    def source(self) -> SourceVersion:
        return SourceVersion(
            self.source_container,
            self.source_name,
            self.source_etag,
            self.source_modified,
            self.size,
            self.content_hash,
        )

    @property
    def source_path(self) -> str:
        return f"{self.source_container}/{self.source_name}"

    @property
    def version_order(self) -> str:
        """Sorts the versions of one file oldest first: the blob's Last-Modified (one-second
        resolution), then the moment each version was claimed."""
        return version_order(self.source_modified, self.claimed_at)

    @property
    def withdrawn(self) -> bool:
        """A newer version or an operator took it out of its job: nothing of it is published."""
        return self.superseded_by is not None or self.cancelled_by is not None


def version_order(source_modified: datetime | None, claimed_at: datetime | None) -> str:
    modified = source_modified.astimezone(UTC).strftime("%Y%m%dT%H%M%SZ") if source_modified else "0"
    claimed = claimed_at.astimezone(UTC).strftime("%Y%m%dT%H%M%S%fZ") if claimed_at else "0"
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
    glossary: str | None = None  # the glossary blob applied


@dataclass
class ReuseEntry:
    """The newest published translations of some bytes with one plan (partition `reuse`)."""

    plan: str
    content_hash: str
    record_key: str  # the version they are the translations of
    source_container: str
    source_name: str
    source_etag: str
    targets: dict[str, str]  # language -> published blob name
    characters_charged: int  # what translating those bytes cost

    @property
    def row_key(self) -> str:
        return reuse_row_key(self.plan, self.content_hash)


def reuse_row_key(plan: str, content_hash: str) -> str:
    return f"{plan}|{content_hash}"


REUSE_CODEC_FIELDS = frozenset({"targets"})


@dataclass
class AttemptCharge:
    """What one attempt at a version was billed: every attempt's charge is kept, never replaced."""

    attempt: int  # which try of the version it was billed for
    characters_charged: int
    job_id: str | None = None
    outcome: str | None = None


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
    characters_charged: int
    language_outcomes: list[LanguageOutcome]
    report_blob: str
    claimed_at: datetime | None
    submitted_at: datetime | None
    finished_at: datetime
    attempts: int = 1  # the version's tries (its open record's `attempts`); the last one decided the outcome
    needs_attention: bool = False
    attention_reason: str | None = None
    superseded_by: str | None = None
    submission: str | None = None  # the submission (and so the job) it shared with the files dropped with it
    glossaries: dict[str, str] = field(default_factory=dict)  # language -> the glossary blob applied
    glossary_notes: dict[str, str] = field(default_factory=dict)  # language -> why a glossary-like blob was not
    # Every attempt that was billed (or tried), oldest first; `characters_charged` is their sum.
    charges: list[AttemptCharge] = field(default_factory=list)
    content_hash: str | None = None
    reused_from: str | None = None  # Reused: the record key of the version whose translations it got
    reused_etag: str | None = None  # ... and that version's source ETag (what its translations are stamped with)
    characters_saved: int = 0  # Reused: what translating it again would have been charged
    rule: str | None = None  # the folder rule it got: its prefix (see OpenRecord)
    rules_version: str | None = None  # ... and the rules document's version
    # With a character budget set: its estimate before submission (see OpenRecord); None without one.
    estimated_characters: int | None = None
    estimate_method: str | None = None

    # The counts are derived from `language_outcomes` (so they cannot disagree with it) and still
    # written to the entity and the report, whose readers (queries, scripts) use them.
    @property
    def total(self) -> int:
        return len(self.language_outcomes)

    @property
    def succeeded(self) -> int:
        return self._count(Status.SUCCEEDED)

    @property
    def failed(self) -> int:
        return self._count(Status.FAILED, Status.VALIDATION_FAILED)

    @property
    def cancelled(self) -> int:
        return self._count(Status.CANCELLED)

    def _count(self, *statuses: str) -> int:
        return sum(1 for language in self.language_outcomes if language.status in statuses)

    def to_json(self) -> dict[str, Any]:
        """Every field and the counts, in the order the README's report schema shows them."""
        body: dict[str, Any] = {}
        for name, value in asdict(self).items():
            body[name] = value
            if name == "reason_message":
                body |= {count: getattr(self, count) for count in FINAL_COUNTS}
        return body


FINAL_COUNTS = ("total", "succeeded", "failed", "cancelled")


def _rebuild(cls: type) -> Any:
    def build(value: Mapping[str, Any]) -> Any:
        known = cls.__dataclass_fields__  # type: ignore[attr-defined]
        return cls(**{name: item for name, item in value.items() if name in known})

    return build


# Records written before the word was `claimed_at` hold the moment in `IntentAt`.
CLAIMED_AT_FORMER_COLUMNS = {"claimed_at": "IntentAt"}
# Before one word named the status a job ended with, an open record (and a submission) called it
# the service's: `ServiceStatus`.
JOB_STATUS_FORMER_COLUMNS = {"job_status": "ServiceStatus"}
OPEN_CODEC = Codec(
    OpenRecord,
    json_fields=frozenset({"languages", "glossaries", "glossary_notes", "documents", "reuse"}),
    enums={"state": State, "outcome": Outcome},
    items={"documents": _rebuild(DocumentResult)},
    # An open record counted its tries in `Attempt` while the final record said `Attempts`, and
    # kept the blob's length as `ContentLength` while every other type said `size`.
    former_columns=CLAIMED_AT_FORMER_COLUMNS
    | JOB_STATUS_FORMER_COLUMNS
    | {"attempts": "Attempt", "size": "ContentLength"},
)
REUSE_CODEC = Codec(ReuseEntry, json_fields=REUSE_CODEC_FIELDS)
FINAL_CODEC = Codec(
    FinalRecord,
    json_fields=frozenset({"languages", "language_outcomes", "glossaries", "glossary_notes", "charges"}),
    enums={"outcome": Outcome},
    items={"language_outcomes": _rebuild(LanguageOutcome), "charges": _rebuild(AttemptCharge)},
    row_field="key",
    derived=frozenset(FINAL_COUNTS),
    former_columns=CLAIMED_AT_FORMER_COLUMNS,
)
