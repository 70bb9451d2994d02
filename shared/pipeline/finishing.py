"""A job ended: each member of its submission is decided by its own documents and handed to the
record step, then the submission is removed.

The job's documents are listed once, 100 a page, and each is traced to its member by the staging
name it was written to (`.inflight/<record key>-<attempt>/`): a document's failure belongs to its
file alone. The members are written Finishing in transactions of up to 100 per partition and handed
over 16 at a time; should that be cut off, the submission (Finishing) is looked at again 30 seconds
later (HAND_OVER_RETRY) and the hand-over repeated (the record step takes a message twice
harmlessly). Once handed over, it is looked at once more after REQUEUE_AFTER, for any member whose
recording never happened: handed over again unless the results queue still holds messages older
than its hand-over (the record step is behind, not the hand-over lost).

A job that failed validation as a whole (a source deleted or unreadable, say) must not fail the good
files in it: the members whose file is gone end as such, and the others are submitted again, split
in two when none was to blame.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import asdict, replace
from datetime import datetime
from urllib.parse import unquote

from shared.pipeline import grouping, lifecycle, submissions
from shared.pipeline.context import PipelineContext
from shared.redaction import redact, strip_query
from shared.storage.attention import kept
from shared.storage.blob_names import staging_owner
from shared.storage.entity_codec import json_text
from shared.storage.record_keys import open_partition
from shared.storage.records import OPEN_CODEC, DocumentResult, State
from shared.storage.schedule_table import DueEntry, Member, Submission
from shared.storage.table_transactions import Change, Op
from shared.telemetry import Event, submission_fields
from shared.text import cut
from shared.translator import DocumentStatus, JobStatus, NotFoundError, Status

logger = logging.getLogger(__name__)

DOCUMENTS_PER_PAGE = 100


def finish_submission(
    ctx: PipelineContext,
    submission: Submission,
    status: JobStatus | None,
    *,
    done: Sequence[DueEntry] = (),
    documents: Sequence[DocumentStatus] | None = None,
) -> int:
    """The job is final (`status`), or the service no longer knows it (None). Returns the members
    handed over. `documents`: the job's documents, when the look that found it final listed them."""
    if status is not None and status.status == Status.VALIDATION_FAILED and len(submission.members) > 1:
        _validation_failed(ctx, submission, status, done)
        return 0
    moved = submissions.finishing(ctx, submission, status, done=done)
    if moved is None:
        return 0
    return hand_over(ctx, moved, listed=documents)


def hand_over(ctx: PipelineContext, submission: Submission, *, listed: Sequence[DocumentStatus] | None = None) -> int:
    """Writes every member Finishing with its documents and hands it to the record step (again, if an
    earlier hand-over was cut off); then the submission goes. `listed`: the job's documents, if just
    listed (else they are listed here)."""
    job_lost = submission.job_lost
    documents: dict[str, list[DocumentResult]] = {}
    if submission.job_id and not job_lost and submission.job_status != Status.VALIDATION_FAILED:
        try:
            documents = documents_by_member(ctx, submission, listed)
        except NotFoundError:
            job_lost = True
    now = ctx.now()

    def decided(member: Member) -> dict[str, object]:
        return _finishing_fields(submission, member, documents.get(member.key, []), job_lost=job_lost, at=now)

    members = submission.members
    written = ctx.records.writer.write_all([Change(Op.MERGE, decided(m), m.etag) for m in members])
    handed: list[Member] = []
    for member, result in zip(members, written, strict=True):
        if not result.conflict and member.etag is not None:
            handed.append(member)
            continue
        # Changed since it was grouped (superseded, flagged, or written by a hand-over cut off):
        # written again only while it still belongs to this submission.
        record = ctx.records.get_open(member.key)
        if record is None or record.submission != submission.id:
            continue
        if record.state is State.GROUPED or record.state is State.FINISHING:
            again = ctx.records.writer.write_all([Change(Op.MERGE, decided(member), record.etag)])[0]
            if not again.conflict:
                handed.append(member)
    lifecycle.hand_over_members(ctx, submission, handed)
    logger.info(
        "job %s (submission %s) is %s: %d of its %d files handed over for recording",
        submission.job_id,
        submission.id,
        submission.job_status or "lost",
        len(handed),
        len(members),
        extra=submission_fields(submission, event=Event.FINISHING, outcome=submission.job_status),
    )
    submissions.handed_over(ctx, submission, now + lifecycle.REQUEUE_AFTER)
    return len(handed)


def hand_over_finished_members(ctx: PipelineContext, submission: Submission, listed: Sequence[DocumentStatus]) -> int:
    """While the job runs: each file whose every document is final is handed to the record step now,
    not when the last file of its job ends. Only once a document of the job succeeded: the job then
    ends Succeeded (SERVICE_NOTES: only a job whose every document failed is Failed), which is what
    the record says. Each is written Finishing guarded by its record's ETag as grouped, so a file
    handed over already, or changed since (superseded, withdrawn, flagged), is left alone; the job's
    end hands over the rest, and these again should their recording not be done yet (the record
    step takes a message twice harmlessly). Returns how many were handed over."""
    if not any(document.status == Status.SUCCEEDED for document in listed):
        return 0
    documents = documents_by_member(ctx, submission, listed)
    wanted = len(submission.languages)
    withdrawn = set(submission.withdrawn)
    ended = replace(submission, job_status=str(Status.SUCCEEDED))
    now = ctx.now()
    ready = [
        member
        for member in submission.members
        if member.key not in withdrawn
        and member.etag is not None
        and len(results := documents.get(member.key, [])) == wanted
        and all(result.status in (Status.SUCCEEDED, Status.FAILED) for result in results)
    ]
    if not ready:
        return 0
    changes = [
        Change(Op.MERGE, _finishing_fields(ended, member, documents[member.key], job_lost=False, at=now), member.etag)
        for member in ready
    ]
    written = ctx.records.writer.write_all(changes)
    handed = [member for member, result in zip(ready, written, strict=True) if not result.conflict]
    lifecycle.hand_over_members(ctx, ended, handed)
    return len(handed)


def _finishing_fields(
    submission: Submission, member: Member, documents: Sequence[DocumentResult], *, job_lost: bool, at: datetime
) -> dict[str, object]:
    """A member's open record as its job's end (or its own documents' end) decided it: Finishing."""
    error_code, error_message = _job_error(submission)
    changed: dict[str, object] = {
        "state": State.FINISHING.value,
        "attempts": member.attempt,  # the member's try is the record's latest
        "job_id": submission.job_id,
        "submitted_at": submission.submitted_at,
        "job_status": submission.job_status,
        "documents": json_text([asdict(document) for document in documents]),
        "job_lost": job_lost,
        "enqueued_at": at,
        "job_error_code": error_code,
        "job_error_message": error_message,
    }
    if submission.needs_attention:
        changed |= kept(submission)
    fields: dict[str, object] = {"PartitionKey": open_partition(member.key), "RowKey": member.key}
    return fields | {OPEN_CODEC.column(name): value for name, value in changed.items() if value is not None}


def check_recorded(ctx: PipelineContext, submission: Submission) -> int:
    """Some time after its members were handed over: any still open is handed over again (one whose
    recording kept failing, after the flagged delay); once none is, the submission goes. Returns
    how many were handed over again."""
    now = ctx.now()
    still_open = grouping.members_still_in(ctx, submission, states=(State.GROUPED, State.FINISHING))
    if not still_open:
        submissions.remove(ctx, submission)
        return 0
    if any(record.state is State.GROUPED for record in still_open):
        # The hand-over never reached it (its write kept failing): hand the job's files over again.
        return hand_over(ctx, submission)
    again = deferred = 0
    next_look = now + lifecycle.REQUEUE_AFTER
    backlog = lifecycle.RecordStepBacklog(ctx)
    for record in still_open:
        due = lifecycle.requeue_due(record) or now
        if due <= now and backlog.still_waiting(record):
            deferred += 1
            due = now + lifecycle.REQUEUE_AFTER
        elif due <= now:
            lifecycle.requeue(ctx, record, schedule=False)
            again += 1
            due = now + (lifecycle.REQUEUE_FLAGGED_AFTER if record.needs_attention else lifecycle.REQUEUE_AFTER)
        next_look = min(next_look, due)
    if deferred:
        logger.info(
            "submission %s: %d files not recorded yet, the record step has yet to reach them; looking again at %s",
            submission.id,
            deferred,
            next_look.isoformat(),
            extra=submission_fields(submission, event=Event.FINISHING),
        )
    submissions.handed_over(ctx, submission, next_look)
    return again


def _job_error(submission: Submission) -> tuple[str | None, str | None]:
    if submission.job_status not in (Status.FAILED, Status.VALIDATION_FAILED):
        return None, None
    return submission.job_error_code, submission.job_error_message


def documents_by_member(
    ctx: PipelineContext, submission: Submission, listed: Iterable[DocumentStatus] | None = None
) -> dict[str, list[DocumentResult]]:
    """The job's documents (`listed`, or one list, 100 a page), each traced to its member by its
    staging name."""
    attempts = {member.key: member.attempt for member in submission.members}
    found: dict[str, list[DocumentResult]] = {}
    assert submission.job_id is not None
    if listed is None:
        listed = ctx.translator.list_document_statuses(submission.job_id, max_page_size=DOCUMENTS_PER_PAGE)
    for document in listed:
        owner = staging_owner(unquote(document.target_path or ""))
        if owner is None or attempts.get(owner[0]) != owner[1]:
            logger.warning(
                "job %s lists a document written to %s, which is none of its files'",
                submission.job_id,
                redact(strip_query(document.target_path or "")),
            )
            continue
        found.setdefault(owner[0], []).append(result_of(document))
    for results in found.values():
        results.sort(key=lambda result: result.language)
    return found


def result_of(document: DocumentStatus) -> DocumentResult:
    error = document.error
    return DocumentResult(
        language=document.language or "",
        status=str(document.status),
        path=strip_query(document.target_path) if document.target_path else None,
        document_id=document.id,
        characters_charged=document.characters_charged,
        error_code=(error.inner_code or error.code) if error else None,
        error_message=cut(redact(error.inner_message or error.message), 500) if error else None,
    )


def _validation_failed(
    ctx: PipelineContext, submission: Submission, status: JobStatus, done: Sequence[DueEntry]
) -> None:
    code = status.error.inner_code or status.error.code if status.error else "ValidationFailed"
    logger.warning(
        "job %s of %d files failed validation as a whole (%s); submitting its files again without the one to blame",
        submission.job_id,
        len(submission.members),
        code,
        extra=submission_fields(submission, event=Event.WAITING, reason_code=code),
    )
    confirmed = grouping.confirm_members(ctx, submission)
    if confirmed is None:
        ctx.schedule.remove_due(done)
        return
    before = len(confirmed.members)
    # Files deleted or replaced since they were dropped end now; the rest are submitted again.
    confirmed = _without_members_gone(ctx, confirmed)
    if confirmed is None:
        ctx.schedule.remove_due(done)
        return
    if len(confirmed.members) < before:
        attempt = submissions.retry(ctx, confirmed, done=done)
        if attempt is not None:
            grouping.start(ctx, attempt)
        return
    ctx.schedule.remove_due([entry for entry in done if entry.row != confirmed.due])
    grouping.split(ctx, confirmed)


def _without_members_gone(ctx: PipelineContext, submission: Submission) -> Submission | None:
    keep = grouping.members_whose_source_is_unchanged(ctx, submission)
    if not keep:
        submissions.remove(ctx, submission)
        return None
    if len(keep) == len(submission.members):
        return submission
    return ctx.schedule.update(replace(submission, members=keep))
