"""Completion noticed when the translation is written, not at the next poll.

The service writes each translation to the staging name the app gave it
(`.inflight/<record key>-<attempt>/<lang><ext>` in the target container), and that write raises a
BlobCreated event, as a user's drop does. The notice_translation_written trigger gets it here:

1. The staging name says which file (record key) and attempt it is; the open record says which
   submission follows that file (remembered per instance, so a file's other languages cost nothing).
2. Only a file whose every language is written can end its job: this instance had an event for
   each, or else its staging folder is listed (one storage call). A language that fails writes
   nothing, so a job whose last file failed is left to the poll's backstop.
3. The job is looked at, at most about once a second however many files end at once, whichever
   instance gets the events: the schedule's `look|<submission>` row (ETag-guarded) says when the
   latest look started and when the next may; an event that comes sooner makes sure one look
   follows (a message on the poll-shards queue, visible then) instead of looking now. When that
   look is due within a second, the first such event on the instance waits for it and takes it
   (the message then finds it taken): a queue hop costs up to 2 s more.
4. The look is one document list for a job of up to 200 documents (which, when every document is
   final, is also the list the hand-over needs), or one status read for a larger one. A final job
   is finished (finishing.py): its files go to the record step. In a listed job still running,
   each file whose every document is final goes to the record step at once. A job not final yet (an event can
   come a moment before the service's status says so) is looked at again: while its end seems near
   (its documents' pace says so), by a look of its own, promised (while documents keep ending; at
   most four in a row that find none ended, 1, 2, 4 and 8 s apart); otherwise on the next event or
   by the poll.

Events are at least once and may be late, early or lost: a late one finds the record no longer
Grouped, a duplicate finds the look done, and for a lost one the poll's backstop (every job stays
in the schedule, looked at about once a minute) finishes the job. Two looks that find the same job
final race to move its submission (ETag-guarded), and only one hands its files over.
"""

from __future__ import annotations

import json
import logging
import math
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from shared.pipeline import finishing, submissions
from shared.pipeline.context import PipelineContext
from shared.pipeline.translation_written_memo import WrittenFile
from shared.redaction import redact
from shared.storage.blob_names import staging_blob_name, staging_owner, staging_prefix
from shared.storage.records import State
from shared.storage.schedule_table import JobLook, Submission, SubmissionState
from shared.telemetry import Event, submission_fields
from shared.translator import (
    DocumentStatus,
    JobStatus,
    NotFoundError,
    Status,
    StatusSummary,
    TranslatorError,
    is_final_status,
)

logger = logging.getLogger(__name__)

# However many documents of one job are written at once, a look at it starts at most this often.
LOOK_SPACING = timedelta(seconds=1)
# A job whose end seems this near (or nearer) after a look is looked at again without waiting for an
# event: the last event may have come a moment before the service's status said so.
FOLLOW_UP_WITHIN = timedelta(seconds=10)
# The next look is set at this share of the time the job seems to need still (its documents' pace):
# a bulk job of hundreds of files is looked at a dozen times, not once per file.
SHARE_OF_REMAINING_TIME = 1 / 3
# A message on the poll-shards queue that asks for a promised look (poll.poll_shard reads it).
FOLLOW_UP_KEY = "look"
# A job of up to this many pages of documents is looked at by listing them (its files are handed over
# as each one ends); a larger one by its status (its files when it ends: listing a 1,000-file job at
# every look would cost 20 calls a look).
LISTED_LOOK_PAGES = 2
# Attempts at the looks' record when other instances keep changing it first.
CLAIM_ATTEMPTS = 4
# A look promised this soon is taken by an event that knows of it, on its instance, after waiting
# for it: the queue message's delay is whole seconds and its listener polls up to maxPollingInterval,
# which made a file's end wait up to 3 s more. The message stays, for an instance that stops
# meanwhile, and finds the look taken. One invocation per instance and job waits, at most this long.
KEEP_PROMISE_WITHIN = LOOK_SPACING


class Notice(StrEnum):
    """What one written translation led to (for tests and the log)."""

    NOT_STAGING = "not a staging name"
    NOT_FOLLOWED = "its file is not waiting for this job"  # recorded, finishing, or another attempt's
    FILE_NOT_WRITTEN = "other languages of its file are still to be written"
    LOOK_PROMISED = "a look is promised"  # a recent look: one follows
    LOOKED = "the job was looked at"
    LOOKED_WHEN_PROMISED = "the job was looked at when the promised look was due"  # after waiting for it


def notice_translation_written(ctx: PipelineContext, blob_name: str) -> Notice:
    """A translation was written to `blob_name` in the target container."""
    owner = staging_owner(f"/{blob_name}")
    if owner is None:
        logger.debug("%s is not a staging name; nothing to look at", redact(blob_name))
        return Notice.NOT_STAGING
    key, attempt = owner
    file = _written_file(ctx, key, attempt)
    if file is None:
        return Notice.NOT_FOLLOWED
    if not _all_languages_written(ctx, key, attempt, file, blob_name):
        return Notice.FILE_NOT_WRITTEN
    all_written_here = ctx.looks_here.note_file_written(file.submission, key)
    return _look_or_promise(ctx, file.submission, ctx.now(), all_written_here=all_written_here)


def follow_up_message(submission_id: str, at: datetime) -> str:
    return json.dumps({FOLLOW_UP_KEY: submission_id, "at": at.isoformat()})


def is_follow_up(data: Any) -> bool:
    return isinstance(data, dict) and isinstance(data.get(FOLLOW_UP_KEY), str)


def follow_up(ctx: PipelineContext, data: dict[str, Any]) -> bool:
    """A promised look (a message from the poll-shards queue): done unless a look started since it was
    promised. True when the job was looked at."""
    submission_id = str(data[FOLLOW_UP_KEY])
    promised_at = datetime.fromisoformat(str(data["at"]))
    for _ in range(CLAIM_ATTEMPTS):
        look = ctx.schedule.get_look(submission_id)
        if look is None:
            return False  # its submission is gone: recorded
        if look.looked_at >= promised_at:
            return False  # a look started after the events it was promised for
        now = ctx.now()
        claimed = ctx.schedule.put_look(
            replace(
                look,
                looked_at=now,
                not_before=max(look.not_before, now + LOOK_SPACING),
                follow_up_at=None if look.follow_up_at == promised_at else look.follow_up_at,
                follow_ups=look.follow_ups + 1,
            )
        )
        if claimed is not None:
            look_at_job(ctx, submission_id, claimed)
            return True
    return False


def promise_look(ctx: PipelineContext, submission_id: str) -> None:
    """A look at the job soon, for a job that is to end without writing anything more (an operator
    cancelled it): looked at again on its own (1, 2, 4, 8 s) until it ends, then the poll."""
    for _ in range(CLAIM_ATTEMPTS):
        now = ctx.now()
        at = now + LOOK_SPACING
        look = ctx.schedule.get_look(submission_id)
        promised = replace(look, follow_up_at=at, follow_ups=0) if look is not None else None
        if promised is None:
            promised = JobLook(submission_id, looked_at=now, not_before=now, follow_up_at=at)
        if ctx.schedule.put_look(promised) is not None:
            _send_follow_up(ctx, submission_id, at, now)
            return


# --- which file, and is it all written --------------------------------------------------------------


def _written_file(ctx: PipelineContext, key: str, attempt: int) -> WrittenFile | None:
    remembered = ctx.looks_here.file(key, attempt)
    if remembered is not None:
        return None if ctx.looks_here.has_ended(remembered.submission) else remembered
    record = ctx.records.get_open(key)
    if record is None or record.state is not State.GROUPED or record.attempts != attempt or not record.submission:
        logger.debug(
            "a translation of %s (attempt %d) was written; its record is %s: nothing to look at",
            key,
            attempt,
            "gone" if record is None else f"{record.state.value}, attempt {record.attempts}",
        )
        return None
    file = WrittenFile(
        record.submission,
        frozenset(staging_blob_name(key, attempt, language, record.source_name) for language in record.languages),
    )
    ctx.looks_here.remember_file(key, attempt, file)
    return file


def _all_languages_written(ctx: PipelineContext, key: str, attempt: int, file: WrittenFile, blob_name: str) -> bool:
    """Every language of the file is written: this instance had an event for each (BlobCreated
    comes once a write is whole), or else its staging folder says so (the events of one file may
    go to several instances)."""
    if ctx.looks_here.was_written(key, attempt):
        return True
    if file.staging_names <= ctx.looks_here.saw_written(key, attempt, blob_name):
        ctx.looks_here.remember_written(key, attempt)
        return True
    target = ctx.storage.container(ctx.settings.target_container)
    written = {blob.name for blob in target.list_blobs(name_starts_with=staging_prefix(key, attempt))}
    if not file.staging_names <= written:
        return False
    ctx.looks_here.remember_written(key, attempt)
    return True


# --- about once a second per job ----------------------------------------------------------------------


def _look_or_promise(
    ctx: PipelineContext, submission_id: str, written_at: datetime, *, all_written_here: bool = False
) -> Notice:
    """Looks at the job now, unless a look started less than LOOK_SPACING ago (or the job's pace says
    later): then makes sure one starts once allowed. When this instance saw every file of the job
    written, its pace no longer matters: the job is looked at a second after the look before."""
    promised_at = ctx.looks_here.promised_after(submission_id, written_at)
    if promised_at is not None and not all_written_here:
        return _keep_promise_here(ctx, submission_id, promised_at)
    for _ in range(CLAIM_ATTEMPTS):
        now = ctx.now()
        look = ctx.schedule.get_look(submission_id)
        due = None if look is None else look.not_before
        if look is not None and all_written_here:
            due = min(look.not_before, look.looked_at + LOOK_SPACING)
        if look is None or due is None or now >= due:
            started = JobLook(submission_id, looked_at=now, not_before=now + LOOK_SPACING)
            if look is not None:
                started = replace(look, looked_at=now, not_before=now + LOOK_SPACING, follow_ups=0)
            claimed = ctx.schedule.put_look(started)
            if claimed is not None:
                look_at_job(ctx, submission_id, claimed)
                return Notice.LOOKED
            continue
        if look.follow_up_at is not None and written_at <= look.follow_up_at <= due:
            ctx.looks_here.remember_promise(submission_id, look.follow_up_at)
            return _keep_promise_here(ctx, submission_id, look.follow_up_at)
        promised = ctx.schedule.put_look(replace(look, follow_up_at=due, not_before=due))
        if promised is not None:
            _send_follow_up(ctx, submission_id, due, now)
            return _keep_promise_here(ctx, submission_id, due)
    # Other instances kept changing the record first: each of them looks, or promises a look.
    return Notice.LOOK_PROMISED


def _keep_promise_here(ctx: PipelineContext, submission_id: str, at: datetime) -> Notice:
    """Takes the look promised at `at` once it is due, when that is soon and no other invocation
    here waits for it; otherwise leaves it to that one or to the queue message."""
    wait = (at - ctx.now()).total_seconds()
    if wait > KEEP_PROMISE_WITHIN.total_seconds() or not ctx.looks_here.start_keeping(submission_id, at):
        return Notice.LOOK_PROMISED
    try:
        if wait > 0:
            ctx.sleep(wait)
        looked = follow_up(ctx, {FOLLOW_UP_KEY: submission_id, "at": at.isoformat()})
    finally:
        ctx.looks_here.stop_keeping(submission_id, at)
    return Notice.LOOKED_WHEN_PROMISED if looked else Notice.LOOK_PROMISED


def _send_follow_up(ctx: PipelineContext, submission_id: str, at: datetime, now: datetime) -> None:
    ctx.looks_here.remember_promise(submission_id, at)
    delay = max(0, math.ceil((at - now).total_seconds()))
    ctx.storage.poll_shards_queue.send_message(follow_up_message(submission_id, at), visibility_timeout=delay)


# --- the look -------------------------------------------------------------------------------------------


def look_at_job(ctx: PipelineContext, submission_id: str, look: JobLook) -> None:
    """Looks at the job (claimed as `look`): a final one is finished; otherwise the next look is set."""
    submission = ctx.schedule.get_submission(submission_id)
    if submission is None:
        ctx.looks_here.remember_ended(submission_id)
        ctx.schedule.remove_looks(submission_id)
        return
    ctx.looks_here.remember_files(submission_id, len(submission.members))
    if submission.state in (SubmissionState.SUBMITTING, SubmissionState.UNCERTAIN):
        # Written before its submitter had the job id on record (a job can be that quick): once it has.
        _set_next_look(ctx, look, submission_id, _backing_off(look.follow_ups))
        return
    if submission.state is not SubmissionState.SUBMITTED or not submission.job_id:
        if submission.state is SubmissionState.FINISHING:
            ctx.looks_here.remember_ended(submission_id)  # the looks' record goes with the submission
        return
    try:
        found = _job_as_listed(ctx, submission)
    except NotFoundError:
        return  # the poll asks for it alone before it concludes the service forgot it
    except TranslatorError as exc:
        logger.warning(
            "could not look at job %s after a translation was written (%s); the poll looks at it",
            submission.job_id,
            exc,
            extra=submission_fields(submission, event=Event.POLL),
        )
        return
    if found.final is not None:
        ctx.looks_here.remember_ended(submission.id)
        handed = finishing.finish_submission(ctx, submission, found.final, documents=found.documents)
        logger.info(
            "job %s (submission %s) ended (noticed by its written translations): %d files handed over",
            submission.job_id,
            submission.id,
            handed,
            extra=submission_fields(submission, event=Event.FINISHING, outcome=str(found.final.status)),
        )
        return
    if found.documents is not None:
        early = finishing.hand_over_finished_members(ctx, submission, found.documents)
        if early:
            logger.info(
                "job %s (submission %s) runs on: %d of its files ended, handed over for recording",
                submission.job_id,
                submission.id,
                early,
                extra=submission_fields(submission, event=Event.FINISHING),
            )
    _set_next_look(ctx, look, submission.id, _spacing(ctx, look, submission, found), found)


@dataclass(frozen=True)
class JobAsListed:
    final: JobStatus | None  # the job's final status, when it is final
    documents: list[DocumentStatus] | None  # as listed, when the look was a document list
    remaining: int  # documents not final yet
    finished: int


def _job_as_listed(ctx: PipelineContext, submission: Submission) -> JobAsListed:
    assert submission.job_id is not None
    documents_expected = len(submission.members) * len(submission.languages)
    if documents_expected <= LISTED_LOOK_PAGES * finishing.DOCUMENTS_PER_PAGE:
        documents = list(
            ctx.translator.list_document_statuses(submission.job_id, max_page_size=finishing.DOCUMENTS_PER_PAGE)
        )
        remaining = sum(1 for document in documents if not is_final_status(document.status))
        remaining += max(0, documents_expected - len(documents))
        if remaining:
            return JobAsListed(None, documents, remaining, len(documents) - remaining)
        final = _final_from_documents(submission.job_id, documents)
        if final is None:
            final = ctx.translator.get_translation_status(submission.job_id)  # cancelled documents: the job says why
        return JobAsListed(final if is_final_status(final.status) else None, documents, 0, len(documents))
    status = ctx.translator.get_translation_status(submission.job_id)
    summary = status.summary
    remaining = summary.in_progress + summary.not_yet_started
    return JobAsListed(status if is_final_status(status.status) else None, None, remaining, summary.total - remaining)


def _final_from_documents(job_id: str, documents: list[DocumentStatus]) -> JobStatus | None:
    """The status a job whose every document is final ends in (SERVICE_NOTES: Succeeded when any
    document succeeded, Failed when every one failed), without asking: the list already says it. A
    job with cancelled documents was cancelled: None, and the job itself is read."""
    statuses = [document.status for document in documents]
    if not documents or any(status not in (Status.SUCCEEDED, Status.FAILED) for status in statuses):
        return None
    succeeded = statuses.count(Status.SUCCEEDED)
    summary = StatusSummary(
        total=len(documents),
        failed=len(documents) - succeeded,
        success=succeeded,
        total_character_charged=sum(document.characters_charged for document in documents),
    )
    updated = [document.last_updated_at for document in documents if document.last_updated_at is not None]
    return JobStatus(
        id=job_id,
        status=Status.SUCCEEDED if succeeded else Status.FAILED,
        created_at=None,
        last_updated_at=max(updated) if updated else None,
        summary=summary,
        error=None,
    )


def _backing_off(follow_ups: int) -> timedelta:
    """Promised looks in a row that find nothing new back off (1, 2, 4, 8 s): a job that keeps not
    ending costs a few looks, then waits for an event or the poll."""
    return LOOK_SPACING * int(2**follow_ups)


def _spacing(ctx: PipelineContext, look: JobLook, submission: Submission, found: JobAsListed) -> timedelta:
    """When the next look may be. A listed job: a second on (its files are handed over as they end).
    A larger one: a share of the time it seems to need still (as long again as it took for each
    document still running per document done; none done: as long again as it took), and while its
    documents keep ending, at most FOLLOW_UP_WITHIN (so a look of its own is promised: its events
    may be spread over instances, none of which sees them all, and its end would wait for a paced
    look up to MAX_CHECK_INTERVAL away). Either way at least the back-off of promised looks that
    found no document done since the look before."""
    streak = _streak(look, found)
    backing_off = _backing_off(streak)
    if found.documents is not None:
        # A listed job hands each file over as it ends: its written files are worth a look a second.
        return backing_off
    now = ctx.now()
    age = now - (submission.submitted_at or now)
    still_needed = age * (found.remaining / max(found.finished, 1))
    paced = min(submissions.MAX_CHECK_INTERVAL, max(backing_off, still_needed * SHARE_OF_REMAINING_TIME))
    return min(paced, FOLLOW_UP_WITHIN) if streak == 0 else paced


def _streak(look: JobLook, found: JobAsListed | None) -> int:
    """Promised looks in a row with nothing new: documents done since the look before end it."""
    return 0 if found is not None and found.finished > look.finished else look.follow_ups


def _set_next_look(
    ctx: PipelineContext, look: JobLook, submission_id: str, spacing: timedelta, found: JobAsListed | None = None
) -> None:
    """A job not final yet: the next look on an event is not before `spacing` after this one; when
    that is near, a look of its own is promised for then."""
    now = ctx.now()
    following_at = look.looked_at + spacing
    streak = _streak(look, found)
    finished = max(look.finished, found.finished if found is not None else 0)
    for _ in range(CLAIM_ATTEMPTS):
        current = ctx.schedule.get_look(submission_id) if look.etag is None else look
        if current is None:
            return
        promise = spacing <= FOLLOW_UP_WITHIN and (current.follow_up_at is None or current.follow_up_at < following_at)
        updated = replace(
            current,
            not_before=max(current.not_before, following_at),
            follow_up_at=following_at if promise else current.follow_up_at,
            follow_ups=min(current.follow_ups, streak),
            finished=max(current.finished, finished),
        )
        if ctx.schedule.put_look(updated) is not None:
            if promise:
                _send_follow_up(ctx, submission_id, following_at, now)
            return
        look = replace(current, etag=None)  # changed meanwhile (an event promised a look): read again
