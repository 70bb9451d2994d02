"""Poll what is due: each tick reads the schedule up to now - one range query, whatever is
outstanding - and does what the entries ask.

- A submitted job due for a look: asked about with others, 50 ids per list call, without reading its
  submission (its place in the schedule carries the job id). A final one is finished (finishing.py);
  the others are looked at again later (often while young, at most once a minute).
- A submission whose start call's answer was lost (or whose submitter died): its job is found and
  adopted, or, once the attempt can no longer have created one, it is submitted again. One that
  waits (refused credentials, an unreachable service) is submitted again.
- A record handed to the record step whose hand-over was lost is handed over again; one that could
  not be planned is planned again.
- The waiting files of a plan that nobody grouped (their grouper died) are grouped.

When more is due than one tick should do alone, the timer hands shards of it to the poll_shard
queue function, which the platform runs on as many instances as it scales to; each shard's entries
are moved a little into the future first, so the next tick does not hand them out again. One entry
that fails never fails the poll for the others: it stays due.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from shared.pipeline import finishing, grouping, lifecycle, outcome_events, submissions, translation_written
from shared.pipeline.context import PipelineContext
from shared.pipeline.reconcile import find_submission_jobs
from shared.pipeline.submit import replan
from shared.redaction import redact
from shared.storage.records import ReasonCode, State
from shared.storage.schedule_table import DUE_CODEC, DueEntry, DueKind, Move, Submission, SubmissionState
from shared.telemetry import Event, file_fields, metrics, submission_fields
from shared.translator import (
    JobStatus,
    NotFoundError,
    TranslatorError,
    is_final_status,
    is_known_status,
)

logger = logging.getLogger(__name__)

# One list call asks about this many job ids (and asks for pages of the same size).
IDS_PER_CALL = 50
# What one tick takes on by itself; more is handed out in shards of SHARD_ENTRIES.
INLINE_ENTRIES = 200
SHARD_ENTRIES = 100
# A shard's entries are due again after this, should its function never do them.
SHARD_LEASE = timedelta(minutes=2)
# At most this many entries are read in one tick (the rest are due next tick).
MAX_DUE_PER_TICK = 5000
# An attempt whose job is not found yet is looked for again this often until it may be resubmitted.
RECONCILE_RECHECK = timedelta(seconds=10)


@dataclass
class PollSummary:
    due: int = 0
    polled: int = 0  # jobs looked at
    list_calls: int = 0
    finished: int = 0  # files handed over for recording
    jobs_finished: int = 0
    reconciled: int = 0
    resubmitted: int = 0
    requeued: int = 0
    grouped: int = 0
    flagged: int = 0
    shards: int = 0
    events_owed: int = 0  # outcome events the record step could not send, due this tick
    events_sent: int = 0
    failures: list[str] = field(default_factory=list)  # entries a step failed for
    oldest_age_seconds: float = 0.0  # the oldest job looked at


def poll_outstanding_jobs(ctx: PipelineContext) -> PollSummary:
    summary = PollSummary()
    entries = ctx.schedule.due(ctx.now(), limit=MAX_DUE_PER_TICK)
    summary.due = len(entries)
    if len(entries) > INLINE_ENTRIES:
        hand_out_shards(ctx, entries, summary)
    elif entries:
        handle_due(ctx, entries, summary)
    _report(summary)
    return summary


def poll_shard(ctx: PipelineContext, message_text: str) -> PollSummary:
    """What a shard message (from a busy tick) asks for: the same work as a tick, on any instance.
    Or a look at one job that written translations promised (translation_written.py)."""
    summary = PollSummary()
    data = json.loads(message_text)
    if translation_written.is_follow_up(data):
        try:
            summary.polled = int(translation_written.follow_up(ctx, data))
        except Exception as exc:
            # Only a look sooner than the poll's own: the job stays in the schedule, and the poll looks.
            logger.error("a promised look at a job failed: %s", redact(f"{type(exc).__name__}: {exc}"), exc_info=exc)
        return summary
    entries = shard_entries(data)
    summary.due = len(entries)
    handle_due(ctx, entries, summary)
    _report(summary, shard=True)
    return summary


def _report(summary: PollSummary, *, shard: bool = False) -> None:
    level = logging.INFO if summary.due or summary.events_owed else logging.DEBUG
    logger.log(
        level,
        "poll%s: %d due, %d jobs looked at in %d list calls, %d jobs finished (%d files handed over), "
        "%d reconciled, %d resubmitted, %d requeued, %d grouped, %d flagged, %d shards, %d failed, "
        "%d/%d owed outcome events sent",
        " shard" if shard else "",
        summary.due,
        summary.polled,
        summary.list_calls,
        summary.jobs_finished,
        summary.finished,
        summary.reconciled,
        summary.resubmitted,
        summary.requeued,
        summary.grouped,
        summary.flagged,
        summary.shards,
        len(summary.failures),
        summary.events_sent,
        summary.events_owed,
        extra=file_fields(
            event=Event.POLL,
            due=summary.due,
            jobs_looked_at=summary.polled,
            oldest_outstanding_seconds=round(summary.oldest_age_seconds, 1),
        ),
    )
    metrics.gauge("translation.poll.due", summary.due, description="Entries of the schedule due at a tick")
    if summary.polled:
        metrics.gauge("translation.jobs.oldest_age_seconds", summary.oldest_age_seconds, unit="s")


# --- shards ---------------------------------------------------------------------------------------


def hand_out_shards(ctx: PipelineContext, entries: Sequence[DueEntry], summary: PollSummary) -> None:
    """Moves each shard's entries a little into the future (so the next tick leaves them), then puts
    the shard on the queue with the entries as moved."""
    until = ctx.now() + SHARD_LEASE
    for start in range(0, len(entries), SHARD_ENTRIES):
        moves = [Move(entry, replace(entry, at=until, etag=None)) for entry in entries[start : start + SHARD_ENTRIES]]
        made = ctx.schedule.reschedule_all(moves)
        moved = [move.following for move, done in zip(moves, made, strict=True) if done]
        if moved:
            ctx.storage.poll_shards_queue.send_message(shard_message(moved))
            summary.shards += 1
    logger.info("poll: %d entries due, handed out in %d shards", len(entries), summary.shards)


def shard_message(entries: Sequence[DueEntry]) -> str:
    return json.dumps({"entries": [DUE_CODEC.to_entity("", entry.row, entry) for entry in entries]}, default=str)


def shard_entries(data: Any) -> list[DueEntry]:
    entries = []
    for entity in data.get("entries", []):
        entity = {**entity, "At": datetime.fromisoformat(entity["At"])}
        if entity.get("SubmittedAt"):
            entity["SubmittedAt"] = datetime.fromisoformat(entity["SubmittedAt"])
        entries.append(replace(DUE_CODEC.from_entity(entity), etag=None))
    return entries


# --- the work ---------------------------------------------------------------------------------------


def handle_due(ctx: PipelineContext, entries: Sequence[DueEntry], summary: PollSummary) -> None:
    looks = [e for e in entries if e.kind is DueKind.SUBMISSION and e.state == SubmissionState.SUBMITTED and e.job_id]
    looked = {id(entry) for entry in looks}
    _look_at_jobs(ctx, looks, summary)
    unresolved: list[tuple[Submission, DueEntry]] = []
    for entry in entries:
        if id(entry) in looked:
            continue
        if entry.kind is DueKind.SUBMISSION:
            _guarded(ctx, entry, summary, lambda e: _submission_due(ctx, e, summary, unresolved))
        elif entry.kind is DueKind.RECORD:
            _guarded(ctx, entry, summary, lambda e: _record_due(ctx, e, summary))
        elif entry.kind is DueKind.OUTCOME_EVENT:
            _guarded(ctx, entry, summary, lambda e: _outcome_event_due(ctx, e, summary))
        else:
            _guarded(ctx, entry, summary, lambda e: _waiting_due(ctx, e, summary))
    if unresolved:
        _reconcile(ctx, unresolved, summary)


def _outcome_event_due(ctx: PipelineContext, entry: DueEntry, summary: PollSummary) -> None:
    summary.events_owed += 1
    summary.events_sent += int(outcome_events.send_due(ctx, entry))


def _guarded(ctx: PipelineContext, entry: DueEntry, summary: PollSummary, step: Callable[[DueEntry], object]) -> None:
    """Runs one entry's step; a failure is logged and the entry stays due, and the poll goes on."""
    try:
        step(entry)
    except Exception as exc:
        summary.failures.append(entry.row)
        logger.error(
            "poll: %s %s could not be handled this time: %s",
            entry.kind.value,
            entry.target,
            redact(f"{type(exc).__name__}: {exc}"),
            exc_info=exc,
            extra={"event": Event.NEEDS_ATTENTION.value, "due": entry.row},
        )


# --- submitted jobs ---------------------------------------------------------------------------------


def _look_at_jobs(ctx: PipelineContext, entries: Sequence[DueEntry], summary: PollSummary) -> None:
    by_job_id: dict[str, list[DueEntry]] = {}
    for entry in entries:
        assert entry.job_id is not None
        by_job_id.setdefault(entry.job_id, []).append(entry)
    ids = list(by_job_id)
    seen: set[str] = set()
    for start in range(0, len(ids), IDS_PER_CALL):
        group = ids[start : start + IDS_PER_CALL]
        moves: list[Move] = []  # the jobs still running: moved together, a transaction for dozens
        try:
            for page in ctx.translator.list_translation_statuses(ids=group, max_page_size=IDS_PER_CALL).by_page():
                summary.list_calls += 1
                for status in page.items:
                    if status.id not in by_job_id or status.id in seen:
                        continue
                    seen.add(status.id)
                    summary.polled += 1
                    for entry in by_job_id[status.id]:
                        _guarded(ctx, entry, summary, partial(_apply, ctx, status=status, summary=summary, moves=moves))
        except TranslatorError as exc:
            logger.warning("could not list %d jobs (%s); they will be checked next time", len(group), exc)
            seen.update(group)  # not a sign that the service forgot them
        _move_looked_at(ctx, moves, summary)
    for job_id in ids:
        if job_id not in seen:
            # Not in the filtered list: ask for it alone before concluding the service forgot it.
            for entry in by_job_id[job_id]:
                _guarded(ctx, entry, summary, lambda e: _look_at_one(ctx, e, summary))


def _look_at_one(ctx: PipelineContext, entry: DueEntry, summary: PollSummary) -> None:
    assert entry.job_id is not None
    try:
        status = ctx.translator.get_translation_status(entry.job_id)
    except NotFoundError:
        submission = ctx.schedule.get_submission(entry.target)
        if submission is None:
            ctx.schedule.remove_due([entry])
            return
        logger.warning(
            "the service no longer knows job %s (submission %s); what it wrote is recorded",
            entry.job_id,
            submission.id,
            extra=submission_fields(submission, event=Event.FINISHING, reason_code=ReasonCode.JOB_NOT_FOUND),
        )
        summary.finished += finishing.finish_submission(ctx, submission, None, done=[entry])
        summary.jobs_finished += 1
        return
    except TranslatorError as exc:
        logger.warning("could not read job %s (%s); it will be checked next time", entry.job_id, exc)
        return
    summary.polled += 1
    _apply(ctx, entry, status=status, summary=summary)


def _move_looked_at(ctx: PipelineContext, moves: Sequence[Move], summary: PollSummary) -> None:
    """The jobs looked at and still running are due again later; should that write fail, they stay
    due and are looked at next tick."""
    if not moves:
        return
    try:
        ctx.schedule.reschedule_all(moves)
    except Exception as exc:
        summary.failures.extend(move.entry.row for move in moves)
        logger.error(
            "poll: %d jobs looked at could not be moved on in the schedule: %s; they are looked at again next tick",
            len(moves),
            redact(f"{type(exc).__name__}: {exc}"),
            exc_info=exc,
            extra={"event": Event.NEEDS_ATTENTION.value},
        )


def _apply(
    ctx: PipelineContext,
    entry: DueEntry,
    *,
    status: JobStatus,
    summary: PollSummary,
    moves: list[Move] | None = None,
) -> None:
    """What a look at the job found. A job still running is due again later: its move is added to
    `moves` (written together by the caller), or written at once without it."""
    now = ctx.now()
    age = now - (entry.submitted_at or now)
    summary.oldest_age_seconds = max(summary.oldest_age_seconds, age.total_seconds())
    if is_final_status(status.status):
        submission = ctx.schedule.get_submission(entry.target)
        if submission is None or submission.state is not SubmissionState.SUBMITTED:
            ctx.schedule.remove_due([entry] if entry.nudge or submission is None else [])
            return
        summary.finished += finishing.finish_submission(ctx, submission, status, done=[entry])
        summary.jobs_finished += 1
        return
    reason = None
    if not is_known_status(status.status):
        # Never follow a status we do not understand forever without telling anyone.
        reason = f"the service reports job {entry.job_id} in an unknown status {status.status!r}"
    elif age >= timedelta(minutes=ctx.settings.stuck_job_after_minutes) and not entry.flagged:
        reason = (
            f"job {entry.job_id} is still {status.status} after {int(age.total_seconds() // 60)} minutes "
            f"(STUCK_JOB_AFTER_MINUTES={ctx.settings.stuck_job_after_minutes}); its SAS URLs expire after "
            f"{ctx.settings.sas_expiry_minutes} minutes"
        )
    following_at = now + submissions.check_interval(age)
    if reason is not None and not entry.flagged:
        submission = ctx.schedule.get_submission(entry.target)
        if submission is not None and submissions.flag(ctx, replace(submission), reason, following_at) is not None:
            summary.flagged += 1
        if entry.nudge:
            ctx.schedule.remove_due([entry])
        return
    if entry.nudge:
        ctx.schedule.remove_due([entry])
        return
    move = Move(entry, replace(entry, at=following_at, etag=None), submissions.progress(status, now))
    if moves is None:
        ctx.schedule.reschedule(move.entry, move.following, move.progress)
    else:
        moves.append(move)


# --- submissions without a job (yet) ------------------------------------------------------------


def _submission_due(
    ctx: PipelineContext, entry: DueEntry, summary: PollSummary, unresolved: list[tuple[Submission, DueEntry]]
) -> None:
    submission = ctx.schedule.get_submission(entry.target)
    if submission is None:
        ctx.schedule.remove_due([entry])
        return
    if entry.row != submission.due and not entry.nudge and submission.state is not SubmissionState.SUBMITTED:
        # A shard's moved copy or a stale entry: the submission's own entry decides.
        ctx.schedule.remove_due([entry])
        return
    state = submission.state
    if state is SubmissionState.SUBMITTED and submission.job_id:
        _look_at_jobs(ctx, [replace(submissions.entry(submission, entry.at), etag=entry.etag)], summary)
        if entry.row != submission.due:
            ctx.schedule.remove_due([entry])
    elif state in (SubmissionState.SUBMITTING, SubmissionState.UNCERTAIN):
        unresolved.append((submission, entry))
    elif state is SubmissionState.WAITING:
        if grouping.resubmit(ctx, submission, done=[entry]) is not None:
            summary.resubmitted += 1
    elif state is SubmissionState.FINISHING and submission.handed_over_at is None:
        # A hand-over that was cut off: done again (the record step takes a message twice harmlessly).
        summary.finished += finishing.hand_over(ctx, submission)
        summary.jobs_finished += 1
    elif state is SubmissionState.FINISHING:
        summary.requeued += finishing.check_recorded(ctx, submission)


def _reconcile(ctx: PipelineContext, unresolved: list[tuple[Submission, DueEntry]], summary: PollSummary) -> None:
    """Uncertain attempts, and attempts whose submitter died: find their job, or submit again once
    the attempt can no longer create one."""
    try:
        search = find_submission_jobs(ctx, [submission for submission, _ in unresolved])
    except TranslatorError as exc:
        logger.warning("cannot look for the jobs of %d submissions yet (%s)", len(unresolved), exc)
        return
    summary.list_calls += search.list_calls
    now = ctx.now()
    for submission, entry in unresolved:
        job_id = search.found.get(submission.id)
        if job_id is not None:
            _guarded(ctx, entry, summary, partial(_adopt, ctx, submission, job_id, summary=summary))
            continue
        resubmit_at = submissions.resubmit_due(ctx, submission)
        # A job in the window that lists no documents yet may be this attempt's: give the service
        # one more reconcile period to list them before submitting again.
        grace = timedelta(seconds=ctx.settings.submit_reconcile_after_seconds) if search.unidentified else timedelta(0)
        if now < resubmit_at + grace:
            until = min(resubmit_at + grace, now + RECONCILE_RECHECK)
            _guarded(ctx, entry, summary, partial(_postpone, ctx, submission, until))
            continue
        _guarded(ctx, entry, summary, partial(_resubmit, ctx, submission, summary=summary))


def _adopt(ctx: PipelineContext, submission: Submission, job_id: str, entry: DueEntry, *, summary: PollSummary) -> None:
    adopted = submissions.adopt(ctx, submission, job_id, done=[entry])
    if adopted is None:
        return
    summary.reconciled += 1
    if adopted.all_withdrawn:
        submissions.cancel_withdrawn_job(ctx, adopted)


def _postpone(ctx: PipelineContext, submission: Submission, until: datetime, entry: DueEntry) -> None:
    submissions.postpone(ctx, submission, until, done=[entry])


def _resubmit(ctx: PipelineContext, submission: Submission, entry: DueEntry, *, summary: PollSummary) -> None:
    if grouping.resubmit(ctx, submission, done=[entry]) is not None:
        summary.resubmitted += 1


# --- records and waiting files ----------------------------------------------------------------------


def _record_due(ctx: PipelineContext, entry: DueEntry, summary: PollSummary) -> None:
    record = ctx.records.get_open(entry.target)
    if record is None or record.state is State.GROUPED:
        # Recorded (the usual case), or followed by its submission.
        ctx.schedule.remove_due([entry])
        return
    if record.state is State.FINISHING:
        due = lifecycle.requeue_due(record)
        if due is not None and due <= ctx.now() and lifecycle.RecordStepBacklog(ctx).still_waiting(record):
            due = ctx.now() + lifecycle.REQUEUE_AFTER
        if due is not None and due > ctx.now():
            ctx.schedule.reschedule(entry, replace(entry, at=due, etag=None))
            return
        if lifecycle.requeue(ctx, record) is not None:
            summary.requeued += 1
        ctx.schedule.remove_due([entry])
        return
    if record.plan is None:
        replan(ctx, record)
    ctx.schedule.remove_due([entry])


def _waiting_due(ctx: PipelineContext, entry: DueEntry, summary: PollSummary) -> None:
    """Files of a plan waited longer than their grouper should take: group them if nobody does."""
    lease = grouping.acquire(ctx, entry.target)
    if lease is None:
        # Someone is grouping them: look again once their lease would have run out.
        ctx.schedule.reschedule(entry, replace(entry, at=ctx.now() + grouping.LEASE_TIME, etag=None))
        return
    made = grouping.keep_grouping(ctx, lease, patient=False, budget=timedelta(seconds=20))
    summary.grouped += made
    ctx.schedule.remove_due([entry])
    if ctx.settings.budget_set and made == 0:
        return  # what waits is over the budget: grouping put the plan's next look in the schedule
    if ctx.schedule.waiting(entry.target, limit=1):
        # More than one tick's worth: the next tick carries on.
        ctx.schedule.put_due(replace(entry, at=ctx.now(), etag=None))
