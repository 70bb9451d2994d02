"""Files that land together share a job.

A drop whose plan (languages, glossaries, category, source language) nobody is grouping right now
is submitted at once, alone: one transaction takes the plan's lease and writes its submission. A
file that lands while that start call runs finds the lease taken: it waits (a row under
`waiting|<plan>|`, with a place in the schedule as a backstop), and the lease holder, once its own
call is answered, groups what waits into as few jobs as the service's limits allow (1,000 documents,
250 MB). While files keep arriving it waits for more: at most 5 s after the oldest of them for the
first job (or until none landed for a second), twice as long for each job after it while the bulk
keeps coming, never longer than GROUPING_WINDOW_SECONDS (30 s by default). A bulk drop of
thousands becomes a handful of jobs, and a file that lands amid it waits seconds, not minutes. When
the service pushes back (429), the files that land meanwhile join the next job. The lease lasts
30 s and is renewed while its holder works; should the holder die, the backstop hands the plan's
waiting files to the next poll.

Every member keeps its own record and exactly-once guarantee: a record is taken into a submission
by an ETag-guarded write (whoever wins it submits it), and the staging names of its documents carry
its record key and attempt, so the job of a lost answer is found again. A start call refused as a
whole (InvalidRequest, a body too large) is split in two and each half submitted again, so one bad
file costs only itself.
"""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from azure.core.exceptions import ResourceNotFoundError

from shared.pipeline import budget as character_budget
from shared.pipeline import lifecycle, submissions
from shared.pipeline.checks import extension_of
from shared.pipeline.context import PipelineContext
from shared.storage.blob_names import staging_blob_name
from shared.storage.record_keys import open_partition, unquoted_etag
from shared.storage.records import OPEN_CODEC, OpenRecord, Outcome, ReasonCode, State
from shared.storage.schedule_table import (
    DueEntry,
    DueKind,
    Lease,
    Member,
    Plan,
    Submission,
    WaitingEntry,
)
from shared.storage.table_transactions import Change, Op
from shared.telemetry import Event, file_fields, submission_fields
from shared.translator import (
    AuthenticationError,
    Glossary,
    InvalidRequestError,
    PermissionDeniedError,
    SubmissionUncertainError,
    TranslationInput,
    TranslationTarget,
    TranslatorError,
)

logger = logging.getLogger(__name__)

# The service's limits per job (SERVICE_NOTES.md).
MAX_DOCUMENTS = 1000
MAX_JOB_BYTES = 250 * 1024 * 1024
# A submission's member list stays well inside one entity (1 MiB): long names make fewer members.
MAX_MEMBERS_TEXT = 400_000
# A drop still arriving: its newest file landed less than this ago (for the first job of a run; a
# later job's window allows gaps of a fifth of itself, as a bulk's claims come in bursts).
ARRIVAL_QUIET = timedelta(seconds=1)
# The first job of a bulk waits this long at most for more files (later ones longer: window_after).
FIRST_WINDOW = timedelta(seconds=5)
LEASE_TIME = timedelta(seconds=30)
# How long one invocation keeps grouping before it leaves the rest to the next (and to the backstop):
# a bulk of 10,000 at 35 claims a second, well inside Functions' 30-minute default timeout.
GROUPING_BUDGET = timedelta(minutes=5)
# Waiting files nobody grouped within this are grouped by the poll; they share a place in the
# schedule per plan and per BACKSTOP_BUCKET of claim times.
BACKSTOP_AFTER = timedelta(seconds=30)
BACKSTOP_BUCKET_SECONDS = 10
PARALLEL_READS = 16
# Attempts that end without a job this many times end as Failed (causes outside the files excepted).
MAX_SUBMIT_ATTEMPTS = 5

CREDENTIALS_REFUSED = (
    "the Translator refused the app's credentials: check TRANSLATOR_KEY (and TRANSLATOR_REGION), or the app "
    "identity's Cognitive Services User role; waiting files are submitted once it works"
)


def backstop(plan: str, claimed_at: datetime) -> DueEntry:
    seconds = int(claimed_at.timestamp()) // BACKSTOP_BUCKET_SECONDS * BACKSTOP_BUCKET_SECONDS
    bucket = datetime.fromtimestamp(seconds + BACKSTOP_BUCKET_SECONDS, UTC)
    return DueEntry(bucket + BACKSTOP_AFTER, DueKind.WAITING, plan)


def waiting_entry(record: OpenRecord, plan: Plan) -> WaitingEntry:
    return WaitingEntry(
        plan=plan.digest,
        claimed_at=record.claimed_at,
        key=record.key,
        name=record.source_name,
        size=record.size,
        languages=list(plan.languages),
        glossaries=plan.glossary_names,
        category=plan.category,
        source_language=plan.source_language,
        attempt=record.attempts + 1,
        record_etag=record.etag,
        estimated_characters=record.estimated_characters or 0,
        budget_flagged=record.reason_code == ReasonCode.BUDGET_EXCEEDED,
    )


def wait(ctx: PipelineContext, record: OpenRecord, plan: Plan) -> None:
    """The version waits to be grouped (idempotent: a second delivery writes the same row)."""
    entry = waiting_entry(record, plan)
    ctx.schedule.put_waiting(entry, backstop(plan.digest, entry.claimed_at))
    logger.info(
        "%s (version %s) waits to be grouped with the files of its plan",
        record.source_name,
        record.source_etag,
        extra=file_fields(record, event=Event.WAITING),
    )


# --- grouping -----------------------------------------------------------------------------------


def holder(ctx: PipelineContext) -> str:
    """Who takes a lease: this one invocation (threads of one process run several at once)."""
    return f"{ctx.instance_id}/{secrets.token_hex(6)}"


def start_alone(ctx: PipelineContext, plan: Plan, member: Member, container: str) -> tuple[Lease, Submission] | None:
    """The plan's lease and a submission of one file, if nobody groups the plan's files right now."""
    now = ctx.now()
    if ctx.leases_here.holds(plan.digest, now):
        return None
    lease = Lease(plan.digest, holder(ctx), now + LEASE_TIME)
    submission = submissions.create(ctx, plan, [member], container=container, lease=lease)
    if submission is None:
        return None
    ctx.leases_here.hold(lease)
    return lease, submission


def acquire(ctx: PipelineContext, plan: str) -> Lease | None:
    now = ctx.now()
    if ctx.leases_here.holds(plan, now):
        return None
    lease = ctx.schedule.acquire(plan, holder(ctx), now + LEASE_TIME, now)
    if lease is not None:
        ctx.leases_here.hold(lease)
    return lease


def _renew(ctx: PipelineContext, lease: Lease) -> Lease | None:
    renewed = ctx.schedule.renew(lease, ctx.now() + LEASE_TIME)
    if renewed is None:
        ctx.leases_here.let_go(lease.plan)
    else:
        ctx.leases_here.hold(renewed)
    return renewed


def _release(ctx: PipelineContext, lease: Lease) -> None:
    ctx.leases_here.let_go(lease.plan)
    ctx.schedule.release(lease)


def _let_go(ctx: PipelineContext, lease: Lease) -> Lease | None:
    """Lets go, then looks once more: a file that saw the lease held and wrote its row after our last
    look is seen now (and the lease taken again to group it), or its claimer finds the lease free."""
    _release(ctx, lease)
    if not ctx.schedule.waiting(lease.plan, limit=1):
        return None
    return acquire(ctx, lease.plan)


def window_after(ctx: PipelineContext, groups_made: int) -> timedelta:
    """How long files still arriving wait for more: FIRST_WINDOW for the first job of a run, twice as
    long for each job after it while the bulk keeps coming, never longer than GROUPING_WINDOW_SECONDS.
    A small drop starts within seconds; a bulk of thousands fills its later jobs."""
    bound = ctx.settings.grouping_window_seconds
    return timedelta(seconds=min(FIRST_WINDOW.total_seconds() * 2**groups_made, bound))


def keep_grouping(ctx: PipelineContext, lease: Lease, *, patient: bool = True, budget: timedelta | None = None) -> int:
    """Groups and submits the plan's waiting files while holding its lease; returns the submissions
    made. `patient`: wait (within the window) for files still arriving; the poll's backstop is not.
    The lease is let go only once nothing waits (letting go first would let a file of the bulk that
    lands at that moment be submitted alone)."""
    deadline = time.monotonic() + (budget or GROUPING_BUDGET).total_seconds()
    made = 0
    current: Lease | None = lease
    waiting: list[WaitingEntry] | None = None
    read_whole = False  # `waiting` is one read of every waiting row, not topped up since
    while current is not None:
        if waiting is None:
            waiting, read_whole = ctx.schedule.waiting(current.plan, limit=MAX_DOCUMENTS), True
        if not waiting:
            current = _let_go(ctx, current)
            waiting = None
            continue
        group, full = fit(waiting)
        now = ctx.now()
        if patient and not full and time.monotonic() < deadline:
            newest, oldest = waiting[-1].claimed_at, waiting[0].claimed_at
            window = window_after(ctx, made)
            if now - newest < max(ARRIVAL_QUIET, window / 5) and now - oldest < window:
                # Look again once the bulk may have gone quiet (or the window closes), only for the
                # files claimed since: a bulk's waiting rows are read about once, not once a second.
                ctx.sleep(min(ARRIVAL_QUIET, oldest + window - now).total_seconds())
                current = _renew(ctx, current)
                if current is not None:
                    waiting += ctx.schedule.waiting(
                        current.plan, limit=MAX_DOCUMENTS - len(waiting), after=waiting[-1].row
                    )
                    read_whole = False
                continue
        if not read_whole:
            # The job is cut from one whole read: a row written after its claim's stamp was passed
            # (a slow claimer) joins it rather than waiting for the next.
            waiting = None
            continue
        waiting = None
        spends: list[character_budget.Spend] | None = None
        if ctx.settings.budget_set:
            group, spends = _within_budget(ctx, group)
            if not group:
                # Nothing more fits the budget: the rest waits for the poll (RECHECK, or the window's turn).
                ctx.schedule.put_due(
                    DueEntry(character_budget.next_look(spends, ctx.now()), DueKind.WAITING, current.plan)
                )
                _release(ctx, current)
                return made
        if submit_waiting(ctx, group, spends) is not None:
            made += 1
        if time.monotonic() >= deadline:
            _release(ctx, current)
            logger.info("grouping of plan %s leaves the rest to the next invocation or poll", current.plan)
            return made
        current = _renew(ctx, current)
    return made


def fit(waiting: Sequence[WaitingEntry]) -> tuple[list[WaitingEntry], bool]:
    """The oldest waiting files that fit one job, and whether that job is full (more wait, or a
    limit is reached)."""
    group: list[WaitingEntry] = []
    size = text = 0
    for entry in waiting:
        entry_text = len(entry.key) + len(entry.name) + 40
        if group and (
            len(group) >= MAX_DOCUMENTS or size + entry.size > MAX_JOB_BYTES or text + entry_text > MAX_MEMBERS_TEXT
        ):
            return group, True
        group.append(entry)
        size += entry.size
        text += entry_text
    return group, len(group) >= MAX_DOCUMENTS


def _within_budget(
    ctx: PipelineContext, group: list[WaitingEntry]
) -> tuple[list[WaitingEntry], list[character_budget.Spend]]:
    """The oldest files of the group that fit the character budget left; the others are flagged
    (once) as waiting for it, and keep their place."""
    spends = character_budget.spend(ctx.spend, ctx.settings, ctx.now())
    fits = character_budget.cut_to_fit([entry.estimated_characters for entry in group], character_budget.left(spends))
    for entry in group[fits:]:
        if not entry.budget_flagged:
            _flag_budget_exceeded(ctx, entry, spends)
    return group[:fits], spends


def _flag_budget_exceeded(ctx: PipelineContext, entry: WaitingEntry, spends: Sequence[character_budget.Spend]) -> None:
    record = ctx.records.get_open(entry.key)
    if record is None or record.state is not State.WAITING or record.submission is not None:
        return
    flagged = lifecycle.wait_for_budget(ctx, record, spends)
    if flagged is not None:
        # Its waiting row names the record as it is now, so taking it later is guarded as usual.
        ctx.schedule.put_waiting(
            replace(entry, record_etag=flagged.etag, budget_flagged=True, etag=None),
            backstop(entry.plan, entry.claimed_at),
        )


def submit_waiting(
    ctx: PipelineContext, entries: Sequence[WaitingEntry], spends: Sequence[character_budget.Spend] | None = None
) -> Submission | None:
    """Takes waiting files into one new submission and submits it; their waiting rows go.

    The submission is written before its members are taken, so that a record grouped into a
    submission always finds it (a grouper that dies in between leaves a submission whose members
    are checked before it is ever submitted)."""
    if not entries:
        return None
    candidates = [Member(entry.key, entry.name, entry.size, entry.attempt) for entry in entries]
    submission = submissions.create(ctx, entries[0].plan_details, candidates, container=ctx.settings.source_container)
    assert submission is not None
    windows = ",".join(item.window.name for item in spends) if spends else None
    members = take(ctx, entries, submission.id, windows)
    ctx.schedule.remove_waiting(entries)
    if not members:
        submissions.remove(ctx, submission)
        return None
    submission = ctx.schedule.update(replace(submission, members=members))
    if submission is None:
        return None
    logger.info(
        "grouped %d waiting files into submission %s",
        len(members),
        submission.id,
        extra=submission_fields(submission, event=Event.GROUPED),
    )
    if spends:
        estimates = {entry.key: entry.estimated_characters for entry in entries}
        character_budget.reserve(ctx.spend, spends, members[0].key, sum(estimates[member.key] for member in members))
    start(ctx, submission)
    return submission


def take(
    ctx: PipelineContext, entries: Sequence[WaitingEntry], submission_id: str, budget_windows: str | None = None
) -> list[Member]:
    """Moves each waiting record into the submission (guarded by its ETag: whoever wins it submits
    it); the members taken. A record that changed meanwhile is read and taken if it still waits."""
    changes = [
        Change(Op.MERGE, _grouped(entry.key, submission_id, entry.attempt, budget_windows), entry.record_etag)
        for entry in entries
    ]
    members: list[Member] = []
    again: list[WaitingEntry] = []
    for entry, written in zip(entries, ctx.records.writer.write_all(changes), strict=True):
        if written.conflict:
            again.append(entry)
        else:
            members.append(Member(entry.key, entry.name, entry.size, entry.attempt, written.etag))
    for entry in again:
        member = _take_again(ctx, entry, submission_id, budget_windows)
        if member is not None:
            members.append(member)
    return members


def _grouped(key: str, submission_id: str, attempt: int, budget_windows: str | None = None) -> dict[str, object]:
    """The columns that make an open record a member of a submission, as its try `attempt` (now
    the record's latest: its `attempts`). `budget_windows`: the budget windows its estimate is
    counted in (a flag that it waited for the budget goes)."""
    changed: dict[str, object] = {"state": State.GROUPED.value, "submission": submission_id, "attempts": attempt}
    if budget_windows is not None:
        changed |= {"budget_windows": budget_windows, "needs_attention": False, "attention_reason": ""}
    return {"PartitionKey": open_partition(key), "RowKey": key} | {
        OPEN_CODEC.column(name): value for name, value in changed.items()
    }


def _take_again(
    ctx: PipelineContext, entry: WaitingEntry, submission_id: str, budget_windows: str | None = None
) -> Member | None:
    record = ctx.records.get_open(entry.key)
    if record is None or record.state is not State.WAITING:
        return None  # recorded, finishing, or grouped already by someone else
    if record.withdrawn:
        finish_withdrawn(ctx, record)
        return None
    if record.plan != entry.plan:
        return None
    written = ctx.records.writer.write_all(
        [Change(Op.MERGE, _grouped(record.key, submission_id, entry.attempt, budget_windows), record.etag)]
    )[0]
    if written.conflict:
        return None
    return Member(record.key, record.source_name, record.size, entry.attempt, written.etag)


def finish_withdrawn(ctx: PipelineContext, record: OpenRecord) -> OpenRecord | None:
    """A version taken out before any job carried it: it ends at once."""
    if record.superseded_by is not None:
        return lifecycle.finish(
            ctx,
            record,
            outcome=Outcome.SUPERSEDED,
            code=ReasonCode.NEWER_VERSION,
            message="a newer version of the file arrived before this one could be submitted",
        )
    return lifecycle.finish(
        ctx,
        record,
        outcome=Outcome.CANCELLED,
        code=ReasonCode.CANCELLED_BY_OPERATOR,
        message=f"cancelled by {record.cancelled_by}",
    )


def finish_source_gone(ctx: PipelineContext, record: OpenRecord) -> OpenRecord | None:
    return lifecycle.finish(
        ctx,
        record,
        outcome=Outcome.CANCELLED,
        code=ReasonCode.SOURCE_DELETED,
        message="the file was deleted before it could be translated",
    )


def finish_replaced(ctx: PipelineContext, record: OpenRecord, current_etag: str) -> OpenRecord | None:
    return lifecycle.finish(
        ctx,
        record,
        outcome=Outcome.SUPERSEDED,
        code=ReasonCode.NEWER_VERSION,
        message=f"the file was replaced (now version {current_etag}) before this version could be translated",
    )


# --- the start call ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Started:
    """What came of a start call: `action` is submitted, uncertain, waiting or refused; the
    submission as written (None when it was split or ended), the refusal's code."""

    action: str
    submission: Submission | None = None
    reason: str | None = None

    @property
    def job_id(self) -> str | None:
        return self.submission.job_id if self.submission is not None else None


def start(ctx: PipelineContext, submission: Submission) -> Started:
    """Makes the submission's start call and records what came of it. Never raises for the service's
    answers: the submission says what happened, and the poller carries on from there."""
    try:
        job_id = ctx.translator.begin_translation([translation_input(ctx, submission, m) for m in submission.members])
    except SubmissionUncertainError as exc:
        return Started("uncertain", submissions.uncertain(ctx, submission, exc), "uncertain")
    except (AuthenticationError, PermissionDeniedError) as exc:
        return Started("waiting", submissions.wait(ctx, submission, exc, attention=CREDENTIALS_REFUSED), "credentials")
    except InvalidRequestError as exc:
        return Started("refused", None, refused(ctx, submission, exc))
    except TranslatorError as exc:
        # Refused before a job was made (429 past the retry budget, connection refused): try again later.
        return Started("waiting", submissions.wait(ctx, submission, exc), "service unavailable")
    updated = submissions.submitted(ctx, submission, job_id)
    if updated is None:
        _undo_duplicate_job(ctx, submission, job_id)
        return Started("duplicate", None, "taken over meanwhile")
    return Started("submitted", updated)


def resubmit(ctx: PipelineContext, submission: Submission, *, done: Sequence[DueEntry] = ()) -> Started | None:
    """Submits again a submission whose last attempt made no job (refused, unreachable, or no job found
    after the attempt could no longer create one): only the members still in it, whose file is still
    there and unchanged, each with a new attempt."""
    confirmed = confirm_members(ctx, submission)
    if confirmed is None:
        ctx.schedule.remove_due(done)
        return None
    keep = members_whose_source_is_unchanged(ctx, confirmed)
    if not keep:
        submissions.remove(ctx, confirmed, done=done)
        return None
    if len(keep) < len(confirmed.members):
        updated = ctx.schedule.update(replace(confirmed, members=keep))
        if updated is None:
            return None
        confirmed = updated
    if confirmed.attempts >= MAX_SUBMIT_ATTEMPTS and not confirmed.needs_attention:
        # Repeated failures with no cause outside the files (credentials keep them waiting instead).
        for record in members_still_in(ctx, confirmed):
            lifecycle.finish(
                ctx,
                record,
                outcome=Outcome.FAILED,
                code=ReasonCode.SUBMISSION_FAILED,
                message=f"no job after {confirmed.attempts} attempts; last error: "
                f"{confirmed.last_error or 'none recorded'}",
            )
        submissions.remove(ctx, confirmed, done=done)
        return None
    attempt = submissions.retry(ctx, confirmed, done=done)
    if attempt is None:
        return None
    logger.info(
        "submitting submission %s of %d files again: attempt %d",
        attempt.id,
        len(attempt.members),
        attempt.attempts,
        extra=submission_fields(attempt, event=Event.CLAIMED),
    )
    return start(ctx, attempt)


def members_whose_source_is_unchanged(ctx: PipelineContext, submission: Submission) -> list[Member]:
    """A member whose file was deleted, or replaced by a newer version, ends now."""
    container = ctx.storage.container(submission.container)

    def check(member: Member) -> Member | None:
        try:
            properties = container.get_blob_client(member.name).get_blob_properties()
        except ResourceNotFoundError:
            properties = None
        etag = None if properties is None else unquoted_etag(properties.etag)
        record = ctx.records.get_open(member.key)
        if record is None or record.submission != submission.id:
            return None
        if etag == record.source_etag:
            return replace(member, etag=record.etag)
        if etag is None:
            finish_source_gone(ctx, record)
        else:
            finish_replaced(ctx, record, etag)
        return None

    with ThreadPoolExecutor(max_workers=PARALLEL_READS, thread_name_prefix="sources") as pool:
        checked = list(pool.map(check, submission.members))
    return [member for member in checked if member is not None]


def refused(ctx: PipelineContext, submission: Submission, error: InvalidRequestError) -> str:
    """The service refused the start call as a whole: no job exists, and the same call would be
    refused again. One file alone fails with the service's reason; more are split in two, and each
    half submitted again, so that a bad file costs only itself. Returns the refusal's code."""
    code = error.inner_code or error.code or "InvalidRequest"
    if len(submission.members) == 1:
        for record in members_still_in(ctx, submission):
            lifecycle.finish(ctx, record, outcome=Outcome.FAILED, code=code, message=str(error))
        submissions.remove(ctx, submission)
        return code
    logger.warning(
        "the service refused submission %s of %d files as a whole (%s); submitting each half again",
        submission.id,
        len(submission.members),
        code,
        extra=submission_fields(submission, event=Event.WAITING, reason_code=code),
    )
    split(ctx, submission)
    return code


def split(ctx: PipelineContext, submission: Submission) -> None:
    """Submits the members again in two submissions of their own, then removes this one. Each new
    submission is written before its members move into it (as in submit_waiting)."""
    half = len(submission.members) // 2
    for part in (submission.members[:half], submission.members[half:]):
        if not part:
            continue
        moved = [replace(member, attempt=member.attempt + 1) for member in part]
        created = submissions.create(ctx, submission.plan_details, moved, container=submission.container)
        assert created is not None
        changes = [Change(Op.MERGE, _grouped(m.key, created.id, m.attempt), m.etag) for m in moved]
        members = []
        for member, result in zip(moved, ctx.records.writer.write_all(changes), strict=True):
            if not result.conflict:
                members.append(replace(member, etag=result.etag))
                continue
            # It changed meanwhile (superseded, say): moved if it still belongs to this submission.
            taken = _take_member(ctx, member, submission.id, created.id)
            if taken is not None:
                members.append(taken)
        if not members:
            submissions.remove(ctx, created)
            continue
        updated = ctx.schedule.update(replace(created, members=members))
        if updated is not None:
            start(ctx, updated)
    submissions.remove(ctx, submission)


def _take_member(ctx: PipelineContext, member: Member, current: str, following: str) -> Member | None:
    record = ctx.records.get_open(member.key)
    if record is None or record.state is not State.GROUPED or record.submission != current:
        return None
    if record.withdrawn:
        finish_withdrawn(ctx, record)
        return None
    written = ctx.records.writer.write_all(
        [Change(Op.MERGE, _grouped(record.key, following, member.attempt), record.etag)]
    )[0]
    return None if written.conflict else replace(member, etag=written.etag)


def members_still_in(
    ctx: PipelineContext, submission: Submission, *, states: tuple[State, ...] = (State.GROUPED,)
) -> list[OpenRecord]:
    """The member records still open that belong to the submission (read in parallel)."""

    def read(member: Member) -> OpenRecord | None:
        record = ctx.records.get_open(member.key)
        if record is None or record.state not in states or record.submission != submission.id:
            return None
        return record

    if len(submission.members) == 1:
        found = [read(submission.members[0])]
    else:
        with ThreadPoolExecutor(max_workers=PARALLEL_READS, thread_name_prefix="members") as pool:
            found = list(pool.map(read, submission.members))
    return [record for record in found if record is not None]


def confirm_members(ctx: PipelineContext, submission: Submission) -> Submission | None:
    """Before a submission is sent again: only the members whose record still belongs to it (a grouper
    that died between writes can leave a member that was never taken); withdrawn ones end now.
    None when no member is left (the submission is then removed)."""
    records = members_still_in(ctx, submission)
    keep: list[Member] = []
    by_key = {record.key: record for record in records}
    for member in submission.members:
        record = by_key.get(member.key)
        if record is None:
            continue
        if record.withdrawn:
            finish_withdrawn(ctx, record)
            continue
        keep.append(replace(member, etag=record.etag))
    if not keep:
        submissions.remove(ctx, submission)
        return None
    if len(keep) == len(submission.members) and all(
        m.etag == k.etag for m, k in zip(submission.members, keep, strict=True)
    ):
        return submission
    return ctx.schedule.update(replace(submission, members=keep))


def translation_input(ctx: PipelineContext, submission: Submission, member: Member) -> TranslationInput:
    settings = ctx.settings
    access = ctx.access
    glossary_formats = ctx.glossary_formats.get() if submission.glossaries else {}
    targets = []
    for language in submission.languages:
        glossaries: tuple[Glossary, ...] = ()
        glossary_name = submission.glossaries.get(language)
        if glossary_name:
            glossaries = (
                Glossary(
                    url=access.glossary_url(settings.glossary_container, glossary_name),
                    format=glossary_formats[extension_of(glossary_name)],
                ),
            )
        staging = staging_blob_name(member.key, member.attempt, language, member.name)
        targets.append(
            TranslationTarget(
                url=access.target_url(settings.target_container, staging),
                language=language,
                category=submission.category,
                glossaries=glossaries,
            )
        )
    return TranslationInput(
        source_url=access.source_url(submission.container, member.name),
        targets=tuple(targets),
        storage_type="File",
        source_language=submission.source_language,
    )


def _undo_duplicate_job(ctx: PipelineContext, submission: Submission, job_id: str) -> None:
    # Someone else took this submission over while our start call was running (it outlived the
    # reconcile delay). Their attempt stands; ours would translate the files twice.
    current = ctx.schedule.get_submission(submission.id)
    if current is not None and current.job_id == job_id:
        return
    logger.error(
        "job %s of submission %s duplicates another attempt; cancelling it",
        job_id,
        submission.id,
        extra=submission_fields(submission, event=Event.NEEDS_ATTENTION, job_id=job_id),
    )
    try:
        ctx.translator.cancel_translation(job_id)
    except TranslatorError as exc:
        logger.error("could not cancel duplicate job %s: %s", job_id, exc)
