"""Poll outstanding jobs: ask the service about them in groups, hand finished ones to recording,
and recover what a crash left behind. Reads only the job table's `open` partition."""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from datetime import UTC, datetime, timedelta
from urllib.parse import unquote

from shared.pipeline.context import PipelineContext
from shared.pipeline.submit import start_job
from shared.redaction import redact, strip_query
from shared.storage import results_queue
from shared.storage.job_table import OpenJob, Outcome, State
from shared.translator import JobStatus, NotFoundError, TranslatorError, is_final_status, is_known_status

logger = logging.getLogger(__name__)

# One list call asks about this many job ids (and asks for pages of the same size).
IDS_PER_CALL = 50
# A record handed to the results queue but still open after this long is handed over again.
REQUEUE_AFTER = timedelta(minutes=10)
# Submissions that fail without a job this many times end as Failed.
MAX_SUBMIT_ATTEMPTS = 5
# How far before a record's intent a batch it might have created can be dated (clock skew).
RECONCILE_SKEW = timedelta(minutes=10)


@dataclass
class PollSummary:
    outstanding: int = 0
    polled: int = 0
    list_calls: int = 0
    finished: int = 0
    reconciled: int = 0
    resubmitted: int = 0
    requeued: int = 0
    unknown_status: list[str] = field(default_factory=list)


def poll_outstanding_jobs(ctx: PipelineContext) -> PollSummary:
    summary = PollSummary()
    open_jobs = list(ctx.jobs.outstanding())
    summary.outstanding = len(open_jobs)
    now = ctx.now()

    submitted = [job for job in open_jobs if job.state == State.SUBMITTED and job.job_id]
    _poll_submitted(ctx, submitted, summary)

    reconcile_after = timedelta(seconds=ctx.settings.submit_reconcile_after_seconds)
    unresolved = [
        job
        for job in open_jobs
        if job.state == State.UNCERTAIN
        or (job.state == State.SUBMITTING and now - _aware(job.intent_at) >= reconcile_after)
    ]
    if unresolved:
        _reconcile(ctx, unresolved, summary)

    for job in open_jobs:
        if job.state != State.FINISHING or job.needs_attention:
            continue
        if job.enqueued_at is None or now - _aware(job.enqueued_at) >= REQUEUE_AFTER:
            updated = ctx.jobs.update(replace(job, enqueued_at=now))
            if updated is not None:
                results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(job.key, job.source_name))
                summary.requeued += 1
    logger.info(
        "poll: %d outstanding, %d polled in %d list calls, %d finished, %d reconciled, %d resubmitted, %d requeued",
        summary.outstanding,
        summary.polled,
        summary.list_calls,
        summary.finished,
        summary.reconciled,
        summary.resubmitted,
        summary.requeued,
    )
    return summary


def _poll_submitted(ctx: PipelineContext, jobs: list[OpenJob], summary: PollSummary) -> None:
    by_job_id = {job.job_id: job for job in jobs}
    ids = list(by_job_id)
    seen: set[str] = set()
    for start in range(0, len(ids), IDS_PER_CALL):
        group = ids[start : start + IDS_PER_CALL]
        try:
            for page in ctx.translator.iter_job_pages(ids=group, max_page_size=IDS_PER_CALL):
                summary.list_calls += 1
                for status in page.items:
                    job = by_job_id.get(status.id)
                    if job is None:
                        continue
                    seen.add(status.id)
                    summary.polled += 1
                    _apply_status(ctx, job, status, summary)
        except TranslatorError as exc:
            logger.warning("could not list %d jobs (%s); they will be polled next time", len(group), exc)
            seen.update(group)  # not a sign that the service forgot them
    for job_id in ids:
        if job_id in seen:
            continue
        # Not in the filtered list: ask for it alone before concluding the service forgot it.
        job = by_job_id[job_id]
        try:
            status = ctx.translator.get_job(job_id)
        except NotFoundError:
            _finish(
                ctx,
                job,
                summary,
                outcome=Outcome.FAILED,
                code="JobNotFound",
                message=f"the service no longer knows job {job_id}",
            )
            continue
        except TranslatorError as exc:
            logger.warning("could not read job %s (%s); it will be polled next time", job_id, exc)
            continue
        summary.polled += 1
        _apply_status(ctx, job, status, summary)


def _apply_status(ctx: PipelineContext, job: OpenJob, status: JobStatus, summary: PollSummary) -> None:
    counts = asdict(status.summary)
    if is_final_status(status.status):
        _finish(ctx, replace(job, service_status=status.status, summary=counts), summary)
        return
    attention = job.needs_attention
    reason = job.attention_reason
    if not is_known_status(status.status):
        # Never follow a status we do not understand forever without telling anyone.
        summary.unknown_status.append(job.job_id or "")
        logger.error("job %s reports unknown status %r; marked as needing attention", job.job_id, status.status)
        attention, reason = True, f"the service reports an unknown status {status.status!r}"
    if status.status == job.service_status and counts == job.summary and attention == job.needs_attention:
        return
    ctx.jobs.update(
        replace(
            job,
            service_status=status.status,
            summary=counts,
            last_polled_at=ctx.now(),
            needs_attention=attention,
            attention_reason=reason,
        )
    )


def _finish(
    ctx: PipelineContext,
    job: OpenJob,
    summary: PollSummary,
    *,
    outcome: str | None = None,
    code: str | None = None,
    message: str | None = None,
) -> None:
    finishing = replace(
        job,
        state=State.FINISHING,
        outcome=outcome,
        reason_code=code,
        reason_message=message,
        last_polled_at=ctx.now(),
        enqueued_at=ctx.now(),
    )
    if ctx.jobs.update(finishing) is None:
        return
    results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(job.key, job.source_name))
    summary.finished += 1
    logger.info(
        "job %s for %s is %s; handed over for recording", job.job_id, job.source_name, job.service_status or outcome
    )


def _reconcile(ctx: PipelineContext, jobs: list[OpenJob], summary: PollSummary) -> None:
    """A record with no job id: find the batch it may have created, or submit it again."""
    since = min(_aware(job.intent_at) for job in jobs) - RECONCILE_SKEW
    try:
        job_by_source = _recent_jobs_by_source(ctx, since)
    except TranslatorError as exc:
        logger.warning("cannot reconcile %d records yet (%s)", len(jobs), exc)
        return
    for job in jobs:
        found = job_by_source.get(_comparable(job.source_url))
        if found is not None:
            adopted = ctx.jobs.update(
                replace(job, state=State.SUBMITTED, job_id=found, submitted_at=ctx.now(), last_error=None)
            )
            if adopted is not None:
                summary.reconciled += 1
                logger.info("reconciled %s with job %s the service already had", job.source_name, found)
            continue
        if job.attempt >= MAX_SUBMIT_ATTEMPTS:
            _finish(
                ctx,
                job,
                summary,
                outcome=Outcome.FAILED,
                code="SubmissionFailed",
                message=f"no job after {job.attempt} attempts; last error: {job.last_error or 'none recorded'}",
            )
            continue
        # Take the record over first (ETag-guarded): only one poller resubmits it.
        retry = ctx.jobs.update(replace(job, state=State.SUBMITTING, attempt=job.attempt + 1, intent_at=ctx.now()))
        if retry is None:
            continue
        logger.info("submitting %s again (attempt %d): the service has no job for it", job.source_name, retry.attempt)
        start_job(ctx, retry)
        summary.resubmitted += 1


def _recent_jobs_by_source(ctx: PipelineContext, since: datetime) -> dict[str, str]:
    """Source blob URL (no query) -> job id, for every batch created since `since`."""
    found: dict[str, str] = {}
    for status in ctx.translator.list_jobs(created_after=since, order_by="asc"):
        for document in _documents(ctx, status.id):
            found.setdefault(_comparable(document), status.id)
    return found


def _documents(ctx: PipelineContext, job_id: str) -> Iterable[str]:
    try:
        return [document.source_path for document in ctx.translator.list_documents(job_id)]
    except TranslatorError as exc:
        logger.warning("cannot read the documents of job %s: %s", job_id, redact(str(exc)))
        return []


def _aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _comparable(url: str) -> str:
    return unquote(strip_query(url)).rstrip("/")
