"""Find the job a submission's start call created when its answer never arrived.

Every member's documents are written to staging names that carry its record key and attempt
(storage/blob_names.py), so a job the service lists belongs to exactly one attempt of one
submission: never an earlier version of a file, never another attempt. One document of a job is
enough to tell whose it is, so each candidate costs one call, whatever the job's size.

The search is narrowed to the attempts' own time window (jobs created while they ran, on the
service's clock), so its cost follows how many jobs were created in those seconds, not how many
the resource has.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from urllib.parse import unquote

from shared.pipeline.context import PipelineContext
from shared.storage.blob_names import staging_owner
from shared.storage.schedule_table import Submission
from shared.translator import is_final_status

logger = logging.getLogger(__name__)

# How far apart our clock and the service's may be. Measured from the service's Date headers when
# the client has seen one (a second's resolution, plus the time a request takes); else generous.
CLOCK_MARGIN_MEASURED = timedelta(seconds=5)
CLOCK_MARGIN_UNMEASURED = timedelta(minutes=2)
JOBS_PER_PAGE = 50


@dataclass
class Search:
    found: dict[str, str] = field(default_factory=dict)  # submission id -> job id
    # A job in the window lists no documents yet and is not final: it may be one we look for.
    unidentified: list[str] = field(default_factory=list)
    list_calls: int = 0
    document_calls: int = 0


def find_submission_jobs(ctx: PipelineContext, submissions: Sequence[Submission]) -> Search:
    """Submission id -> the job its current attempt created, for those whose job the service lists."""
    search = Search()
    if not submissions:
        return search
    offset = ctx.translator.clock_offset
    margin = CLOCK_MARGIN_MEASURED if offset is not None else CLOCK_MARGIN_UNMEASURED
    shift = offset or timedelta(0)
    longest = timedelta(seconds=ctx.settings.submission_max_seconds)
    starts = [item.attempt_started_at or item.created_at for item in submissions]
    ends = [item.attempt_ended_at or start + longest for item, start in zip(submissions, starts, strict=True)]
    created_after = min(starts) + shift - margin
    created_before = max(ends) + shift + margin
    wanted = {(member.key, member.attempt): item.id for item in submissions for member in item.members}

    pages = ctx.translator.list_translation_statuses(
        created_after=created_after, created_before=created_before, order_by="asc", max_page_size=JOBS_PER_PAGE
    ).by_page()
    for page in pages:
        search.list_calls += 1
        for job in page.items:
            documents = list(ctx.translator.list_document_statuses(job.id, top=1, max_page_size=1))
            search.document_calls += 1
            if not documents:
                if not is_final_status(job.status):
                    search.unidentified.append(job.id)
                continue
            owner = staging_owner(unquote(documents[0].target_path or ""))
            submission_id = wanted.get(owner) if owner else None
            if submission_id is not None:
                search.found[submission_id] = job.id
        if len(search.found) == len(submissions):
            break
    logger.info(
        "looked for %d submissions' jobs created %s..%s: %d found, %d unidentified, %d + %d calls",
        len(submissions),
        created_after.isoformat(),
        created_before.isoformat(),
        len(search.found),
        len(search.unidentified),
        search.list_calls,
        search.document_calls,
    )
    return search
