"""What an operator does: submit again, cancel, and redrive what ended in a poison queue or in
Event Grid's dead-letter container. Every state change goes through shared/pipeline/lifecycle.py."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.pipeline import grouping, lifecycle, submissions, translation_written
from shared.pipeline.context import PipelineContext
from shared.pipeline.poison import MalformedPoisonMessage, PoisonedBlob
from shared.pipeline.poll import SHARD_ENTRIES, shard_message
from shared.pipeline.submit import submit_dropped_blob
from shared.settings import POISON_SUFFIX
from shared.storage.clients import BLOB_TRIGGER_POISON_QUEUE
from shared.storage.records import FinalRecord, OpenRecord, Outcome, ReasonCode, State
from shared.storage.results_queue import MalformedResultMessage, ResultMessage
from shared.storage.schedule_table import DueEntry, DueKind
from shared.translator import InvalidRequestError, NotFoundError
from translation_ops.connection import DEAD_LETTER_CONTAINER
from translation_ops.queries import current_key, resolve_path

logger = logging.getLogger(__name__)

# Outcomes whose cause may have passed; Succeeded and Superseded are not retried. A cancel is an
# operator's decision: it is undone only for a file named, never by `retry --failed`.
RETRYABLE = (Outcome.FAILED, Outcome.PARTIALLY_SUCCEEDED, Outcome.REJECTED, Outcome.CANCELLED)
RETRYABLE_IN_BULK = (Outcome.FAILED, Outcome.PARTIALLY_SUCCEEDED, Outcome.REJECTED)
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
OPERATOR = "an operator"


class ActionRefused(RuntimeError):
    """What was asked cannot be done: the message says why, `todo` what to do instead."""

    def __init__(self, message: str, todo: str):
        super().__init__(message)
        self.todo = todo


class FileNotFound(ActionRefused):
    """The file named does not exist, so there is nothing to act on."""

    def __init__(self, container: str, name: str, message: str):
        super().__init__(f"{container}/{name} {message}", "check the name (`status` lists the files outstanding)")


def retry(ctx: PipelineContext, source_path: str) -> FinalRecord:
    """Submits the file's current version again; its record must be final and not a success."""
    container, name = resolve_path(ctx, source_path)
    etag, key = current_key(ctx, container, name)
    if key is None:
        raise FileNotFound(container, name, "does not exist (any more): nothing to submit")
    if ctx.records.get_open(key) is not None:
        raise ActionRefused(
            f"{container}/{name} (version {etag}) is in flight already", f"`watch {container}/{name}` follows it"
        )
    final = ctx.records.get_final(key)
    if final is None:
        raise ActionRefused(
            f"{container}/{name} (version {etag}) has no record yet",
            "its event may still come: `show` it again in a minute",
        )
    if final.outcome not in RETRYABLE:
        raise ActionRefused(
            f"{container}/{name} (version {etag}) ended {final.outcome}: nothing to retry",
            "drop a new version to translate it again",
        )
    if _fails_again(final):
        raise ActionRefused(
            f"{container}/{name} (version {etag}) was rejected for the file itself ({final.reason_code}: "
            f"{final.reason_message}); it can only fail again",
            "upload a new version of the file",
        )
    reopened = lifecycle.reopen(ctx, final)
    if reopened is None:
        raise ActionRefused(f"{container}/{name} (version {etag}) was reopened meanwhile", "`watch` it")
    _plan_now(ctx, [reopened])
    return final


def retry_failed(ctx: PipelineContext, *, since: timedelta | None = None) -> list[FinalRecord]:
    """Submits again every recorded version (finished since `since`) that did not succeed and can,
    if it is still the file's current version: not one an operator cancelled, not one rejected for
    its own bytes or name."""
    reopened: list[FinalRecord] = []
    records: list[OpenRecord] = []
    for final in ctx.records.finals(since=ctx.now() - since if since else None):
        if final.outcome not in RETRYABLE_IN_BULK or _fails_again(final):
            continue
        _, key = current_key(ctx, final.source_container, final.source_name)
        if key != final.key or ctx.records.get_open(key) is not None:
            continue
        record = lifecycle.reopen(ctx, final)
        if record is not None:
            reopened.append(final)
            records.append(record)
    _plan_now(ctx, records)
    return reopened


def _plan_now(ctx: PipelineContext, records: list[OpenRecord]) -> None:
    """The poll plans a reopened version at its next tick, up to a POLL_SCHEDULE away: handed to the
    poll_shard function now (any instance), as a busy tick hands out its work."""
    entries = [DueEntry(record.claimed_at, DueKind.RECORD, record.key) for record in records]
    for start in range(0, len(entries), SHARD_ENTRIES):
        ctx.storage.poll_shards_queue.send_message(shard_message(entries[start : start + SHARD_ENTRIES]))


def _fails_again(final: FinalRecord) -> bool:
    """Rejected for the file's own bytes or name (empty, too large, no format, too long a name)."""
    if final.outcome is not Outcome.REJECTED or final.reason_code is None:
        return False
    try:
        return ReasonCode(final.reason_code).about_the_file
    except ValueError:
        return False


def cancel(ctx: PipelineContext, source_path: str) -> str:
    """Takes the current version out of its job; it ends Cancelled, nothing of it is published.
    A job shared with other files carries on for them; one whose every file was withdrawn is
    cancelled at the service. Returns what was done."""
    container, name = resolve_path(ctx, source_path)
    _, key = current_key(ctx, container, name)
    if key is None:
        raise FileNotFound(container, name, "does not exist: nothing to cancel")
    record = ctx.records.get_open(key)
    if record is None:
        raise ActionRefused(
            f"{container}/{name} has nothing in flight", f"`show {container}/{name}` tells how it ended"
        )
    if record.state == State.FINISHING:
        raise ActionRefused(f"{container}/{name} is finished and being recorded", "`show` it in a few seconds")
    if record.state == State.WAITING or record.submission is None:
        withdrawn = lifecycle.withdraw(ctx, record, OPERATOR)
        if withdrawn is None or grouping.finish_withdrawn(ctx, withdrawn) is None:
            raise ActionRefused(f"{container}/{name} changed meanwhile", "look again (`show`)")
        return "it had no job yet; recorded as Cancelled"
    if lifecycle.withdraw(ctx, record, OPERATOR) is None:
        raise ActionRefused(f"{container}/{name} changed meanwhile", "look again (`show`)")
    submission = submissions.withdraw_member(ctx, record.submission, record.key)
    if submission is None or submission.job_id is None:
        return "taken out of its submission; it ends Cancelled"
    if not submission.all_withdrawn:
        others = len(submission.members) - len(submission.withdrawn)
        return (
            f"taken out of job {submission.job_id}, which carries on for {others} other files; it ends Cancelled "
            "when the job ends (documents already done are still billed)"
        )
    try:
        ctx.translator.cancel_translation(submission.job_id)
    except (InvalidRequestError, NotFoundError) as exc:
        raise ActionRefused(
            f"job {submission.job_id} can no longer be cancelled ({exc})", "it is being recorded: `show` it soon"
        ) from exc
    # A cancelled job writes nothing more: no event announces its end, so a look is promised.
    translation_written.promise_look(ctx, submission.id)
    return f"asked the service to cancel job {submission.job_id}; the file ends Cancelled once the service stops it"


@dataclass
class Redrive:
    results: int = 0  # messages moved back to the results queue
    drops: int = 0  # poisoned drops submitted again
    events: int = 0  # dead-lettered BlobCreated events replayed
    looks: int = 0  # of those, and of the poisoned: translations written, their jobs looked at again
    skipped: list[str] = field(default_factory=list)


def redrive(ctx: PipelineContext, *, dead_letter_container: str = DEAD_LETTER_CONTAINER) -> Redrive:
    """Each message or event once: it is deleted when redriven."""
    done = Redrive()
    results = ctx.storage.results_queue
    for queue in (ctx.storage.poison_queue, _queue(ctx, ctx.settings.poison_queue + POISON_SUFFIX)):
        for message in _drain(queue):
            try:
                ResultMessage.from_text(message.content)
            except MalformedResultMessage:
                done.skipped.append(f"{queue.queue_name}: not one of ours")
            else:
                results.send_message(message.content)
                done.results += 1
            queue.delete_message(message)
    for queue in (ctx.storage.blob_trigger_poison_queue, _queue(ctx, BLOB_TRIGGER_POISON_QUEUE + POISON_SUFFIX)):
        for message in _drain(queue):
            try:
                poisoned = PoisonedBlob.from_text(message.content)
            except MalformedPoisonMessage:
                done.skipped.append(f"{queue.queue_name}: not a blob trigger message")
            else:
                _submit(ctx, poisoned.container, poisoned.name, done, "drops")
            queue.delete_message(message)
    dead_letters = ctx.storage.container(dead_letter_container)
    try:
        blobs = [blob.name for blob in dead_letters.list_blobs()]
    except ResourceNotFoundError:
        blobs = []
    for blob_name in blobs:
        try:
            events = json.loads(dead_letters.download_blob(blob_name).readall())
        except ValueError:
            done.skipped.append(f"{dead_letter_container}/{blob_name}: not JSON")
            continue
        for event in events if isinstance(events, list) else [events]:
            container, name = _blob_of(event)
            if container is None or name is None:
                done.skipped.append(f"{dead_letter_container}/{blob_name}: an event that is not BlobCreated")
                continue
            _submit(ctx, container, name, done, "events")
        dead_letters.delete_blob(blob_name)
    return done


def _submit(ctx: PipelineContext, container: str, name: str, done: Redrive, counter: str) -> None:
    if container == ctx.settings.target_container:
        # A translation's write: its job is looked at (the poll's backstop would, within its tick).
        if translation_written.notice_translation_written(ctx, name) is translation_written.Notice.NOT_STAGING:
            done.skipped.append(f"{container}/{name}: not a staging name")
        else:
            done.looks += 1
        return
    if container != ctx.settings.source_container:
        done.skipped.append(f"{container}/{name}: not in the source container")
        return
    submit_dropped_blob(ctx.storage.container(container).get_blob_client(name), ctx)
    setattr(done, counter, getattr(done, counter) + 1)


def _blob_of(event: Any) -> tuple[str | None, str | None]:
    if not isinstance(event, dict) or (event.get("eventType") or event.get("type")) != BLOB_CREATED:
        return None, None
    subject = str(event.get("subject") or "")
    marker = "/blobServices/default/containers/"
    if not subject.startswith(marker) or "/blobs/" not in subject:
        return None, None
    container, _, name = subject[len(marker) :].partition("/blobs/")
    return container, name


def _queue(ctx: PipelineContext, name: str) -> Any:
    return ctx.storage.queue(name)


def _drain(queue: Any) -> Iterator[Any]:
    """Every message now in the queue (each received once: the caller deletes it)."""
    while True:
        try:
            messages = list(queue.receive_messages(max_messages=32, visibility_timeout=300))
        except ResourceNotFoundError:
            return
        if not messages:
            return
        yield from messages
