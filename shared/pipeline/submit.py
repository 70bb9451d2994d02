"""Submit on drop: one translation batch per dropped source version, exactly once.

Event Grid delivers at least once, sometimes concurrently. The open record inserted in the
job table before the service is called is the claim: only the delivery that inserts it goes
on; every other delivery of the same (container, name, ETag) stops there.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient

from shared.pipeline.checks import (
    Rejection,
    RejectionCode,
    check_document,
    extension_of,
    target_languages,
)
from shared.pipeline.context import PipelineContext
from shared.pipeline.glossaries import find_glossaries
from shared.redaction import redact
from shared.settings import RetranslatePolicy
from shared.storage import results_queue
from shared.storage.job_table import OpenJob, Outcome, State, source_key
from shared.translator import (
    AuthenticationError,
    Glossary,
    InvalidRequestError,
    PermissionDeniedError,
    SubmissionUncertainError,
    TranslationInput,
    TranslationTarget,
    TranslatorError,
)

logger = logging.getLogger(__name__)

# Set by the record function on every translation it recorded: which source version made it.
TRANSLATED_FROM_METADATA_KEY = "translatedfrom"


@dataclass(frozen=True)
class SubmitResult:
    action: str  # submitted | rejected | duplicate | ignored | pending
    key: str | None = None
    job_id: str | None = None
    reason: str | None = None


def target_blob_name(language: str, source_name: str) -> str:
    """`<lang>/<source path>`: languages never collide in the target container."""
    return f"{language}/{source_name}"


def submit_dropped_blob(blob: BlobClient, ctx: PipelineContext) -> SubmitResult:
    settings = ctx.settings
    container, name = blob.container_name, blob.blob_name
    if container != settings.source_container:
        logger.warning("ignoring %s/%s: not in the source container %s", container, name, settings.source_container)
        return SubmitResult("ignored", reason="not in the source container")
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        # Deleted between the event and now: nothing left to translate, nothing to record.
        logger.warning("%s/%s was deleted before it could be submitted; nothing to do", container, name)
        return SubmitResult("ignored", reason="deleted before submission")

    etag = str(properties.etag).strip('"')
    key = source_key(container, name, etag)
    if ctx.jobs.get_final(key) is not None:
        logger.info("%s (version %s) already recorded; duplicate event ignored", name, etag)
        return SubmitResult("duplicate", key=key)

    size = int(properties.size or 0)
    languages = target_languages(properties.metadata or {}, settings.target_languages)
    rejection = languages if isinstance(languages, Rejection) else None
    if rejection is None:
        rejection = check_document(name, size, ctx.formats.document_extensions())
    glossaries: dict[str, str] = {}
    if rejection is None:
        glossaries = find_glossaries(
            ctx.storage.container(settings.glossary_container),
            languages,  # type: ignore[arg-type]
            settings.source_language,
            ctx.formats.glossary_formats(),
        )

    now = ctx.now()
    job = OpenJob(
        key=key,
        source_container=container,
        source_name=name,
        source_etag=etag,
        source_url=ctx.access.blob_url(container, name),
        content_length=size,
        languages=[] if rejection else list(languages),  # type: ignore[arg-type]
        glossaries=glossaries,
        state=State.FINISHING if rejection else State.SUBMITTING,
        intent_at=now,
        outcome=Outcome.REJECTED if rejection else None,
        reason_code=rejection.code if rejection else None,
        reason_message=rejection.message if rejection else None,
        enqueued_at=now if rejection else None,
    )
    claimed = ctx.jobs.claim(job)
    if claimed is None:
        logger.info("%s (version %s) is already being handled; duplicate event ignored", name, etag)
        return SubmitResult("duplicate", key=key)
    if ctx.jobs.get_final(key) is not None:
        # A slow duplicate can claim after the first delivery finished and removed its claim.
        ctx.jobs.delete_open(key)
        logger.info("%s (version %s) was recorded meanwhile; duplicate event ignored", name, etag)
        return SubmitResult("duplicate", key=key)

    if rejection:
        logger.warning("rejected %s before submission: %s (%s)", name, rejection.code, rejection.message)
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(key, name))
        return SubmitResult("rejected", key=key, reason=rejection.code)
    return start_job(ctx, claimed)


def start_job(ctx: PipelineContext, job: OpenJob) -> SubmitResult:
    """Call the service for a claimed record and record what came of it. Never raises for the
    service's answers: the record says what happened, and the poller carries on from there."""
    rejection = _apply_retranslate_policy(ctx, job)
    if rejection is not None:
        return _finish_without_job(ctx, job, Outcome.REJECTED, rejection.code, rejection.message)
    try:
        job_id = ctx.translator.start_translation([_translation_input(ctx, job)])
    except SubmissionUncertainError as exc:
        logger.warning("submission of %s is uncertain (%s); the poller will reconcile it", job.source_name, exc)
        ctx.jobs.update(replace(job, state=State.UNCERTAIN, last_error=redact(str(exc))))
        return SubmitResult("pending", key=job.key, reason="uncertain")
    except (AuthenticationError, PermissionDeniedError) as exc:
        logger.error(
            "the service refused our credentials for %s (%s): check TRANSLATOR_KEY / the app identity's role; "
            "the poller will retry",
            job.source_name,
            exc,
        )
        ctx.jobs.update(
            replace(job, last_error=redact(str(exc)), needs_attention=True, attention_reason=redact(str(exc)))
        )
        return SubmitResult("pending", key=job.key, reason="unauthorized")
    except InvalidRequestError as exc:
        # The service refused this batch outright: no job exists and retrying cannot help.
        return _finish_without_job(
            ctx, job, Outcome.FAILED, exc.inner_code or exc.code or "InvalidRequest", exc.message
        )
    except TranslatorError as exc:
        logger.warning("could not submit %s yet (%s); the poller will retry", job.source_name, exc)
        ctx.jobs.update(replace(job, last_error=redact(str(exc))))
        return SubmitResult("pending", key=job.key, reason="service unavailable")

    updated = ctx.jobs.update(
        replace(job, state=State.SUBMITTED, job_id=job_id, submitted_at=ctx.now(), last_error=None)
    )
    if updated is None:
        _undo_duplicate_job(ctx, job, job_id)
        return SubmitResult("duplicate", key=job.key, job_id=job_id)
    logger.info(
        "submitted %s (version %s) as job %s: %s",
        job.source_name,
        job.source_etag,
        job_id,
        ", ".join(job.languages),
    )
    return SubmitResult("submitted", key=job.key, job_id=job_id)


def _finish_without_job(ctx: PipelineContext, job: OpenJob, outcome: str, code: str, message: str) -> SubmitResult:
    logger.warning("%s ends %s without a job: %s (%s)", job.source_name, outcome, code, message)
    finishing = replace(
        job,
        state=State.FINISHING,
        outcome=outcome,
        reason_code=code,
        reason_message=redact(message),
        enqueued_at=ctx.now(),
    )
    if ctx.jobs.update(finishing) is not None:
        results_queue.send(ctx.storage.results_queue, results_queue.ResultMessage(job.key, job.source_name))
    return SubmitResult("rejected" if outcome == Outcome.REJECTED else "failed", key=job.key, reason=code)


def _undo_duplicate_job(ctx: PipelineContext, job: OpenJob, job_id: str) -> None:
    # Someone else took this record over while our start call was running (it outlived the
    # reconcile delay). Their job stands; ours would translate the file twice.
    current = ctx.jobs.get_open(job.key)
    if current is not None and current.job_id == job_id:
        return
    logger.error("job %s for %s duplicates another submission; cancelling it", job_id, job.source_name)
    try:
        ctx.translator.cancel_job(job_id)
    except TranslatorError as exc:
        logger.error("could not cancel duplicate job %s: %s", job_id, exc)


def _apply_retranslate_policy(ctx: PipelineContext, job: OpenJob) -> Rejection | None:
    """The service fails a document whose target exists. Translations this app recorded for an
    earlier version of the file carry `translatedfrom`; they are replaced or kept as the policy
    says. A target file the app did not write is never touched: the service reports it."""
    settings = ctx.settings
    target = ctx.storage.container(settings.target_container)
    for language in job.languages:
        blob = target.get_blob_client(target_blob_name(language, job.source_name))
        try:
            metadata = blob.get_blob_properties().metadata or {}
        except ResourceNotFoundError:
            continue
        made_from = metadata.get(TRANSLATED_FROM_METADATA_KEY)
        if made_from is None or made_from == job.source_etag:
            continue
        if settings.retranslate_policy is RetranslatePolicy.KEEP:
            return Rejection(
                RejectionCode.ALREADY_TRANSLATED,
                f"{blob.blob_name} holds the translation of an earlier version and RETRANSLATE_POLICY=keep",
            )
        logger.info("replacing %s (translated from version %s)", blob.blob_name, made_from)
        try:
            blob.delete_blob()
        except ResourceNotFoundError:
            pass
    return None


def _translation_input(ctx: PipelineContext, job: OpenJob) -> TranslationInput:
    settings = ctx.settings
    access = ctx.access
    glossary_formats = ctx.formats.glossary_formats() if job.glossaries else {}
    targets = []
    for language in job.languages:
        glossaries: tuple[Glossary, ...] = ()
        glossary_name = job.glossaries.get(language)
        if glossary_name:
            glossaries = (
                Glossary(
                    url=access.glossary_url(settings.glossary_container, glossary_name),
                    format=glossary_formats[extension_of(glossary_name)],
                ),
            )
        targets.append(
            TranslationTarget(
                url=access.target_url(settings.target_container, target_blob_name(language, job.source_name)),
                language=language,
                category=settings.translation_category,
                glossaries=glossaries,
            )
        )
    return TranslationInput(
        source_url=access.source_url(job.source_container, job.source_name),
        targets=tuple(targets),
        storage_type="File",
        source_language=settings.source_language,
    )
