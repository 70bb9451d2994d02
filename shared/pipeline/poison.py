"""Messages that ended in a poison queue: every drop still ends with a record that says so.

- `<RESULTS_QUEUE>-poison`: recording a finished record failed `maxDequeueCount` times. The open
  record is flagged with the reason; the poller hands it over again later (an hour), so a passing
  cause (a storage outage) heals by itself, and a lasting one stays flagged.
- `webjobs-blobtrigger-poison`: the blob trigger failed `extensions.blobs.poisonBlobThreshold` times
  (default 5) for a blob, maybe before its record existed. Those retries come back at once (the
  Blobs extension's trigger queue has no visibility timeout, and `extensions.queues` does not apply),
  so only a fault lasting through all of them lands here. The version is claimed here if it was not, flagged, and left
  waiting: the poller submits it when due.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.pipeline import grouping, lifecycle
from shared.pipeline.context import PipelineContext
from shared.redaction import redact
from shared.storage.record_keys import record_key, unquoted_etag
from shared.storage.records import SourceVersion, State
from shared.storage.results_queue import MalformedResultMessage, ResultMessage
from shared.storage.schedule_table import DueEntry, DueKind
from shared.telemetry import Event, file_fields, source_fields

logger = logging.getLogger(__name__)


class MalformedPoisonMessage(ValueError):
    """A message on the blob trigger's poison queue that the blobs extension did not write."""


@dataclass(frozen=True)
class PoisonedBlob:
    """The blobs extension's poison message: which blob version its trigger gave up on."""

    container: str
    name: str
    etag: str
    function_id: str | None

    @classmethod
    def from_text(cls, text: str) -> PoisonedBlob:
        try:
            data: Any = json.loads(text)
            return cls(
                container=str(data["ContainerName"]),
                name=str(data["BlobName"]),
                etag=unquoted_etag(data.get("ETag") or ""),
                function_id=data.get("FunctionId"),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedPoisonMessage(f"not a blob trigger poison message: {redact(text[:200])!r}") from exc


def record_poisoned_result(message_text: str, ctx: PipelineContext) -> None:
    try:
        message = ResultMessage.from_text(message_text)
    except MalformedResultMessage:
        logger.error(
            "a message that is not ours reached the results poison queue and is dropped: %s",
            redact(message_text[:200]),
            extra={"event": Event.POISON.value},
        )
        return
    record = ctx.records.get_open(message.key)
    if record is None:
        if ctx.records.get_final(message.key) is not None:
            logger.info("%s (%s) was recorded after all; poison message dropped", message.source_name, message.key)
        else:
            logger.error(
                "a poisoned results message names record %s (%s), which does not exist",
                message.key,
                message.source_name,
                extra={"event": Event.POISON.value, "record_key": message.key},
            )
        return
    reason = (
        f"recording failed {ctx.settings.results_queue} maxDequeueCount times (last error: "
        f"{record.last_error or 'see the function logs'}); it is tried again every hour"
    )
    logger.error(
        "%s (version %s) could not be recorded; its message reached the poison queue",
        record.source_name,
        record.source_etag,
        extra=file_fields(record, event=Event.POISON),
    )
    lifecycle.flag(ctx, record, reason)
    # Its hand-over is repeated after the flagged delay: a passing cause heals, a lasting one stays flagged.
    ctx.schedule.put_due(DueEntry(ctx.now() + lifecycle.REQUEUE_FLAGGED_AFTER, DueKind.RECORD, record.key))


def record_poisoned_drop(message_text: str, ctx: PipelineContext) -> None:
    poisoned = PoisonedBlob.from_text(message_text)
    settings = ctx.settings
    if poisoned.container == settings.target_container:
        logger.warning(
            "noticing the translation written to %s/%s failed until its retries ran out; the poll looks at its job",
            poisoned.container,
            poisoned.name,
            extra={"event": Event.POISON.value},
        )
        return
    if poisoned.container != settings.source_container:
        logger.info("poisoned blob %s/%s is not in the source container; ignored", poisoned.container, poisoned.name)
        return
    reason = (
        f"the blob trigger failed for {poisoned.container}/{poisoned.name} (version {poisoned.etag}) until its "
        "retries ran out; it is submitted again by the poller"
    )
    key = record_key(poisoned.container, poisoned.name, poisoned.etag)
    logger.error(
        "submission of %s (version %s) reached the blob trigger's poison queue",
        poisoned.name,
        poisoned.etag,
        extra=source_fields(poisoned.container, poisoned.name, poisoned.etag, event=Event.POISON, key=key),
    )
    if ctx.records.get_final(key) is not None:
        return
    record = ctx.records.get_open(key)
    if record is not None:
        # Claimed already: the poller follows it from its state (an attempt may have made a job).
        lifecycle.flag(ctx, record, reason)
        return
    blob = ctx.storage.container(poisoned.container).get_blob_client(poisoned.name)
    try:
        properties = blob.get_blob_properties()
        modified, size = properties.last_modified, int(properties.size or 0)
        current_etag: str | None = unquoted_etag(properties.etag)
    except ResourceNotFoundError:
        modified, size, current_etag = None, 0, None
    source = SourceVersion(poisoned.container, poisoned.name, poisoned.etag, modified, size)
    claimed = lifecycle.claim(ctx, source, state=State.WAITING, plan=None)
    if claimed is None:
        return  # claimed meanwhile by a late delivery: that one carries on
    if current_etag is None:
        grouping.finish_source_gone(ctx, claimed)
    else:
        # No attempt was made for this version: it is planned (then grouped and submitted) when due.
        lifecycle.wait_for_plan(ctx, claimed, reason, attention=reason)
