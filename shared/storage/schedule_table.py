"""The schedule: what the app owes the service and the record step, kept so that a tick reads only
what is due. One partition (`schedule`) of the records table, so that a submission and its place in
the schedule always change together, in one transaction:

- `submission|<id>`: one submission - the files of one plan grouped into one start call, its
  attempts, and the job it created (members and plan included; a job has up to 1,000 files).
- `due|<time>|<kind>|<target>`: the schedule itself. A tick asks for the keys up to now, one range
  query whatever is outstanding. `kind` says what is due: a submission (look at its job, reconcile
  a lost answer, submit again), a record (hand it over again, plan it again), the waiting files
  of a plan whose grouping nobody is doing, or an outcome event whose send failed.
- `waiting|<plan>|<claimed at>|<record key>`: a file waiting to be grouped with the others of its
  plan, oldest first.
- `lease|<plan>`: who groups the waiting files of a plan right now, and until when.
- `look|<submission id>`: when its job was last looked at because a translation was written, and
  the look promised for later, so that however many documents are written at once, the job is
  looked at about once a second (shared/pipeline/translation_written.py).
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from typing import Any

from azure.data.tables import TableClient

from shared.storage.entity_codec import Codec, json_text
from shared.storage.records import JOB_STATUS_FORMER_COLUMNS
from shared.storage.table_queries import first_of
from shared.storage.table_transactions import MAX_TRANSACTION_OPERATIONS, Change, Op, TransactionRefused
from shared.storage.table_writes import TableWriter, WriteConflict
from shared.translator import StatusSummary

logger = logging.getLogger(__name__)

SCHEDULE_PARTITION = "schedule"
SUBMISSION_PREFIX = "submission|"
DUE_PREFIX = "due|"
WAITING_PREFIX = "waiting|"
LEASE_PREFIX = "lease|"
LOOK_PREFIX = "look|"


def stamp(moment: datetime) -> str:
    """A moment as it sorts in a row key: fixed width, UTC, microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class SubmissionState(StrEnum):
    SUBMITTING = "Submitting"  # its start call may be under way (or was cut off)
    UNCERTAIN = "Uncertain"  # the start call's answer was lost: find the job before submitting again
    SUBMITTED = "Submitted"  # the service gave a job id; the poller follows it
    WAITING = "Waiting"  # no job exists for the current attempt; submitted again when due
    FINISHING = "Finishing"  # the job ended; its members are being handed to the record step


@dataclass(frozen=True)
class Plan:
    """What a file is sent with. Files of one plan can share a job."""

    languages: tuple[str, ...]
    glossaries: tuple[tuple[str, str], ...] = ()  # (language, glossary blob name), sorted
    category: str | None = None
    source_language: str | None = None
    # Why a glossary-like blob is not used for a language: told in the record, not part of the plan.
    glossary_notes: tuple[tuple[str, str], ...] = field(default=(), compare=False)
    # The folder rule the plan comes from (prefix) and its rules document's version: told in the
    # record; files of one plan share a job whichever rule gave it them.
    rule: str | None = field(default=None, compare=False)
    rules_version: str | None = field(default=None, compare=False)

    @classmethod
    def of(
        cls,
        languages: Sequence[str],
        glossaries: dict[str, str] | None = None,
        *,
        category: str | None = None,
        source_language: str | None = None,
        glossary_notes: dict[str, str] | None = None,
        rule: str | None = None,
        rules_version: str | None = None,
    ) -> Plan:
        return cls(
            tuple(languages),
            tuple(sorted((glossaries or {}).items())),
            category,
            source_language,
            tuple(sorted((glossary_notes or {}).items())),
            rule,
            rules_version,
        )

    @property
    def digest(self) -> str:
        text = json_text(
            [list(self.languages), [list(pair) for pair in self.glossaries], self.category, self.source_language]
        )
        return hashlib.sha256(text.encode()).hexdigest()[:16]

    @property
    def glossary_names(self) -> dict[str, str]:
        return dict(self.glossaries)


@dataclass
class Member:
    """One file of a submission."""

    key: str
    name: str
    size: int
    attempt: int  # which try of its version this is (its open record's `attempts`): its staging names carry it
    etag: str | None = None  # its open record as grouped: later writes to it are guarded by this


@dataclass
class Submission:
    id: str
    container: str  # the source container of every member
    plan: str  # digest
    languages: list[str]
    glossaries: dict[str, str]
    category: str | None
    source_language: str | None
    members: list[Member]
    state: SubmissionState
    created_at: datetime
    # Start calls this submission made. Not its members' tries: each counts its own version's
    # (`Member.attempt`), carried on from the submissions and plans it went through before.
    attempts: int = 1
    attempt_started_at: datetime | None = None
    attempt_ended_at: datetime | None = None
    job_id: str | None = None
    submitted_at: datetime | None = None
    job_status: str | None = None  # its job's status at the latest look: the one it ended with, once it did
    summary: StatusSummary = field(default_factory=StatusSummary)
    last_polled_at: datetime | None = None
    due: str | None = None  # the row key of its own place in the schedule
    needs_attention: bool = False
    attention_reason: str | None = None
    last_error: str | None = None
    withdrawn: list[str] = field(default_factory=list)  # members a newer version or an operator took out
    job_error_code: str | None = None  # the job-level error of a Failed job
    job_error_message: str | None = None
    handed_over_at: datetime | None = None  # every member was handed to the record step
    job_lost: bool = False  # the service no longer knows the job: what it wrote is all there is
    etag: str | None = None

    @property
    def row(self) -> str:
        return f"{SUBMISSION_PREFIX}{self.id}"

    @property
    def plan_details(self) -> Plan:
        return Plan.of(self.languages, self.glossaries, category=self.category, source_language=self.source_language)

    def member(self, key: str) -> Member | None:
        return next((member for member in self.members if member.key == key), None)

    @property
    def all_withdrawn(self) -> bool:
        return bool(self.members) and {member.key for member in self.members} <= set(self.withdrawn)


class DueKind(StrEnum):
    SUBMISSION = "submission"
    RECORD = "record"
    WAITING = "waiting"
    OUTCOME_EVENT = "outcome_event"  # a final record's event whose send failed: try again


@dataclass
class DueEntry:
    """One place in the schedule. A submission's own entry (`nudge` False) carries what the poll
    needs to ask about its job without reading the submission; a nudge only asks for a look."""

    at: datetime
    kind: DueKind
    target: str  # submission id, record key (a record's or an owed event's), or plan digest
    state: str | None = None
    job_id: str | None = None
    submitted_at: datetime | None = None
    flagged: bool = False  # the submission needs attention already (a stuck job is flagged once)
    nudge: bool = False
    etag: str | None = None

    @property
    def row(self) -> str:
        return f"{DUE_PREFIX}{stamp(self.at)}|{self.kind.value}|{self.target}"


@dataclass
class WaitingEntry:
    """A file waiting to be grouped, with what it is sent with."""

    plan: str
    claimed_at: datetime
    key: str
    name: str
    size: int
    languages: list[str]
    glossaries: dict[str, str]
    category: str | None = None
    source_language: str | None = None
    attempt: int = 1  # which try of its version it will be submitted as: one past its record's `attempts`
    record_etag: str | None = None  # the open record as claimed: taking it into a group is guarded by it
    estimated_characters: int = 0  # with a character budget set: its estimate (0 without one)
    budget_flagged: bool = False  # its record says it waits for the budget (BudgetExceeded)
    etag: str | None = None

    @property
    def row(self) -> str:
        return f"{WAITING_PREFIX}{self.plan}|{stamp(self.claimed_at)}|{self.key}"

    @property
    def plan_details(self) -> Plan:
        return Plan.of(self.languages, self.glossaries, category=self.category, source_language=self.source_language)


@dataclass
class Lease:
    plan: str
    holder: str
    expires_at: datetime
    etag: str | None = None

    @property
    def row(self) -> str:
        return f"{LEASE_PREFIX}{self.plan}"


@dataclass
class JobLook:
    """The looks at one submission's job that written translations asked for."""

    submission: str
    looked_at: datetime  # when the latest look started
    not_before: datetime  # the next look on an event starts no earlier (about once a second, or later)
    follow_up_at: datetime | None = None  # a look promised for then (a message on the poll-shards queue)
    follow_ups: int = 0  # promised looks in a row that found no document done since the look before
    finished: int = 0  # the job's documents final at the latest look
    etag: str | None = None

    @property
    def row(self) -> str:
        return f"{LOOK_PREFIX}{self.submission}"


def _member(value: dict[str, Any]) -> Member:
    return Member(**value)


SUBMISSION_CODEC = Codec(
    Submission,
    json_fields=frozenset({"languages", "glossaries", "members", "summary", "withdrawn"}),
    enums={"state": SubmissionState},
    items={"members": _member, "summary": StatusSummary.from_fields},
    spread=frozenset({"members"}),
    former_columns=JOB_STATUS_FORMER_COLUMNS,
)
DUE_CODEC = Codec(DueEntry, enums={"kind": DueKind})
WAITING_CODEC = Codec(WaitingEntry, json_fields=frozenset({"languages", "glossaries"}))
LEASE_CODEC = Codec(Lease)
LOOK_CODEC = Codec(JobLook)


@dataclass(frozen=True)
class Move:
    """An entry of the schedule moved to a later time (with what the look at its job found)."""

    entry: DueEntry
    following: DueEntry
    progress: dict[str, Any] | None = None


class ScheduleTable:
    def __init__(self, table: TableClient):
        self._table = table
        self.writer = TableWriter(table)

    # --- entities -------------------------------------------------------------------------
    @staticmethod
    def submission_entity(submission: Submission) -> dict[str, Any]:
        return SUBMISSION_CODEC.to_entity(SCHEDULE_PARTITION, submission.row, submission)

    @staticmethod
    def due_entity(entry: DueEntry) -> dict[str, Any]:
        return DUE_CODEC.to_entity(SCHEDULE_PARTITION, entry.row, entry)

    @staticmethod
    def _keys(row: str) -> dict[str, str]:
        return {"PartitionKey": SCHEDULE_PARTITION, "RowKey": row}

    # --- what is due --------------------------------------------------------------------------
    def due(self, now: datetime, *, limit: int | None = None) -> list[DueEntry]:
        """The entries due at `now`, oldest first: one range query (one page of up to 1,000)."""
        query = (
            f"PartitionKey eq '{SCHEDULE_PARTITION}' and RowKey ge '{DUE_PREFIX}' "
            f"and RowKey lt '{DUE_PREFIX}{stamp(now + timedelta(microseconds=1))}'"
        )
        return first_of(self._table, query, limit, DUE_CODEC.from_entity)

    def put_due(self, entry: DueEntry) -> DueEntry:
        return replace(entry, etag=self.writer.upsert(self.due_entity(entry)))

    def remove_due(self, entries: Iterable[DueEntry]) -> None:
        """Removes entries whatever became of them (already removed is fine)."""
        self.writer.write_all([Change(Op.DELETE, self._keys(entry.row)) for entry in entries])

    def reschedule(self, entry: DueEntry, following: DueEntry, progress: dict[str, Any] | None = None) -> bool:
        """Moves a submission's own entry (and records the look at its job): unless another look moved
        it first (then False, and nothing changed)."""
        return self.reschedule_all([Move(entry, following, progress)]) == [True]

    def reschedule_all(self, moves: Sequence[Move]) -> list[bool]:
        """Many moves, as few transactions as they fit (a busy tick moves hundreds): each move is all
        or none, and one that another look made first is left out (False), the others still made."""
        done = [False] * len(moves)
        pending = list(range(len(moves)))
        while pending:
            batch: list[int] = []
            changes: list[Change] = []
            owners: list[int] = []  # the move each change belongs to
            rows: set[str] = set()
            for index in pending:
                move_changes = self._move_changes(moves[index])
                touched = {change.entity["RowKey"] for change in move_changes}
                if len(changes) + len(move_changes) > MAX_TRANSACTION_OPERATIONS or touched & rows:
                    continue  # the next transaction (one entity at most once in each)
                batch.append(index)
                changes += move_changes
                owners += [index] * len(move_changes)
                rows |= touched
            try:
                self.writer.transact(changes)
            except TransactionRefused as refused:
                if len(batch) == 1:
                    pending.remove(batch[0])  # moved by another look first
                    continue
                if refused.index is not None and 0 <= refused.index < len(owners):
                    pending.remove(owners[refused.index])  # that one was moved first: the rest go again
                    continue
                for index in batch:  # which move was refused is not known: each alone
                    pending.remove(index)
                    try:
                        self.writer.transact(self._move_changes(moves[index]))
                    except TransactionRefused:
                        continue
                    done[index] = True
                continue
            for index in batch:
                done[index] = True
                pending.remove(index)
        return done

    def _move_changes(self, move: Move) -> list[Change]:
        entry, following = move.entry, move.following
        changes = [Change(Op.DELETE, self._keys(entry.row), entry.etag), Change(Op.UPSERT, self.due_entity(following))]
        if entry.kind is DueKind.SUBMISSION and not entry.nudge:
            merged = {**self._keys(f"{SUBMISSION_PREFIX}{entry.target}"), "Due": following.row, **(move.progress or {})}
            changes.append(Change(Op.MERGE, merged))
        return changes

    # --- submissions ------------------------------------------------------------------------
    def get_submission(self, submission_id: str) -> Submission | None:
        entity = self.writer.read(SCHEDULE_PARTITION, f"{SUBMISSION_PREFIX}{submission_id}")
        return None if entity is None else SUBMISSION_CODEC.from_entity(entity)

    def submissions(self) -> list[Submission]:
        """Every submission: for operators' reports, never on a hot path."""
        query = (
            f"PartitionKey eq '{SCHEDULE_PARTITION}' and RowKey ge '{SUBMISSION_PREFIX}' "
            f"and RowKey lt '{SUBMISSION_PREFIX[:-1]}}}'"
        )
        return [SUBMISSION_CODEC.from_entity(entity) for entity in self._table.query_entities(query)]

    def create(self, submission: Submission, due: DueEntry, *, lease: Lease | None = None) -> Submission | None:
        """Inserts a new submission and its place in the schedule, together; with `lease`, only if
        nobody holds the plan's lease (else None, and nothing is written)."""
        created = replace(submission, due=due.row)
        changes = [Change(Op.INSERT, self.submission_entity(created)), Change(Op.UPSERT, self.due_entity(due))]
        if lease is not None:
            changes.append(Change(Op.INSERT, LEASE_CODEC.to_entity(SCHEDULE_PARTITION, lease.row, lease)))
        try:
            etags = self.writer.transact(changes)
        except TransactionRefused:
            if lease is None:
                raise
            return None
        if lease is not None:
            lease.etag = etags[2]
        return replace(created, etag=etags[0])

    def update(self, submission: Submission) -> Submission | None:
        """Writes a changed submission that keeps its place in the schedule; None on a lost race."""
        try:
            etag = self.writer.replace(self.submission_entity(submission), submission.etag)
        except WriteConflict:
            return None
        return replace(submission, etag=etag)

    def move(self, submission: Submission, due: DueEntry | None, *, done: Sequence[DueEntry] = ()) -> Submission | None:
        """Writes a changed submission (if nobody changed it since it was read) and moves its place in the
        schedule to `due` (None: it has none), removing the entries in `done` too. None on a lost race."""
        following = replace(submission, due=due.row if due else None)
        changes = [Change(Op.REPLACE, self.submission_entity(following), submission.etag)]
        if due is not None:
            changes.append(Change(Op.UPSERT, self.due_entity(due)))
        if submission.due and submission.due != following.due:
            # Its own entry exists while it does (every move replaces both together).
            changes.append(Change(Op.DELETE, self._keys(submission.due)))
        try:
            etags = self._transact_tolerating_a_missing_entry(changes)
        except TransactionRefused:
            return None
        self._remove_rows(entry.row for entry in done if entry.row not in (submission.due, following.due))
        return replace(following, etag=etags[0])

    def _transact_tolerating_a_missing_entry(self, changes: list[Change]) -> list[str]:
        try:
            return self.writer.transact(changes)
        except TransactionRefused as refused:
            # The entry to remove is gone already (a crash between two writes of an earlier release,
            # say): what matters is that it is gone.
            index = refused.index
            if refused.status != 404 or index is None or not 0 <= index < len(changes):
                raise
            if changes[index].op is not Op.DELETE:
                raise
            return self.writer.transact(changes[:index] + changes[index + 1 :])

    def remove(self, submission: Submission, *, done: Sequence[DueEntry] = ()) -> bool:
        """Removes a submission whose members are all handed over, with its entry (and the record of
        the looks written translations asked for); False on a lost race."""
        changes = [Change(Op.DELETE, self._keys(submission.row), submission.etag)]
        if submission.due:
            changes.append(Change(Op.DELETE, self._keys(submission.due)))
        try:
            self._transact_tolerating_a_missing_entry(changes)
        except TransactionRefused:
            return False
        rows = [entry.row for entry in done if entry.row != submission.due]
        self._remove_rows([*rows, f"{LOOK_PREFIX}{submission.id}"])
        return True

    # --- looks asked for by written translations ------------------------------------------------
    def get_look(self, submission_id: str) -> JobLook | None:
        entity = self.writer.read(SCHEDULE_PARTITION, f"{LOOK_PREFIX}{submission_id}")
        return None if entity is None else LOOK_CODEC.from_entity(entity)

    def remove_looks(self, submission_id: str) -> None:
        self._remove_rows([f"{LOOK_PREFIX}{submission_id}"])

    def put_look(self, look: JobLook) -> JobLook | None:
        """Writes the looks' record if nobody changed it since it was read (`look.etag`; None: if
        nobody created it); None when someone did first."""
        entity = LOOK_CODEC.to_entity(SCHEDULE_PARTITION, look.row, look)
        try:
            etag = self.writer.replace(entity, look.etag) if look.etag else self.writer.insert(entity)
        except WriteConflict:
            return None
        return replace(look, etag=etag)

    def _remove_rows(self, rows: Iterable[str]) -> None:
        self.writer.write_all([Change(Op.DELETE, self._keys(row)) for row in rows])

    # --- waiting files ------------------------------------------------------------------------
    def waiting(self, plan: str, *, limit: int, after: str | None = None) -> list[WaitingEntry]:
        """The files of a plan waiting to be grouped, oldest first (at most `limit`); `after`: only
        those whose row sorts after that one (claimed later)."""
        low = f"{WAITING_PREFIX}{plan}|"
        lower = f"RowKey gt '{after}'" if after is not None else f"RowKey ge '{low}'"
        query = f"PartitionKey eq '{SCHEDULE_PARTITION}' and {lower} and RowKey lt '{low[:-1]}}}'"
        return first_of(self._table, query, limit, WAITING_CODEC.from_entity)

    def put_waiting(self, entry: WaitingEntry, backstop: DueEntry) -> None:
        """The file waits, and the plan's waiting files are due for grouping at `backstop.at` should
        nobody group them before: both or neither."""
        self.writer.transact(
            [
                Change(Op.UPSERT, WAITING_CODEC.to_entity(SCHEDULE_PARTITION, entry.row, entry)),
                Change(Op.UPSERT, self.due_entity(backstop)),
            ]
        )

    def remove_waiting(self, entries: Iterable[WaitingEntry]) -> None:
        self._remove_rows(entry.row for entry in entries)

    # --- leases -------------------------------------------------------------------------------
    def acquire(self, plan: str, holder: str, until: datetime, now: datetime) -> Lease | None:
        """The plan's lease for `holder` until `until`, if nobody else holds it now."""
        lease = Lease(plan, holder, until)
        entity = LEASE_CODEC.to_entity(SCHEDULE_PARTITION, lease.row, lease)
        current = self.writer.read(SCHEDULE_PARTITION, lease.row)
        try:
            if current is None:
                return replace(lease, etag=self.writer.insert(entity))
            held = LEASE_CODEC.from_entity(current)
            if held.holder != holder and held.expires_at > now:
                return None
            return replace(lease, etag=self.writer.replace(entity, held.etag))
        except WriteConflict:
            return None

    def lease(self, plan: str) -> Lease | None:
        entity = self.writer.read(SCHEDULE_PARTITION, f"{LEASE_PREFIX}{plan}")
        return None if entity is None else LEASE_CODEC.from_entity(entity)

    def renew(self, lease: Lease, until: datetime) -> Lease | None:
        renewed = replace(lease, expires_at=until)
        try:
            etag = self.writer.replace(LEASE_CODEC.to_entity(SCHEDULE_PARTITION, renewed.row, renewed), lease.etag)
        except WriteConflict:
            return None
        return replace(renewed, etag=etag)

    def release(self, lease: Lease) -> None:
        try:
            self.writer.delete(SCHEDULE_PARTITION, lease.row, lease.etag)
        except WriteConflict:
            logger.info("the lease of plan %s changed hands before it was released", lease.plan)
