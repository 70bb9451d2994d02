"""Poll outstanding records: each tick reads the open partition once, and acts on what is due.

- Jobs due for a look are asked about in groups of 50 ids per list call; final ones are handed to
  the record step, the others' progress is written back in batched transactions.
- An attempt whose answer was lost (or whose submitter died) is reconciled: its job is found and
  adopted, or, once the attempt can no longer have created one, the version is submitted again.
- Records that wait (the service refused our credentials or was unreachable) are submitted again.
- A newer version of a file supersedes an older one still in flight: the older job is cancelled.
- Hand-overs to the record step that were lost are repeated; jobs running too long are flagged.
One record that fails never fails the poll for the others: its record keeps the cause.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import partial

from shared.pipeline import lifecycle
from shared.pipeline.context import PipelineContext
from shared.pipeline.reconcile import find_attempt_jobs
from shared.pipeline.record import JOB_NOT_FOUND
from shared.pipeline.submit import retry_submission
from shared.redaction import redact
from shared.storage.record_table import OpenRecord, Outcome, State
from shared.telemetry import Event, file_fields, metrics
from shared.translator import (
    InvalidRequestError,
    JobStatus,
    NotFoundError,
    TranslatorError,
    is_final_status,
    is_known_status,
)

logger = logging.getLogger(__name__)

# One list call asks about this many job ids (and asks for pages of the same size).
IDS_PER_CALL = 50
# A record handed to the results queue but still open after this long is handed over again.
REQUEUE_AFTER = timedelta(minutes=10)
# ... and one whose recording failed until its message went to the poison queue, after this long.
REQUEUE_FLAGGED_AFTER = timedelta(hours=1)
# Attempts that end without a job this many times end as Failed (causes outside the file excepted).
MAX_SUBMIT_ATTEMPTS = 5
# An attempt whose job is not found yet is looked for again this often until it may be resubmitted.
RECONCILE_RECHECK = timedelta(seconds=10)


@dataclass
class PollSummary:
    outstanding: int = 0
    due: int = 0
    polled: int = 0
    list_calls: int = 0
    finished: int = 0
    reconciled: int = 0
    resubmitted: int = 0
    requeued: int = 0
    superseded: int = 0
    flagged: int = 0
    failures: list[str] = field(default_factory=list)  # record keys a step failed for
    oldest_age_seconds: float = 0.0


def poll_outstanding_jobs(ctx: PipelineContext) -> PollSummary:
    summary = PollSummary()
    records = ctx.records.outstanding()
    now = ctx.now()
    summary.outstanding = len(records)
    if records:
        summary.oldest_age_seconds = max((now - record.intent_at).total_seconds() for record in records)

    records = _supersede_older_versions(ctx, records, summary)
    due = [record for record in records if record.next_check_at is None or record.next_check_at <= now]
    summary.due = len(due)
    _check_jobs(ctx, [r for r in due if r.state == State.SUBMITTED and r.job_id], summary)
    for record in due:
        if record.state == State.WAITING:
            _guarded(ctx, record, summary, lambda r: _retry(ctx, r, summary))
    known_job_ids = {record.job_id for record in records if record.job_id}
    unresolved = [r for r in due if r.state in (State.UNCERTAIN, State.SUBMITTING)]
    if unresolved:
        _reconcile(ctx, unresolved, known_job_ids, summary)
    for record in records:
        if record.state == State.FINISHING:
            _guarded(ctx, record, summary, lambda r: _requeue_if_lost(ctx, r, now, summary))

    logger.info(
        "poll: %d outstanding (%d due), %d jobs checked in %d list calls, %d finished, %d reconciled, "
        "%d resubmitted, %d requeued, %d superseded, %d flagged, %d failed",
        summary.outstanding,
        summary.due,
        summary.polled,
        summary.list_calls,
        summary.finished,
        summary.reconciled,
        summary.resubmitted,
        summary.requeued,
        summary.superseded,
        summary.flagged,
        len(summary.failures),
        extra=file_fields(
            event=Event.POLL,
            outstanding_jobs=summary.outstanding,
            oldest_outstanding_seconds=round(summary.oldest_age_seconds, 1),
        ),
    )
    metrics.gauge("translation.jobs.outstanding", summary.outstanding, description="Records not yet final")
    metrics.gauge("translation.jobs.oldest_age_seconds", summary.oldest_age_seconds, unit="s")
    return summary


def _guarded(
    ctx: PipelineContext, record: OpenRecord, summary: PollSummary, step: Callable[[OpenRecord], object]
) -> None:
    """Runs one record's step; a failure is kept on that record (as far as storage lets us) and the
    poll goes on with the others."""
    try:
        step(record)
    except Exception as exc:
        cause = redact(f"{type(exc).__name__}: {exc}")
        summary.failures.append(record.key)
        logger.error(
            "poll: %s (version %s) could not be handled this time: %s",
            record.source_name,
            record.source_etag,
            cause,
            extra=file_fields(record, event=Event.NEEDS_ATTENTION),
        )
        try:
            current = ctx.records.get_open(record.key) or record
            ctx.records.update(replace(current, last_error=cause[:2000]))
        except Exception as second:
            logger.error("poll: could not note that failure on record %s either: %s", record.key, redact(str(second)))


# --- jobs at the service -------------------------------------------------------------------


def _check_jobs(ctx: PipelineContext, records: list[OpenRecord], summary: PollSummary) -> None:
    by_job_id = {record.job_id: record for record in records if record.job_id}
    ids = list(by_job_id)
    seen: set[str] = set()
    # Written in batches after the look: progress, and records whose job is final.
    progress: list[OpenRecord] = []
    finished: list[OpenRecord] = []
    for start in range(0, len(ids), IDS_PER_CALL):
        group = ids[start : start + IDS_PER_CALL]
        try:
            for page in ctx.translator.list_jobs(ids=group, max_page_size=IDS_PER_CALL).by_page():
                summary.list_calls += 1
                for status in page.items:
                    record = by_job_id.get(status.id)
                    if record is None or status.id in seen:
                        continue
                    seen.add(status.id)
                    summary.polled += 1
                    _guarded(
                        ctx,
                        record,
                        summary,
                        partial(_apply, ctx, status=status, summary=summary, progress=progress, finished=finished),
                    )
        except TranslatorError as exc:
            logger.warning("could not list %d jobs (%s); they will be checked next time", len(group), exc)
            seen.update(group)  # not a sign that the service forgot them
    for job_id in ids:
        if job_id not in seen:
            # Not in the filtered list: ask for it alone before concluding the service forgot it.
            _guarded(
                ctx,
                by_job_id[job_id],
                summary,
                partial(_check_one, ctx, summary=summary, progress=progress, finished=finished),
            )
    if finished:
        try:
            summary.finished += sum(1 for result in lifecycle.finish_all(ctx, finished) if result is not None)
        except Exception:
            # One record's write failed the batch: write them one by one, so it fails alone.
            for record in finished:
                _guarded(ctx, record, summary, partial(_finish_one, ctx, summary=summary))
    if progress:
        results = ctx.records.update_many(progress)
        lost = sum(1 for result in results if result is None)
        if lost:
            logger.info("%d records changed while their progress was written; they are read again next tick", lost)


def _finish_one(ctx: PipelineContext, record: OpenRecord, *, summary: PollSummary) -> None:
    summary.finished += sum(1 for result in lifecycle.finish_all(ctx, [record]) if result is not None)


def _check_one(
    ctx: PipelineContext,
    record: OpenRecord,
    *,
    summary: PollSummary,
    progress: list[OpenRecord],
    finished: list[OpenRecord],
) -> None:
    assert record.job_id is not None
    try:
        status = ctx.translator.get_job(record.job_id)
    except NotFoundError:
        if lifecycle.finish(
            ctx,
            record,
            code=JOB_NOT_FOUND,
            message=f"the service no longer knows job {record.job_id}",
        ):
            summary.finished += 1
        return
    except TranslatorError as exc:
        logger.warning(
            "could not read job %s (%s); it will be checked next time",
            record.job_id,
            exc,
            extra=file_fields(record, event=Event.POLL),
        )
        return
    summary.polled += 1
    _apply(ctx, record, status=status, summary=summary, progress=progress, finished=finished)


def _apply(
    ctx: PipelineContext,
    record: OpenRecord,
    *,
    status: JobStatus,
    summary: PollSummary,
    progress: list[OpenRecord],
    finished: list[OpenRecord],
) -> None:
    now = ctx.now()
    if is_final_status(status.status):
        finished.append(lifecycle.finishing(record, now, status=status))
        return
    if not is_known_status(status.status):
        # Never follow a status we do not understand forever without telling anyone.
        lifecycle.flag(ctx, record, f"the service reports job {record.job_id} in an unknown status {status.status!r}")
        summary.flagged += 1
        return
    progress.append(lifecycle.observed(record, status, now, stuck=_stuck(ctx, record, status, now)))
    summary.flagged += int(progress[-1].needs_attention and not record.needs_attention)


# --- attempts without a job ----------------------------------------------------------------


def _retry(ctx: PipelineContext, record: OpenRecord, summary: PollSummary) -> None:
    if record.superseded_by is not None:
        lifecycle.finish(
            ctx,
            record,
            outcome=Outcome.SUPERSEDED,
            code="NewerVersion",
            message="a newer version of the file arrived before this one could be submitted",
        )
        summary.finished += 1
        return
    if record.attempt >= MAX_SUBMIT_ATTEMPTS and not record.needs_attention:
        # Repeated failures of the file's own making; causes outside it (credentials) keep it waiting.
        lifecycle.finish(
            ctx,
            record,
            outcome=Outcome.FAILED,
            code="SubmissionFailed",
            message=f"no job after {record.attempt} attempts; last error: {record.last_error or 'none recorded'}",
        )
        summary.finished += 1
        return
    retry_submission(ctx, record)
    summary.resubmitted += 1


def _reconcile(ctx: PipelineContext, records: list[OpenRecord], known: set[str], summary: PollSummary) -> None:
    """Uncertain attempts, and attempts whose submitter died: find their job, or submit again once
    the attempt can no longer create one."""
    try:
        search = find_attempt_jobs(ctx, records, known)
    except TranslatorError as exc:
        logger.warning("cannot look for the jobs of %d attempts yet (%s)", len(records), exc)
        return
    summary.list_calls += search.list_calls
    now = ctx.now()
    for record in records:
        job_id = search.found.get(record.key)
        if job_id is not None:
            _guarded(ctx, record, summary, partial(_adopt, ctx, job_id=job_id, summary=summary))
            continue
        resubmit_at = lifecycle.resubmit_due(ctx, record)
        # A job in the window that lists no documents yet may be this attempt's: give the service
        # one more reconcile period to list them before submitting again.
        grace = timedelta(seconds=ctx.settings.submit_reconcile_after_seconds) if search.unidentified else timedelta(0)
        if now < resubmit_at + grace:
            until = min(resubmit_at + grace, now + RECONCILE_RECHECK)
            _guarded(ctx, record, summary, partial(lifecycle.postpone, ctx, until=until))
            continue
        _guarded(ctx, record, summary, lambda r: _retry(ctx, r, summary))


def _adopt(ctx: PipelineContext, record: OpenRecord, job_id: str, summary: PollSummary) -> None:
    adopted = lifecycle.adopt(ctx, record, job_id)
    if adopted is None:
        return
    summary.reconciled += 1
    if adopted.superseded_by is not None:
        _cancel(ctx, adopted)


# --- versions, hand-overs, stuck jobs ----------------------------------------------------------


def _supersede_older_versions(
    ctx: PipelineContext, records: list[OpenRecord], summary: PollSummary
) -> list[OpenRecord]:
    """Marks (and cancels) every open version of a file older than its newest open version."""
    by_file: dict[tuple[str, str], list[OpenRecord]] = defaultdict(list)
    for record in records:
        by_file[(record.source_container, record.source_name)].append(record)
    replaced: dict[str, OpenRecord] = {}
    for versions in by_file.values():
        if len(versions) < 2:
            continue
        versions.sort(key=lambda record: record.version_order)
        newest = versions[-1]
        for older in versions[:-1]:
            if older.superseded_by is not None or older.state == State.FINISHING:
                continue
            updated = lifecycle.supersede(ctx, older, newest)
            if updated is None:
                continue
            summary.superseded += 1
            replaced[older.key] = updated
            if updated.state == State.SUBMITTED:
                _cancel(ctx, updated)
    return [replaced.get(record.key, record) for record in records]


def _cancel(ctx: PipelineContext, record: OpenRecord) -> None:
    if record.job_id is None:
        return
    try:
        ctx.translator.cancel_job(record.job_id)
        logger.info(
            "cancelled job %s of superseded version %s of %s", record.job_id, record.source_etag, record.source_name
        )
    except (InvalidRequestError, NotFoundError):
        pass  # final already: it is recorded as superseded all the same
    except TranslatorError as exc:
        logger.warning(
            "could not cancel job %s of a superseded version (%s)",
            record.job_id,
            exc,
            extra=file_fields(record, event=Event.SUPERSEDED),
        )


def _requeue_if_lost(ctx: PipelineContext, record: OpenRecord, now: datetime, summary: PollSummary) -> None:
    after = REQUEUE_FLAGGED_AFTER if record.needs_attention else REQUEUE_AFTER
    if record.enqueued_at is None or now - record.enqueued_at >= after:
        if lifecycle.requeue(ctx, record) is not None:
            summary.requeued += 1


def _stuck(ctx: PipelineContext, record: OpenRecord, status: JobStatus, now: datetime) -> str | None:
    """Why a job still running is flagged, if it has run for longer than STUCK_JOB_AFTER_MINUTES."""
    age = now - (record.submitted_at or record.intent_at)
    limit = timedelta(minutes=ctx.settings.stuck_job_after_minutes)
    if age < limit:
        return None
    return (
        f"job {record.job_id} is still {status.status} after {int(age.total_seconds() // 60)} minutes "
        f"(STUCK_JOB_AFTER_MINUTES={ctx.settings.stuck_job_after_minutes}); its SAS URLs expire after "
        f"{ctx.settings.sas_expiry_minutes} minutes"
    )
