"""A submission's lifecycle: the files of one plan grouped into one start call, and the job it made.

    create ──► Submitting ──submitted──► Submitted ──look (poll)──┐
                 │  ▲  │                    │  ▲                   │ the job is final
                 │  │  └─uncertain─► Uncertain ─adopt─┘          ▼
                 │  └── retry ── Waiting ◄─wait─┘ (no job)     finishing ──► Finishing ──► removed
                 └─ split (refused as a whole): two smaller submissions, the same files     (members handed over)

Every transition is one transaction on the schedule partition: the submission (ETag-guarded) and
its place in the schedule together. It returns the written submission, or None when another
invocation changed it first (that one owns what happens next).
"""

from __future__ import annotations

import logging
import secrets
from collections.abc import Sequence
from dataclasses import replace
from datetime import datetime, timedelta

from shared.pipeline.context import PipelineContext
from shared.redaction import redact
from shared.storage.attention import CLEARED, flagged, flagged_if
from shared.storage.entity_codec import json_text
from shared.storage.records import ReasonCode
from shared.storage.schedule_table import (
    SUBMISSION_CODEC,
    DueEntry,
    DueKind,
    Lease,
    Member,
    Plan,
    Submission,
    SubmissionState,
    stamp,
)
from shared.telemetry import Event, metrics, source_fields, submission_fields
from shared.text import cut
from shared.translator import InvalidRequestError, JobStatus, NotFoundError, TranslatorError

logger = logging.getLogger(__name__)

# When to look at a job again, by its age: early looks are frequent (a small job ends in seconds),
# later ones spread out to at most one a minute: a little under, so that a job a tick looked at is due
# by the next tick even on a one-minute POLL_SCHEDULE.
FIRST_CHECK_AFTER = timedelta(seconds=2)
CHECK_INTERVAL_SHARE_OF_AGE = 0.05
MIN_CHECK_INTERVAL = timedelta(seconds=1)
MAX_CHECK_INTERVAL = timedelta(seconds=55)
# No job exists for the attempt (refused, unreachable): submitted again after these delays, then every last one.
WAITING_BACKOFF = (timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=60), timedelta(minutes=5))
# An uncertain attempt is looked for again this soon (the service may take a moment to list a job).
UNCERTAIN_RECHECK = timedelta(seconds=3)
# A submission whose members are being handed over is looked at again after this, should the
# hand-over be cut off (a job of 1,000 files takes seconds to hand over).
HAND_OVER_RETRY = timedelta(seconds=30)


def new_id(now: datetime) -> str:
    """Sorts by creation; unique across instances."""
    return f"{stamp(now).replace(':', '').replace('-', '').replace('.', '')}-{secrets.token_hex(4)}"


def check_interval(age: timedelta) -> timedelta:
    return max(MIN_CHECK_INTERVAL, min(MAX_CHECK_INTERVAL, age * CHECK_INTERVAL_SHARE_OF_AGE))


def waiting_backoff(ctx: PipelineContext, attempt: int) -> timedelta:
    delay = WAITING_BACKOFF[min(attempt, len(WAITING_BACKOFF)) - 1]
    # Never wait longer between tries than a submission is given to resolve (tests shorten it).
    return min(delay, max(WAITING_BACKOFF[0], timedelta(seconds=ctx.settings.submit_reconcile_after_seconds)))


def resubmit_due(ctx: PipelineContext, submission: Submission) -> datetime:
    """When an attempt with no job on record may be made again: after it can no longer create one."""
    started = submission.attempt_started_at or submission.created_at
    return started + timedelta(seconds=ctx.settings.submit_reconcile_after_seconds)


def entry(submission: Submission, at: datetime) -> DueEntry:
    """The submission's own place in the schedule, carrying what a look at its job needs."""
    return DueEntry(
        at,
        DueKind.SUBMISSION,
        submission.id,
        state=submission.state.value,
        job_id=submission.job_id,
        submitted_at=submission.submitted_at,
        flagged=submission.needs_attention,
    )


def progress(status: JobStatus, now: datetime) -> dict[str, object]:
    """The columns a look at a running job changes on its submission."""
    return {
        SUBMISSION_CODEC.column("job_status"): str(status.status),
        SUBMISSION_CODEC.column("summary"): json_text(status.summary),
        SUBMISSION_CODEC.column("last_polled_at"): now,
    }


# --- before the service is called ---------------------------------------------------------


def create(
    ctx: PipelineContext,
    plan: Plan,
    members: Sequence[Member],
    *,
    container: str,
    submission_id: str | None = None,
    lease: Lease | None = None,
) -> Submission | None:
    """A new submission of `members`, due for reconciliation should its start call never be answered.
    With `lease`, only if nobody groups the plan's files right now (None otherwise)."""
    now = ctx.now()
    submission = Submission(
        id=submission_id or new_id(now),
        container=container,
        plan=plan.digest,
        languages=list(plan.languages),
        glossaries=plan.glossary_names,
        category=plan.category,
        source_language=plan.source_language,
        members=list(members),
        state=SubmissionState.SUBMITTING,
        created_at=now,
        attempt_started_at=now,
    )
    return ctx.schedule.create(submission, entry(submission, resubmit_due(ctx, submission)), lease=lease)


def retry(ctx: PipelineContext, submission: Submission, *, done: Sequence[DueEntry] = ()) -> Submission | None:
    """Take the submission over for another start call: every member gets a new attempt (new staging
    names), so a job the earlier attempt may still create is told apart."""
    now = ctx.now()
    attempt = replace(
        submission,
        state=SubmissionState.SUBMITTING,
        attempts=submission.attempts + 1,
        attempt_started_at=now,
        attempt_ended_at=None,
        job_id=None,
        members=[replace(member, attempt=member.attempt + 1) for member in submission.members],
    )
    return ctx.schedule.move(attempt, entry(attempt, resubmit_due(ctx, attempt)), done=done)


def submitted(ctx: PipelineContext, submission: Submission, job_id: str) -> Submission | None:
    now = ctx.now()
    following = replace(
        submission,
        state=SubmissionState.SUBMITTED,
        job_id=job_id,
        submitted_at=now,
        attempt_ended_at=now,
        last_error=None,
        # Whatever kept it from being submitted (refused credentials, say) has passed.
        **CLEARED,
    )
    updated = ctx.schedule.move(following, entry(following, now + FIRST_CHECK_AFTER))
    if updated is not None:
        logger.info(
            "submitted %d files as job %s (submission %s): %s",
            len(submission.members),
            job_id,
            submission.id,
            ", ".join(submission.languages),
            extra=submission_fields(updated, event=Event.SUBMITTED),
        )
        for member in submission.members:
            # Each file's own line: what happened to one file reads in order, job included.
            logger.info(
                "submitted %s as job %s",
                member.name,
                job_id,
                extra=source_fields(
                    submission.container,
                    member.name,
                    key=member.key,
                    event=Event.SUBMITTED,
                    job_id=job_id,
                    submission=submission.id,
                    languages=",".join(submission.languages),
                ),
            )
        metrics.count("translation.files.submitted", len(submission.members), description="Source versions submitted")
        metrics.count("translation.jobs.created", description="Jobs started at the service")
    return updated


def uncertain(ctx: PipelineContext, submission: Submission, error: BaseException) -> Submission | None:
    """The start call's answer was lost: a job may exist. The poller looks for it before anything is
    submitted again."""
    now = ctx.now()
    cause = cut(redact(str(error)))
    following = replace(submission, state=SubmissionState.UNCERTAIN, attempt_ended_at=now, last_error=cause)
    updated = ctx.schedule.move(following, entry(following, now + UNCERTAIN_RECHECK))
    if updated is not None:
        logger.warning(
            "submission %s of %d files is uncertain (%s); the poller will look for its job",
            submission.id,
            len(submission.members),
            cause,
            extra=submission_fields(updated, event=Event.UNCERTAIN),
        )
    return updated


def wait(
    ctx: PipelineContext,
    submission: Submission,
    error: BaseException | str,
    *,
    attention: str | None = None,
    done: Sequence[DueEntry] = (),
) -> Submission | None:
    """No job exists for this attempt (the call was refused or never reached the service): submitted
    again when due. `attention` flags a cause outside the files that an operator must fix."""
    now = ctx.now()
    cause = cut(redact(str(error)))
    following = replace(
        submission,
        state=SubmissionState.WAITING,
        attempt_ended_at=now,
        last_error=cause,
        **flagged_if(submission, attention),
    )
    due = now + waiting_backoff(ctx, submission.attempts)
    updated = ctx.schedule.move(following, entry(following, due), done=done)
    if updated is not None:
        level = logging.ERROR if attention else logging.WARNING
        logger.log(
            level,
            "submission %s of %d files could not be submitted (%s); trying again at %s%s",
            submission.id,
            len(submission.members),
            cause,
            due.isoformat(),
            f": {attention}" if attention else "",
            extra=submission_fields(updated, event=Event.NEEDS_ATTENTION if attention else Event.WAITING),
        )
    return updated


def adopt(
    ctx: PipelineContext, submission: Submission, job_id: str, *, done: Sequence[DueEntry] = ()
) -> Submission | None:
    """The service has the job an uncertain (or interrupted) attempt created: follow it."""
    now = ctx.now()
    following = replace(submission, state=SubmissionState.SUBMITTED, job_id=job_id, submitted_at=now, last_error=None)
    updated = ctx.schedule.move(following, entry(following, now), done=done)
    if updated is not None:
        logger.info(
            "found job %s of submission %s (attempt %d) at the service; following it",
            job_id,
            submission.id,
            submission.attempts,
            extra=submission_fields(updated, event=Event.SUBMITTED),
        )
    return updated


def postpone(
    ctx: PipelineContext, submission: Submission, until: datetime, *, done: Sequence[DueEntry] = ()
) -> Submission | None:
    """Nothing to do yet (an uncertain attempt's job is not listed yet): look again at `until`."""
    return ctx.schedule.move(submission, entry(submission, until), done=done)


def flag(ctx: PipelineContext, submission: Submission, reason: str, at: datetime) -> Submission | None:
    """Mark a submission as needing an operator's attention (it keeps its state), looking again at `at`."""
    following = replace(submission, **flagged(reason))
    updated = ctx.schedule.move(following, entry(following, at))
    if updated is not None:
        logger.error(
            "submission %s (job %s, %d files) needs attention: %s",
            submission.id,
            submission.job_id,
            len(submission.members),
            reason,
            extra=submission_fields(updated, event=Event.NEEDS_ATTENTION, reason_code=ReasonCode.NEEDS_ATTENTION),
        )
    return updated


def finishing(
    ctx: PipelineContext, submission: Submission, status: JobStatus | None, *, done: Sequence[DueEntry] = ()
) -> Submission | None:
    """Its job ended (or was lost): the members are being handed over; looked at again should that be cut off."""
    now = ctx.now()
    following = replace(submission, state=SubmissionState.FINISHING, last_polled_at=now, job_lost=status is None)
    if status is not None:
        following.job_status = str(status.status)
        following.summary = status.summary
        if status.error is not None:
            following.job_error_code = status.error.inner_code or status.error.code
            following.job_error_message = cut(redact(status.error.inner_message or status.error.message))
    return ctx.schedule.move(following, entry(following, now + HAND_OVER_RETRY), done=done)


def handed_over(ctx: PipelineContext, submission: Submission, at: datetime) -> Submission | None:
    """Every member is with the record step; the submission is looked at once more at `at`, to hand
    over again any member whose recording never happened."""
    following = replace(submission, handed_over_at=ctx.now())
    return ctx.schedule.move(following, entry(following, at))


def withdraw_member(ctx: PipelineContext, submission_id: str, key: str) -> Submission | None:
    """Notes that a member was taken out of the submission (superseded, or cancelled by an operator);
    the submission as written, None when it is gone."""
    for _ in range(10):
        submission = ctx.schedule.get_submission(submission_id)
        if submission is None or key in submission.withdrawn:
            return submission
        updated = ctx.schedule.update(replace(submission, withdrawn=[*submission.withdrawn, key]))
        if updated is not None:
            return updated
    return None


def remove(ctx: PipelineContext, submission: Submission, *, done: Sequence[DueEntry] = ()) -> bool:
    removed = ctx.schedule.remove(submission, done=done)
    if removed:
        logger.info(
            "submission %s (job %s): its %d files are handed over; removed",
            submission.id,
            submission.job_id,
            len(submission.members),
            extra=submission_fields(submission, event=Event.FINISHING),
        )
    return removed


def cancel_withdrawn_job(ctx: PipelineContext, submission: Submission) -> None:
    """Every file of the job was withdrawn (superseded, cancelled): the service may stop."""
    if submission.job_id is None:
        return
    try:
        ctx.translator.cancel_translation(submission.job_id)
        logger.info(
            "cancelled job %s: every file in it was withdrawn",
            submission.job_id,
            extra=submission_fields(submission, event=Event.SUPERSEDED),
        )
    except (InvalidRequestError, NotFoundError):
        pass  # final already: its files are recorded as withdrawn all the same
    except TranslatorError as exc:
        logger.warning(
            "could not cancel job %s, whose files were all withdrawn (%s)",
            submission.job_id,
            exc,
            extra=submission_fields(submission, event=Event.SUPERSEDED),
        )
