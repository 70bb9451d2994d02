"""Record outcome: the one writer of final records and reports.

Safe to run twice on the same message: the final record is upserted, the report overwritten,
and a message whose record is already final is acknowledged without doing anything.
"""

from __future__ import annotations

import json
import logging
from dataclasses import replace
from urllib.parse import unquote, urlsplit

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContentSettings

from shared.pipeline.context import PipelineContext
from shared.pipeline.submit import TRANSLATED_FROM_METADATA_KEY
from shared.redaction import redact, strip_query
from shared.storage.job_table import DocumentOutcome, FinalRecord, OpenJob, Outcome
from shared.storage.results_queue import ResultMessage
from shared.translator import JobStatus, Status

logger = logging.getLogger(__name__)


class RecordNotFound(LookupError):
    """A results message for a record that is neither open nor final."""


def report_blob_name(source_name: str) -> str:
    return f"{source_name}.json"


def record_outcome(message_text: str, ctx: PipelineContext) -> FinalRecord | None:
    message = ResultMessage.from_text(message_text)
    job = ctx.jobs.get_open(message.key)
    if job is None:
        if ctx.jobs.get_final(message.key) is not None:
            logger.info("%s (%s) is already recorded; repeated message acknowledged", message.source_name, message.key)
            return None
        raise RecordNotFound(f"no job record {message.key} for {message.source_name!r}")

    record = _final_record(ctx, job)
    _write_report(ctx, record)
    ctx.jobs.put_final(record)
    _mark_translations(ctx, job, record)
    ctx.jobs.delete_open(job.key)
    logger.info(
        "recorded %s (version %s): %s, %d/%d documents translated, %d characters charged",
        job.source_name,
        job.source_etag,
        record.outcome,
        record.succeeded,
        record.total,
        record.characters_charged,
    )
    return record


def mark_needs_attention(message_text: str, error: BaseException, ctx: PipelineContext) -> None:
    """Called when a message fails for the last time, before the host moves it to the poison queue."""
    reason = redact(f"recording failed repeatedly ({type(error).__name__}: {error}); message moved to the poison queue")
    try:
        message = ResultMessage.from_text(message_text)
    except ValueError:
        logger.error("unreadable results message goes to the poison queue: %s", redact(message_text[:200]))
        return
    job = ctx.jobs.get_open(message.key)
    if job is None:
        logger.error("results message for unknown record %s goes to the poison queue", message.key)
        return
    ctx.jobs.update(replace(job, needs_attention=True, attention_reason=reason))
    logger.error("%s (%s) needs attention: %s", job.source_name, job.key, reason)


def _final_record(ctx: PipelineContext, job: OpenJob) -> FinalRecord:
    documents: list[DocumentOutcome] = []
    status: JobStatus | None = None
    outcome, reason_code, reason_message = job.outcome, job.reason_code, job.reason_message
    if outcome is None and job.job_id:
        status = ctx.translator.get_job(job.job_id)
        documents = [
            DocumentOutcome(
                language=doc.language,
                status=doc.status,
                target_path=strip_query(doc.target_path) if doc.target_path else None,
                source_path=strip_query(doc.source_path) if doc.source_path else None,
                document_id=doc.id,
                characters_charged=doc.characters_charged,
                error_code=(doc.error.inner_code or doc.error.code) if doc.error else None,
                error_message=redact(doc.error.inner_message or doc.error.message) if doc.error else None,
            )
            for doc in ctx.translator.list_documents(job.job_id)
        ]
        documents.sort(key=lambda doc: doc.language)
        outcome = _outcome(status, documents)
        if status.error is not None:
            reason_code = status.error.inner_code or status.error.code
            reason_message = redact(status.error.inner_message or status.error.message)
        else:
            failed = next((doc for doc in documents if doc.error_code), None)
            if failed is not None:
                reason_code, reason_message = failed.error_code, failed.error_message
    succeeded = sum(1 for doc in documents if doc.status == Status.SUCCEEDED)
    failed_count = sum(1 for doc in documents if doc.status in (Status.FAILED, Status.VALIDATION_FAILED))
    cancelled = sum(1 for doc in documents if doc.status == Status.CANCELLED)
    characters = sum(doc.characters_charged for doc in documents)
    if status is not None and status.summary.total_character_charged:
        characters = max(characters, status.summary.total_character_charged)
    return FinalRecord(
        key=job.key,
        source_container=job.source_container,
        source_name=job.source_name,
        source_etag=job.source_etag,
        outcome=outcome or Outcome.FAILED,
        languages=list(job.languages),
        job_id=job.job_id,
        job_status=status.status if status else None,
        reason_code=reason_code,
        reason_message=reason_message,
        total=len(documents),
        succeeded=succeeded,
        failed=failed_count,
        cancelled=cancelled,
        characters_charged=characters,
        documents=documents,
        report_blob=f"{ctx.settings.reports_container}/{report_blob_name(job.source_name)}",
        intent_at=job.intent_at,
        finished_at=ctx.now(),
        needs_attention=job.needs_attention,
        attention_reason=job.attention_reason,
    )


def _outcome(status: JobStatus, documents: list[DocumentOutcome]) -> str:
    if status.status == Status.CANCELLED:
        return Outcome.CANCELLED
    if status.status in (Status.FAILED, Status.VALIDATION_FAILED):
        return Outcome.FAILED
    succeeded = sum(1 for doc in documents if doc.status == Status.SUCCEEDED)
    if succeeded == 0:
        return Outcome.FAILED
    if succeeded < len(documents) or status.summary.failed > 0:
        return Outcome.PARTIALLY_SUCCEEDED
    return Outcome.SUCCEEDED


def _write_report(ctx: PipelineContext, record: FinalRecord) -> None:
    blob = ctx.storage.container(ctx.settings.reports_container).get_blob_client(report_blob_name(record.source_name))
    body = json.dumps(record.to_json(), indent=2, sort_keys=True)
    blob.upload_blob(
        body.encode("utf-8"),
        overwrite=True,
        content_settings=ContentSettings(content_type="application/json"),
    )


def _mark_translations(ctx: PipelineContext, job: OpenJob, record: FinalRecord) -> None:
    """Stamp each translation with the source version it came from (see the retranslate policy)."""
    target = ctx.storage.container(ctx.settings.target_container)
    prefix = f"/{ctx.settings.target_container}/"
    for document in record.documents:
        if document.status != Status.SUCCEEDED or not document.target_path:
            continue
        path = unquote(urlsplit(document.target_path).path)
        if prefix not in path:
            continue
        name = path.split(prefix, 1)[1]
        try:
            target.get_blob_client(name).set_blob_metadata({TRANSLATED_FROM_METADATA_KEY: job.source_etag})
        except ResourceNotFoundError:
            logger.warning("translation %s reported by the service is not in %s", name, ctx.settings.target_container)
