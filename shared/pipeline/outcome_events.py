"""Outcome events: every final record tells downstream systems what became of its file.

One CloudEvents 1.0 event per final record, sent to the sink OUTCOME_EVENTS names (a storage
queue, an Event Grid custom topic, or none). Never fire and forget: the event's intent is written
with the final record, in the same transaction (outcome_outbox.py); the record step then sends it and
marks it sent. A send that fails leaves the intent and puts an entry in the schedule, so the poll's
tick (whose one query reads what is due anyway: an idle tick still costs one query) tries again a
minute on, until it goes through; a repeated results message sends it too. Should even that entry
not be written, the record step fails and the host delivers its message again. The event's id is
the record key and the outcome, the same on every send, so a consumer drops a duplicate by its id.
Recording never waits for the sink: the final record is written first.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Protocol

from shared.redaction import redact
from shared.settings import OutcomeEventSink, Settings
from shared.storage.blob_names import target_blob_name
from shared.storage.outcome_outbox import OutcomeEventIntent
from shared.storage.records import FinalRecord, Outcome
from shared.storage.schedule_table import DueEntry, DueKind
from shared.telemetry import Event, file_fields, metrics
from shared.translator import Status

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential
    from azure.storage.queue import QueueClient

    from shared.pipeline.context import PipelineContext

logger = logging.getLogger(__name__)

EVENT_TYPE = "translation.file.recorded"
SPEC_VERSION = "1.0"
# An owed event is tried again (by the poll, once due) this long after a send failed.
OWED_RETRY = timedelta(minutes=1)


class OutcomeSink(Protocol):
    def send(self, envelope: Mapping[str, Any]) -> None:
        """Sends one event; raises when it did not go through."""


class QueueSink:
    """A storage queue: the JSON envelope as the message, base64 like every queue of the app (the
    queue client's encode policy), so a queue-triggered function reads it as it is."""

    def __init__(self, queue: QueueClient):
        self._queue = queue

    def send(self, envelope: Mapping[str, Any]) -> None:
        self._queue.send_message(json.dumps(envelope, separators=(",", ":"), ensure_ascii=False))

    def __repr__(self) -> str:
        return f"QueueSink({self._queue.queue_name!r})"


class EventGridSink:
    """An Event Grid custom topic, reached with the app's identity (role EventGrid Data Sender, no
    key). The publisher client is built on the first send, never at import or wiring."""

    def __init__(self, endpoint: str, credential: TokenCredential):
        self._endpoint = endpoint
        self._credential = credential
        self._client: Any = None
        self._lock = threading.Lock()

    def _publisher(self) -> Any:
        with self._lock:
            if self._client is None:
                from azure.eventgrid import EventGridPublisherClient

                self._client = EventGridPublisherClient(self._endpoint, self._credential)
            return self._client

    def send(self, envelope: Mapping[str, Any]) -> None:
        from azure.core.messaging import CloudEvent

        self._publisher().send([CloudEvent.from_dict(dict(envelope))])

    def __repr__(self) -> str:
        return f"EventGridSink({self._endpoint!r})"


def sink_for(ctx: PipelineContext) -> OutcomeSink | None:
    """The sink the settings name; None: OUTCOME_EVENTS=none."""
    settings = ctx.settings
    if settings.outcome_events is OutcomeEventSink.QUEUE:
        return QueueSink(ctx.storage.outcome_queue)
    if settings.outcome_events is OutcomeEventSink.EVENTGRID and settings.outcome_topic_endpoint:
        return EventGridSink(settings.outcome_topic_endpoint, ctx.storage.credential)
    return None


def event_source(settings: Settings) -> str:
    """The CloudEvents `source`: the app, named by its records' storage account."""
    return f"/translation/{settings.storage.account_name or 'drop-folder-translation'}"


def event_id(final: FinalRecord) -> str:
    """The same for every send of one record's outcome: a consumer drops duplicates by it."""
    return f"{final.key}:{final.outcome}"


@dataclass(frozen=True)
class _Target:
    language: str
    status: str | None
    target_path: str | None  # where the translation is published (None: not published)

    def as_json(self) -> dict[str, Any]:
        return {"language": self.language, "status": self.status, "target_path": self.target_path}


def envelope(settings: Settings, final: FinalRecord) -> dict[str, Any]:
    """The CloudEvents 1.0 envelope (structured JSON) of one final record."""
    source_path = f"{final.source_container}/{final.source_name}"
    return {
        "specversion": SPEC_VERSION,
        "type": EVENT_TYPE,
        "source": event_source(settings),
        "id": event_id(final),
        "time": final.finished_at.isoformat(),
        "subject": source_path,
        "datacontenttype": "application/json",
        "data": {
            "source_path": source_path,
            "source_version": final.source_etag,
            "record_key": final.key,
            "outcome": str(final.outcome),
            "reason_code": final.reason_code,
            "reason_message": final.reason_message,
            "languages": [target.as_json() for target in _targets(settings, final)],
            "report_path": final.report_blob,
            "characters_charged": final.characters_charged,
        },
    }


def _targets(settings: Settings, final: FinalRecord) -> list[_Target]:
    def published_path(language: str) -> str:
        return f"{settings.target_container}/{target_blob_name(language, final.source_name)}"

    if final.language_outcomes:
        return [
            _Target(outcome.language, outcome.status, published_path(outcome.language) if outcome.published else None)
            for outcome in final.language_outcomes
        ]
    # A version sharing the translations of its file's version still in flight has no documents of its own.
    shares = final.outcome is Outcome.REUSED
    return [
        _Target(language, Status.SUCCEEDED if shares else None, published_path(language) if shares else None)
        for language in final.languages
    ]


def intent_for(ctx: PipelineContext, final: FinalRecord) -> OutcomeEventIntent | None:
    """What the final record owes, written with it; None when no sink is configured."""
    if ctx.settings.outcome_events is OutcomeEventSink.NONE:
        return None
    return OutcomeEventIntent(final.key, envelope(ctx.settings, final), owed_at=ctx.now())


def send(ctx: PipelineContext, intent: OutcomeEventIntent) -> bool:
    """Sends one owed event and marks it sent; False (logged) when the sink refused or was out of
    reach, or the event went but could not be marked sent: the intent stays for the next try. Never
    raises."""
    sink = ctx.outcome_sink
    if sink is None:
        return False
    data = intent.envelope.get("data", {})
    fields = {
        "record_key": intent.key,
        "source_path": data.get("source_path"),
        "source_version": data.get("source_version"),
        "outcome": data.get("outcome"),
        "reason_code": data.get("reason_code"),
        "outcome_event_id": intent.event_id,
    }
    try:
        sink.send(intent.envelope)
    except Exception as exc:
        logger.warning(
            "the outcome event of %s (%s) could not be sent to %r (%s); it stays owed and is sent again",
            data.get("source_path"),
            intent.key,
            sink,
            redact(f"{type(exc).__name__}: {exc}"),
            extra=file_fields(event=Event.OUTCOME_EVENT, sent=False, **fields),
        )
        metrics.count("translation.outcome_events.failed", description="Outcome event sends that failed")
        return False
    try:
        ctx.records.event_sent(intent)
    except Exception as exc:
        # Sent, not yet marked: it is sent again later, under the same id (a duplicate consumers drop).
        logger.warning(
            "the outcome event of %s (%s) was sent but could not be marked sent (%s); it is sent again",
            data.get("source_path"),
            intent.key,
            redact(f"{type(exc).__name__}: {exc}"),
            extra=file_fields(event=Event.OUTCOME_EVENT, sent=True, **fields),
        )
        return False
    logger.info(
        "sent the outcome event of %s (%s): %s",
        data.get("source_path"),
        intent.key,
        data.get("outcome"),
        extra=file_fields(event=Event.OUTCOME_EVENT, sent=True, **fields),
    )
    metrics.count("translation.outcome_events.sent", description="Outcome events sent")
    return True


def send_or_try_later(ctx: PipelineContext, intent: OutcomeEventIntent) -> None:
    """The record step's send. One that does not go through is put in the schedule for the poll; if
    that cannot be written either (storage unreachable), this raises, so the host delivers the
    results message again and its event is sent then."""
    if not send(ctx, intent):
        try_later(ctx, intent.key)


def try_later(ctx: PipelineContext, key: str) -> None:
    ctx.schedule.put_due(DueEntry(ctx.now() + OWED_RETRY, DueKind.OUTCOME_EVENT, key))


def send_owed_for(ctx: PipelineContext, key: str) -> bool:
    """A results message for a record already final (repeated, or retried after the send failed):
    the event it still owes, if any, is sent (or put in the schedule again). One point read."""
    if ctx.outcome_sink is None:
        return False
    intent = ctx.records.get_unsent_event(key)
    if intent is None:
        return False
    send_or_try_later(ctx, intent)
    return True


def send_due(ctx: PipelineContext, entry: DueEntry) -> bool:
    """The poll's part, for an entry the record step left when a send failed: the event still owed
    (one point read) is sent and the entry removed, or the entry moves a minute on. True when sent."""
    intent = ctx.records.get_unsent_event(entry.target) if ctx.outcome_sink is not None else None
    if intent is None:
        # Sent since (a repeated message), or no sink any more (OUTCOME_EVENTS=none): nothing owed here.
        ctx.schedule.remove_due([entry])
        return False
    if send(ctx, intent):
        ctx.schedule.remove_due([entry])
        return True
    try_later(ctx, entry.target)  # first: should the removal fail, it is tried twice, never lost
    ctx.schedule.remove_due([entry])
    return False
