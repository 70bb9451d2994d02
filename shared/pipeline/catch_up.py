"""Catch-up: submit source blobs whose event never arrived (lost, dead-lettered, or refused
while storage was down), so nothing dropped is lost.

Each run lists the source container once and looks closer only at blobs written since the
previous run's watermark (less an overlap for clock skew) and at least `CATCH_UP_AFTER_SECONDS`
ago (their event had time to arrive). Such a blob with no record, open or final, is submitted
the normal way (a late event for it finds the claim and stops). Cost per run: one list call per
5,000 source blobs, two point reads per blob written in the window, and one of the failure fact below.

A listing that fails (storage down, a name the storage emulator cannot write into its answer) is
no reason to skip anything: the watermark stays where it was, so the next run looks at the same
window again, and the failure is kept as a fact (`catch-up-failing`, since when and why) that
`translation-ops status` shows and the needs-attention alert fires on, until a listing succeeds.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta

from shared.pipeline import grouping
from shared.pipeline.context import PipelineContext
from shared.pipeline.submit import submit_dropped_blob
from shared.redaction import redact
from shared.storage.app_state import Trouble
from shared.storage.records import ReasonCode, SourceVersion, State
from shared.storage.schedule_table import Plan
from shared.telemetry import Event, source_fields
from shared.text import cut

logger = logging.getLogger(__name__)

WATERMARK = "catch-up-watermark"
LISTING_FAILING = "catch-up-failing"
# The next run is the listing's retry, a schedule away: the SDK's own retries of a refused page would
# hold the run for over a minute, then fail all the same.
LISTING_RETRIES = 1
# Storage stamps Last-Modified with its clock, the watermark comes from ours.
CLOCK_OVERLAP = timedelta(minutes=5)


@dataclass
class CatchUpSummary:
    listed: int = 0
    examined: int = 0
    submitted: int = 0
    list_calls: int = 0
    record_reads: int = 0
    rewaited: int = 0
    # Why the listing stopped short (the watermark then stays for the next run); None when complete.
    listing_failed: str | None = None


def catch_up_missed_drops(ctx: PipelineContext) -> CatchUpSummary:
    summary = CatchUpSummary()
    settings = ctx.settings
    now = ctx.now()
    cutoff = now - timedelta(seconds=settings.catch_up_after_seconds)
    watermark = ctx.records.state.get_moment(WATERMARK)
    since = watermark - CLOCK_OVERLAP if watermark is not None else None
    source = ctx.storage.container(settings.source_container)
    pages = source.list_blobs(retry_total=LISTING_RETRIES).by_page()
    while True:
        try:
            summary.list_calls += 1
            page = list(next(pages))
        except StopIteration:
            summary.list_calls -= 1
            break
        except Exception as exc:
            # The SDK's message spans lines (status, error code, body): one line, for a table row.
            described = "; ".join(line.strip() for line in redact(str(exc)).splitlines() if line.strip())
            summary.listing_failed = f"{type(exc).__name__}: {described}"
            _report_listing_failure(ctx, summary, settings.source_container)
            return summary
        for blob in page:
            summary.listed += 1
            modified = blob.last_modified
            if modified is None or modified > cutoff or (since is not None and modified <= since):
                continue
            summary.examined += 1
            version = SourceVersion.of(settings.source_container, blob.name, blob)
            key = version.key
            summary.record_reads += 1
            record = ctx.records.get_open(key)
            if record is not None:
                if record.state is State.WAITING and record.plan is not None and not record.withdrawn:
                    # Claimed, but its claimer died before it could wait to be grouped: it waits now.
                    plan = Plan.of(
                        record.languages,
                        record.glossaries,
                        category=settings.translation_category,
                        source_language=settings.source_language,
                    )
                    if plan.digest == record.plan:
                        grouping.wait(ctx, record, plan)
                        summary.rewaited += 1
                continue
            summary.record_reads += 1
            if ctx.records.get_final(key) is not None:
                continue
            logger.warning(
                "%s (version %s) was written at %s and has no record: its event never arrived; submitting it",
                blob.name,
                blob.etag,
                modified.isoformat(),
                extra=source_fields(version.container, version.name, version.etag, event=Event.CATCH_UP, key=key),
            )
            submit_dropped_blob(source.get_blob_client(blob.name), ctx)
            summary.submitted += 1
    ctx.records.state.set_moment(WATERMARK, cutoff)
    _clear_listing_failure(ctx, settings.source_container)
    logger.info(
        "catch-up: %d source blobs listed in %d calls, %d written in the window, %d had no record and were submitted",
        summary.listed,
        summary.list_calls,
        summary.examined,
        summary.submitted,
        extra={"event": Event.CATCH_UP.value},
    )
    return summary


def _report_listing_failure(ctx: PipelineContext, summary: CatchUpSummary, container: str) -> None:
    now = ctx.now()
    reason = cut(summary.listing_failed) or "the listing failed"
    earlier = ctx.records.state.get_trouble(LISTING_FAILING)
    since = earlier.since if earlier is not None else now
    ctx.records.state.set_trouble(LISTING_FAILING, Trouble(since=since, reason=reason, last_attempt=now))
    logger.error(
        "catch-up needs attention: listing container %s failed after %d pages (%d blobs, %d submitted), "
        "failing since %s: %s; the watermark stays, the next run lists again",
        container,
        summary.list_calls - 1,
        summary.listed,
        summary.submitted,
        since.isoformat(),
        reason,
        extra={
            "event": Event.NEEDS_ATTENTION.value,
            "reason_code": ReasonCode.CATCH_UP_LISTING_FAILED.value,
            "source_path": f"{container}/",
            "failing_since": since.isoformat(),
        },
    )


def _clear_listing_failure(ctx: PipelineContext, container: str) -> None:
    earlier = ctx.records.state.get_trouble(LISTING_FAILING)
    if earlier is None:
        return
    ctx.records.state.clear_trouble(LISTING_FAILING)
    logger.info(
        "catch-up lists container %s again (it failed from %s to %s: %s)",
        container,
        earlier.since.isoformat(),
        earlier.last_attempt.isoformat(),
        earlier.reason,
        extra={"event": Event.CATCH_UP.value},
    )
