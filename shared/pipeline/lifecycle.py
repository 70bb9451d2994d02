"""A record's lifecycle: every change of an open record, as named transitions.

    claim ──► Waiting ──group──► Grouped ──(its submission's job ends)── finish_members ──┐
               │  ▲                 │                                                   │
               │  └──── ungroup ────┘ (its submission was refused, split or lost)       ▼
               └── reject / finish (no job: rejected, superseded, cancelled) ──────► Finishing
                                                                                        │
                                         requeue (hand-over lost) ◄─────────────────────┤ finalise
                                                                                        ▼
                                                                   final record (partition `final`)

A record's job is followed by its submission (submissions.py), which groups the files of one plan
into one start call; the record only says which submission it belongs to. Every transition is an
ETag-guarded write of the open record; it returns the updated record, or None when another
invocation changed the record first (that invocation owns what happens next). A transition into
Finishing also hands the record to the results queue, after the write; a hand-over lost to a crash
is repeated by the poller (a record's own place in the schedule, or its submission's).
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

from shared.pipeline import outcome_events
from shared.pipeline.budget import BUDGET_EXCEEDED_ATTENTION
from shared.pipeline.checks import Rejection
from shared.pipeline.context import PipelineContext
from shared.pipeline.reuse import Found
from shared.redaction import redact
from shared.storage import results_queue
from shared.storage.attention import CLEARED, flagged, flagged_if, kept
from shared.storage.records import FinalRecord, OpenRecord, Outcome, ReasonCode, SourceVersion, State
from shared.storage.schedule_table import DueEntry, DueKind, Member, Plan, Submission
from shared.telemetry import Event, file_fields, metrics, source_fields
from shared.text import cut

logger = logging.getLogger(__name__)

# A record handed to the results queue but still open after this long is handed over again...
REQUEUE_AFTER = timedelta(minutes=10)
# ... and one whose recording failed until its message went to the poison queue, after this long.
REQUEUE_FLAGGED_AFTER = timedelta(hours=1)
# A version that could not be planned (the service's formats or languages out of reach) is planned
# again after these delays, then every last one.
REPLAN_BACKOFF = (timedelta(seconds=5), timedelta(seconds=15), timedelta(seconds=60), timedelta(minutes=5))
# Hand-overs to the record step go out this many at a time.
PARALLEL_HAND_OVERS = 16
# The queue stamps a message with its own clock, which may be this far from ours.
QUEUE_CLOCK_SKEW = timedelta(minutes=1)


# --- before the service is called ---------------------------------------------------------


def claim(
    ctx: PipelineContext, source: SourceVersion, *, state: State, plan: Plan | None, **more: object
) -> OpenRecord | None:
    """Insert the open record of a source version; None when it is already claimed (a duplicate event)."""
    values: dict[str, object] = {
        "languages": list(plan.languages) if plan else [],
        "glossaries": plan.glossary_names if plan else {},
        "glossary_notes": dict(plan.glossary_notes) if plan else {},
        "plan": plan.digest if plan else None,
        "rule": plan.rule if plan else None,
        "rules_version": plan.rules_version if plan else None,
        **more,
    }
    return _insert(ctx, OpenRecord.new(source, state=state, at=ctx.now(), **values))


def _insert(ctx: PipelineContext, record: OpenRecord) -> OpenRecord | None:
    claimed = ctx.records.claim(record)
    if claimed is not None:
        logger.info(
            "claimed %s (version %s) as record %s",
            record.source_name,
            record.source_etag,
            record.key,
            extra=file_fields(claimed, event=Event.CLAIMED),
        )
    return claimed


def wait_for_plan(
    ctx: PipelineContext, record: OpenRecord, error: BaseException | str, *, attention: str | None = None
) -> OpenRecord | None:
    """What the version is sent with could not be worked out (the service's formats or languages out of
    reach): planned again when due. `attention` flags a cause an operator must fix (credentials)."""
    now = ctx.now()
    cause = cut(redact(str(error)))
    delay = REPLAN_BACKOFF[min(record.attempts, len(REPLAN_BACKOFF) - 1)]
    ctx.schedule.put_due(DueEntry(now + delay, DueKind.RECORD, record.key))
    waiting = replace(
        record,
        state=State.WAITING,
        plan=None,
        attempts=record.attempts + 1,
        last_error=cause,
        **flagged_if(record, attention),
    )
    updated = ctx.records.update(waiting)
    if updated is not None:
        level = logging.ERROR if attention else logging.WARNING
        logger.log(
            level,
            "%s (version %s) could not be planned (%s); trying again in %ds%s",
            record.source_name,
            record.source_etag,
            cause,
            delay.total_seconds(),
            f": {attention}" if attention else "",
            extra=file_fields(updated, event=Event.NEEDS_ATTENTION if attention else Event.WAITING),
        )
    return updated


def wait_for_budget(ctx: PipelineContext, record: OpenRecord, spends: Sequence[Any]) -> OpenRecord | None:
    """Submitting the version would pass the character budget: it keeps waiting (its place in the
    plan's queue kept), flagged BudgetExceeded, until the window turns or the budget is raised."""
    spent = ", ".join(f"{item.window.name}: {item.spent} of {item.window.budget}" for item in spends)
    updated = ctx.records.update(
        replace(
            record,
            reason_code=ReasonCode.BUDGET_EXCEEDED,
            reason_message=cut(f"estimated {record.estimated_characters} characters; spent {spent}"),
            **flagged(BUDGET_EXCEEDED_ATTENTION),
        )
    )
    if updated is not None:
        logger.warning(
            "%s (version %s) waits for the character budget (estimated %s characters; %s)",
            record.source_name,
            record.source_etag,
            record.estimated_characters,
            spent,
            extra=file_fields(updated, event=Event.NEEDS_ATTENTION, reason_code=ReasonCode.BUDGET_EXCEEDED),
        )
    return updated


def planned(ctx: PipelineContext, record: OpenRecord, plan: Plan) -> OpenRecord | None:
    """A version that waited for its plan has one now: it waits to be grouped."""
    return ctx.records.update(
        replace(
            record,
            state=State.WAITING,
            plan=plan.digest,
            languages=list(plan.languages),
            glossaries=plan.glossary_names,
            glossary_notes=dict(plan.glossary_notes),
            rule=plan.rule,
            rules_version=plan.rules_version,
            last_error=None,
            **CLEARED,
        )
    )


def ungroup(ctx: PipelineContext, record: OpenRecord, reason: str) -> OpenRecord | None:
    """Its submission will not carry it (refused, split, or lost before it was written): it waits to
    be grouped again."""
    updated = ctx.records.update(replace(record, state=State.WAITING, submission=None, last_error=cut(reason)))
    if updated is not None:
        logger.info(
            "%s (version %s) waits to be grouped again: %s",
            record.source_name,
            record.source_etag,
            reason,
            extra=file_fields(updated, event=Event.WAITING),
        )
    return updated


def flag(ctx: PipelineContext, record: OpenRecord, reason: str) -> OpenRecord | None:
    """Mark a record as needing an operator's attention (it keeps its state)."""
    flag_fields = flagged(reason)
    if kept(record) == flag_fields:
        return record
    updated = ctx.records.update(replace(record, **flag_fields))
    if updated is not None:
        logger.error(
            "%s (version %s) needs attention: %s",
            record.source_name,
            record.source_etag,
            updated.attention_reason,  # as stored: redacted
            extra=file_fields(updated, event=Event.NEEDS_ATTENTION, reason_code=ReasonCode.NEEDS_ATTENTION),
        )
    return updated


def supersede(ctx: PipelineContext, record: OpenRecord, newer: OpenRecord) -> OpenRecord | None:
    """A newer version of the same file arrived: this one will not be published."""
    updated = ctx.records.update(replace(record, superseded_by=newer.key))
    if updated is not None:
        logger.info(
            "%s: version %s supersedes version %s, which will not be published",
            record.source_name,
            newer.source_etag,
            record.source_etag,
            extra=file_fields(updated, event=Event.SUPERSEDED),
        )
    return updated


def withdraw(ctx: PipelineContext, record: OpenRecord, who: str) -> OpenRecord | None:
    """An operator takes a version out of its job: nothing of it is published."""
    return ctx.records.update(replace(record, cancelled_by=who))


# --- into Finishing: the outcome is decided -------------------------------------------------


def finish(
    ctx: PipelineContext, record: OpenRecord, *, outcome: Outcome, code: ReasonCode | str, message: str
) -> OpenRecord | None:
    """Hand a record whose outcome is decided without a job (rejected, superseded before submission,
    cancelled, failed) to the record step, with a ReasonCode or the service's own code (a refused start
    call). Its place in the schedule comes first, so that a hand-over lost to a crash is repeated."""
    now = ctx.now()
    ctx.schedule.put_due(DueEntry(now + REQUEUE_AFTER, DueKind.RECORD, record.key))
    decided = replace(
        record,
        state=State.FINISHING,
        outcome=outcome,
        reason_code=code,
        reason_message=cut(redact(message)),
        enqueued_at=now,
    )
    updated = ctx.records.update(decided)
    if updated is not None:
        hand_over(ctx, [updated])
    return updated


def reject(ctx: PipelineContext, record: OpenRecord, rejection: Rejection) -> OpenRecord | None:
    updated = finish(ctx, record, outcome=Outcome.REJECTED, code=rejection.code, message=rejection.message)
    if updated is not None:
        logger.info(
            "rejected %s before submission: %s (%s)",
            record.source_name,
            rejection.code,
            rejection.message,
            extra=file_fields(updated, event=Event.REJECTED, outcome=Outcome.REJECTED, reason_code=rejection.code),
        )
    return updated


def claim_finished(
    ctx: PipelineContext,
    source: SourceVersion,
    plan: Plan | None,
    *,
    outcome: Outcome,
    code: ReasonCode | str,
    message: str,
    **more: object,
) -> OpenRecord | None:
    """A drop whose outcome is decided before any job: claimed straight into Finishing (one write),
    with its place in the schedule first, and handed to the record step."""
    now = ctx.now()
    ctx.schedule.put_due(DueEntry(now + REQUEUE_AFTER, DueKind.RECORD, source.key))
    claimed = claim(
        ctx,
        source,
        state=State.FINISHING,
        plan=plan,
        outcome=outcome,
        reason_code=code,
        reason_message=cut(message),
        enqueued_at=now,
        **more,
    )
    if claimed is not None:
        hand_over(ctx, [claimed])
    return claimed


def claim_rejected(
    ctx: PipelineContext,
    source: SourceVersion,
    rejection: Rejection,
    languages: Sequence[str],
    *,
    rule: str | None = None,
    rules_version: str | None = None,
) -> OpenRecord | None:
    """A drop refused before any job (`rule`, `rules_version`: the folder rule it got)."""
    claimed = claim_finished(
        ctx,
        source,
        None,
        outcome=Outcome.REJECTED,
        code=rejection.code,
        message=rejection.message,
        languages=list(languages),
        rule=rule,
        rules_version=rules_version,
    )
    if claimed is not None:
        # A rejection is the product working as designed: INFO, with the reason for the user.
        logger.info(
            "rejected %s before submission: %s (%s)",
            source.name,
            rejection.code,
            rejection.message,
            extra=file_fields(claimed, event=Event.REJECTED, outcome=Outcome.REJECTED, reason_code=rejection.code),
        )
    return claimed


def claim_reused(ctx: PipelineContext, source: SourceVersion, plan: Plan, found: Found) -> OpenRecord | None:
    """A drop whose bytes and plan were translated before; the record step copies the translations."""
    claimed = claim_finished(
        ctx,
        source,
        plan,
        outcome=Outcome.REUSED,
        code=found.code,
        message=found.message,
        reused_from=found.reused_from,
        reused_etag=found.reused_etag,
        reuse=dict(found.targets),
        characters_saved=found.characters_saved,
    )
    if claimed is not None:
        logger.info(
            "%s (version %s) reuses translations: %s",
            source.name,
            source.etag,
            found.message,
            extra=file_fields(claimed, event=Event.REUSED, outcome=Outcome.REUSED, reason_code=found.code),
        )
    return claimed


def reuse_unavailable(ctx: PipelineContext, record: OpenRecord, cause: str) -> OpenRecord | None:
    """The translations a version was to reuse are gone or changed: it is planned, and translated,
    the normal way."""
    plain = replace(
        record,
        outcome=None,
        reason_code=None,
        reason_message=None,
        reused_from=None,
        reused_etag=None,
        reuse={},
        characters_saved=0,
        enqueued_at=None,
    )
    return wait_for_plan(ctx, plain, f"{cause}; it will be translated")


def hand_over(ctx: PipelineContext, records: Sequence[OpenRecord]) -> None:
    """Tells the record step about records written Finishing (after the write: a hand-over made for a
    record that is not Finishing would be acknowledged and lost)."""

    def send(record: OpenRecord) -> None:
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(record.key, record.source_name))
        logger.info(
            "%s (version %s) is %s; handed over for recording",
            record.source_name,
            record.source_etag,
            record.job_status if record.outcome is None else f"{record.outcome} ({record.reason_code})",
            extra=file_fields(record, event=Event.FINISHING, outcome=record.outcome, reason_code=record.reason_code),
        )

    if len(records) <= 1:
        for record in records:
            send(record)
        return
    with ThreadPoolExecutor(max_workers=PARALLEL_HAND_OVERS, thread_name_prefix="hand-over") as pool:
        list(pool.map(send, records))


def hand_over_members(ctx: PipelineContext, submission: Submission, members: Sequence[Member]) -> None:
    """Tells the record step about a job's members, written Finishing."""

    def send(member: Member) -> None:
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(member.key, member.name))
        logger.info(
            "%s is %s; handed over for recording",
            member.name,
            submission.job_status or "lost",
            extra=source_fields(
                submission.container, member.name, key=member.key, event=Event.FINISHING, job_id=submission.job_id
            ),
        )

    with ThreadPoolExecutor(max_workers=PARALLEL_HAND_OVERS, thread_name_prefix="hand-over") as pool:
        list(pool.map(send, members))


def requeue(ctx: PipelineContext, record: OpenRecord, *, schedule: bool = True) -> OpenRecord | None:
    """The hand-over to the record step was lost (or failed for long): hand it over again, and look
    again later (`schedule`: in its own place; a member's submission looks for it instead)."""
    now = ctx.now()
    if schedule:
        after = REQUEUE_FLAGGED_AFTER if record.needs_attention else REQUEUE_AFTER
        ctx.schedule.put_due(DueEntry(now + after, DueKind.RECORD, record.key))
    updated = ctx.records.update(replace(record, enqueued_at=now))
    if updated is not None:
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(record.key, record.source_name))
        logger.info(
            "%s (version %s) handed over for recording again",
            record.source_name,
            record.source_etag,
            extra=file_fields(updated, event=Event.FINISHING),
        )
    return updated


class RecordStepBacklog:
    """Whether the record step has yet to reach a hand-over: a bulk's thousands of hand-overs can
    take longer than REQUEUE_AFTER to record, and sending them again would only lengthen the queue.
    The queue is asked once, and only when some hand-over is due again."""

    def __init__(self, ctx: PipelineContext) -> None:
        self._ctx = ctx

    @functools.cached_property
    def oldest_waiting(self) -> datetime | None:
        return results_queue.waiting_since(self._ctx.storage.results_queue)

    def still_waiting(self, record: OpenRecord) -> bool:
        if record.enqueued_at is None:
            return False
        oldest = self.oldest_waiting
        return oldest is not None and oldest <= record.enqueued_at + QUEUE_CLOCK_SKEW


def requeue_due(record: OpenRecord) -> datetime | None:
    """When a Finishing record still open should be handed over again."""
    if record.enqueued_at is None:
        return None
    return record.enqueued_at + (REQUEUE_FLAGGED_AFTER if record.needs_attention else REQUEUE_AFTER)


def finalise(ctx: PipelineContext, record: OpenRecord, final: FinalRecord) -> None:
    """The record step's last act: the final record is written with its outcome event's intent (one
    transaction), the open one removed, then the event sent. A sink that is down delays nothing: the
    intent stays owed, and the poll (a schedule entry) or a repeated message sends it."""
    intent = ctx.records.put_final(final, outcome_events.intent_for(ctx, final))
    ctx.records.delete_open(record.key)
    if intent is not None:
        outcome_events.send_or_try_later(ctx, intent)


# --- an operator's hand ---------------------------------------------------------------------


def reopen(ctx: PipelineContext, final: FinalRecord) -> OpenRecord | None:
    """Submit a recorded version again (its cause passed: a role, a glossary, a setting was fixed).
    It is planned anew by the next poll (what it is sent with may have changed), then grouped. The
    final record stays until the new outcome replaces it; the next attempt has staging names of its
    own. None when the version is open already."""
    record = reopened(final, at=ctx.now())
    ctx.schedule.put_due(DueEntry(record.claimed_at, DueKind.RECORD, record.key))
    claimed = _insert(ctx, record)
    if claimed is not None:
        logger.info(
            "%s (version %s) will be submitted again (it ended %s)",
            final.source_name,
            final.source_etag,
            final.outcome,
            extra=file_fields(claimed, event=Event.CLAIMED),
        )
    return claimed


def reopened(final: FinalRecord, *, at: datetime) -> OpenRecord:
    """The open record of a recorded version submitted again at `at`: waiting to be planned anew,
    counting on from its attempts (the final record keeps no size: the plan reads the blob again)."""
    source = SourceVersion(final.source_container, final.source_name, final.source_etag, final.source_modified, 0)
    return OpenRecord.new(
        source,
        state=State.WAITING,
        at=at,
        attempts=final.attempts,
        last_error=f"submitted again by an operator after {final.outcome} ({final.reason_code or 'no reason'})",
    )


def record_metrics_submitted(count: int) -> None:
    metrics.count("translation.files.submitted", count, description="Source versions submitted to the service")
