"""Find the job an attempt created when its answer never arrived.

Every attempt asks the service to write to staging names that carry the record key and the
attempt number (see storage/blob_names.py), so a job the service lists belongs to exactly one
attempt of one source version: never an earlier version of the same file, never another attempt.

The search is narrowed to the attempt's own time window (jobs created while it ran, on the
service's clock), so its cost follows how many jobs were created in those seconds, not how many
the resource has. Jobs the poller already follows, and jobs too large to be one of ours, are
skipped without listing their documents.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import unquote

from shared.pipeline.context import PipelineContext
from shared.settings import MAX_TARGET_LANGUAGES
from shared.storage.blob_names import staging_marker
from shared.storage.record_table import OpenRecord
from shared.translator import is_final_status

logger = logging.getLogger(__name__)

# How far apart our clock and the service's may be. Measured from the service's Date headers when
# the client has seen one (a second's resolution, plus the time a request takes); else generous.
CLOCK_MARGIN_MEASURED = timedelta(seconds=5)
CLOCK_MARGIN_UNMEASURED = timedelta(minutes=2)
JOBS_PER_PAGE = 50


@dataclass
class Search:
    found: dict[str, str] = field(default_factory=dict)  # record key -> job id
    # A job in the window lists no documents yet and is not final: it may be one we look for.
    unidentified: list[str] = field(default_factory=list)
    list_calls: int = 0
    document_calls: int = 0


def find_attempt_jobs(ctx: PipelineContext, records: list[OpenRecord], known_job_ids: Iterable[str]) -> Search:
    """Record key -> the job its current attempt created, for the records whose job the service lists."""
    search = Search()
    if not records:
        return search
    offset = getattr(ctx.translator, "clock_offset", None)
    margin = CLOCK_MARGIN_MEASURED if isinstance(offset, timedelta) else CLOCK_MARGIN_UNMEASURED
    shift = offset if isinstance(offset, timedelta) else timedelta(0)
    longest = timedelta(seconds=ctx.settings.submission_max_seconds)
    starts = [record.attempt_started_at or record.intent_at for record in records]
    ends = [record.attempt_ended_at or (record.attempt_started_at or record.intent_at) + longest for record in records]
    created_after = min(starts) + shift - margin
    created_before = max(ends) + shift + margin
    wanted = {staging_marker(record.key, record.attempt): record.key for record in records}
    known = set(known_job_ids)

    pages = ctx.translator.list_jobs(
        created_after=created_after, created_before=created_before, order_by="asc", max_page_size=JOBS_PER_PAGE
    ).by_page()
    for page in pages:
        search.list_calls += 1
        for job in page.items:
            if job.id in known or job.summary.total > MAX_TARGET_LANGUAGES:
                continue
            documents = list(ctx.translator.list_documents(job.id))
            search.document_calls += 1
            if not documents:
                if not is_final_status(job.status):
                    search.unidentified.append(job.id)
                continue
            for document in documents:
                path = unquote(document.target_path or "")
                for marker, key in wanted.items():
                    if marker in path:
                        search.found[key] = job.id
            if len(search.found) == len(wanted):
                return search
    logger.info(
        "looked for %d attempts' jobs created %s..%s: %d found, %d unidentified, %d + %d calls",
        len(records),
        created_after.isoformat(),
        created_before.isoformat(),
        len(search.found),
        len(search.unidentified),
        search.list_calls,
        search.document_calls,
    )
    return search
