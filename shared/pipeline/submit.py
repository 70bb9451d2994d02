"""Submit on drop: one translation job per dropped source version, exactly once.

Event Grid delivers at least once, sometimes concurrently. The open record inserted in the
records table is the claim: only the delivery that inserts it goes on; every other delivery of
the same (container, name, ETag) stops there. The claim comes first, before anything that can
fail for reasons outside the file (the service refusing our credentials, say), so every drop has
a record that says what happened or what it waits for.

Storage calls around the one POST: read the blob's properties, insert the claim, check no final
record exists, write the job id. The service's formats and languages and the glossary names are
looked up once per process for a bounded time (see PipelineContext).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass, replace

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient

from shared.pipeline import lifecycle
from shared.pipeline.checks import (
    Rejection,
    RejectionCode,
    canonical_languages,
    check_document,
    check_target_names,
    choose_glossaries,
    extension_of,
    requested_languages,
    supported_languages,
)
from shared.pipeline.context import PipelineContext
from shared.pipeline.lifecycle import SourceVersion
from shared.settings import RetranslatePolicy
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY, staging_blob_name, target_blob_name
from shared.storage.record_table import OpenRecord, Outcome
from shared.telemetry import Event, file_fields, source_fields
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

CREDENTIALS_REFUSED = (
    "the Translator refused the app's credentials: check TRANSLATOR_KEY (and TRANSLATOR_REGION), or the app "
    "identity's Cognitive Services User role; waiting files are submitted once it works"
)


@dataclass(frozen=True)
class SubmitResult:
    action: str  # submitted | rejected | failed | duplicate | ignored | pending
    key: str | None = None
    job_id: str | None = None
    reason: str | None = None


@dataclass(frozen=True)
class Plan:
    """What one attempt sends: the languages (in the service's spelling) and their glossaries."""

    languages: list[str]
    glossaries: dict[str, str]


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
        logger.info(
            "%s/%s was deleted before it could be submitted; nothing to do",
            container,
            name,
            extra=source_fields(container, name, event=Event.CLAIMED),
        )
        return SubmitResult("ignored", reason="deleted before submission")

    source = SourceVersion(
        container=container,
        name=name,
        etag=str(properties.etag).strip('"'),
        modified=properties.last_modified,
        size=int(properties.size or 0),
    )
    claimed = lifecycle.claim(ctx, source)
    # A late duplicate may find no claim: this version was recorded and its open record removed.
    duplicate = "claimed" if claimed is None else ("recorded" if ctx.records.get_final(source.key) else None)
    if duplicate is not None:
        if claimed is not None:
            ctx.records.delete_open(source.key, claimed.etag)
        logger.info(
            "%s (version %s) is %s already; duplicate event ignored",
            name,
            source.etag,
            duplicate,
            extra=source_fields(container, name, source.etag, key=source.key, event=Event.CLAIMED),
        )
        return SubmitResult("duplicate", key=source.key)
    assert claimed is not None
    return start_attempt(ctx, claimed, properties.metadata or {})


def start_attempt(ctx: PipelineContext, record: OpenRecord, metadata: Mapping[str, str]) -> SubmitResult:
    """Plan and submit one attempt of a claimed record, and record what came of it. Never raises for
    the service's answers: the record says what happened, and the poller carries on from there."""
    try:
        plan = _plan(ctx, record, metadata)
    except (AuthenticationError, PermissionDeniedError) as exc:
        lifecycle.wait(ctx, record, exc, attention=CREDENTIALS_REFUSED)
        return SubmitResult("pending", key=record.key, reason="credentials refused")
    except TranslatorError as exc:
        lifecycle.wait(ctx, record, exc)
        return SubmitResult("pending", key=record.key, reason="service unavailable")
    if isinstance(plan, Rejection):
        lifecycle.reject(ctx, record, plan)
        return SubmitResult("rejected", key=record.key, reason=plan.code)

    try:
        job_id = ctx.translator.start_translation([_translation_input(ctx, record, plan)])
    except SubmissionUncertainError as exc:
        lifecycle.uncertain(ctx, record, exc, languages=plan.languages, glossaries=plan.glossaries)
        return SubmitResult("pending", key=record.key, reason="uncertain")
    except (AuthenticationError, PermissionDeniedError) as exc:
        lifecycle.wait(ctx, record, exc, attention=CREDENTIALS_REFUSED)
        return SubmitResult("pending", key=record.key, reason="credentials refused")
    except InvalidRequestError as exc:
        # The service refused this job outright: none exists, and the same request would be refused again.
        code = exc.inner_code or exc.code or "InvalidRequest"
        lifecycle.finish(ctx, record, outcome=Outcome.FAILED, code=code, message=str(exc))
        return SubmitResult("failed", key=record.key, reason=code)
    except TranslatorError as exc:
        # Refused before a job was made (429 past the retry budget, connection refused): try again later.
        lifecycle.wait(ctx, record, exc)
        return SubmitResult("pending", key=record.key, reason="service unavailable")

    updated = lifecycle.submitted(ctx, record, job_id, languages=plan.languages, glossaries=plan.glossaries)
    if updated is None:
        _undo_duplicate_job(ctx, record, job_id)
        return SubmitResult("duplicate", key=record.key, job_id=job_id)
    return SubmitResult("submitted", key=record.key, job_id=job_id)


def retry_submission(ctx: PipelineContext, record: OpenRecord) -> SubmitResult:
    """Submit a record again (the poller does, when it is due): its last attempt made no job, or
    made none the service can find after the attempt could no longer create one."""
    blob = ctx.storage.container(record.source_container).get_blob_client(record.source_name)
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        lifecycle.finish(
            ctx,
            record,
            outcome=Outcome.CANCELLED,
            code="SourceDeleted",
            message="the file was deleted before it could be translated",
        )
        return SubmitResult("failed", key=record.key, reason="SourceDeleted")
    if str(properties.etag).strip('"') != record.source_etag:
        # The blob now holds a newer version, which has a record of its own.
        lifecycle.finish(
            ctx,
            record,
            outcome=Outcome.SUPERSEDED,
            code="NewerVersion",
            message=f"the file was replaced (now version {str(properties.etag).strip(chr(34))}) before this "
            "version could be translated",
        )
        return SubmitResult("failed", key=record.key, reason="NewerVersion")
    # What the blob says now, for the checks (an operator's resubmission starts from the final record).
    current = replace(record, content_length=int(properties.size or 0), source_modified=properties.last_modified)
    attempt = lifecycle.begin_attempt(ctx, current)
    if attempt is None:
        return SubmitResult("duplicate", key=record.key)
    logger.info(
        "submitting %s (version %s) again: attempt %d",
        record.source_name,
        record.source_etag,
        attempt.attempt,
        extra=file_fields(attempt, event=Event.CLAIMED),
    )
    return start_attempt(ctx, attempt, properties.metadata or {})


def _plan(ctx: PipelineContext, record: OpenRecord, metadata: Mapping[str, str]) -> Plan | Rejection:
    """Languages and glossaries for this version, or why it is rejected. Raises TranslatorError when
    the service cannot be asked what it supports."""
    settings = ctx.settings
    requested = requested_languages(metadata, settings.target_languages)
    if isinstance(requested, Rejection):
        return requested
    supported = ctx.languages.get()
    languages = canonical_languages(requested) if supported is None else supported_languages(requested, supported)
    if isinstance(languages, Rejection):
        return languages
    rejection = check_document(record.source_name, record.content_length, ctx.document_extensions.get())
    rejection = rejection or check_target_names(record.source_name, languages)
    rejection = rejection or _retranslate_policy(ctx, record, languages)
    if rejection is not None:
        return rejection
    glossary_names = ctx.glossary_names.get()
    glossaries = (
        choose_glossaries(glossary_names, languages, settings.source_language, ctx.glossary_formats.get())
        if glossary_names
        else {}
    )
    return Plan(list(languages), glossaries)


def _retranslate_policy(ctx: PipelineContext, record: OpenRecord, languages: tuple[str, ...]) -> Rejection | None:
    """With RETRANSLATE_POLICY=keep, a new version of a file this app translated before is rejected.
    (With `replace`, the default, the new translations replace the old ones when they are complete.)"""
    if ctx.settings.retranslate_policy is not RetranslatePolicy.KEEP:
        return None
    target = ctx.storage.container(ctx.settings.target_container)
    for language in languages:
        blob = target.get_blob_client(target_blob_name(language, record.source_name))
        try:
            made_from = (blob.get_blob_properties().metadata or {}).get(TRANSLATED_FROM_METADATA_KEY)
        except ResourceNotFoundError:
            continue
        if made_from is not None and made_from != record.source_etag:
            return Rejection(
                RejectionCode.ALREADY_TRANSLATED,
                f"{blob.blob_name} holds the translation of an earlier version and RETRANSLATE_POLICY=keep",
            )
    return None


def _translation_input(ctx: PipelineContext, record: OpenRecord, plan: Plan) -> TranslationInput:
    settings = ctx.settings
    access = ctx.access
    glossary_formats = ctx.glossary_formats.get() if plan.glossaries else {}
    targets = []
    for language in plan.languages:
        glossaries: tuple[Glossary, ...] = ()
        glossary_name = plan.glossaries.get(language)
        if glossary_name:
            glossaries = (
                Glossary(
                    url=access.glossary_url(settings.glossary_container, glossary_name),
                    format=glossary_formats[extension_of(glossary_name)],
                ),
            )
        staging = staging_blob_name(record.key, record.attempt, language, record.source_name)
        targets.append(
            TranslationTarget(
                url=access.target_url(settings.target_container, staging),
                language=language,
                category=settings.translation_category,
                glossaries=glossaries,
            )
        )
    return TranslationInput(
        source_url=access.source_url(record.source_container, record.source_name),
        targets=tuple(targets),
        storage_type="File",
        source_language=settings.source_language,
    )


def _undo_duplicate_job(ctx: PipelineContext, record: OpenRecord, job_id: str) -> None:
    # Someone else took this record over while our start call was running (it outlived the
    # reconcile delay). Their attempt stands; ours would translate the file twice.
    current = ctx.records.get_open(record.key)
    if current is not None and current.job_id == job_id:
        return
    logger.error(
        "job %s for %s duplicates another attempt; cancelling it",
        job_id,
        record.source_name,
        extra=file_fields(record, event=Event.NEEDS_ATTENTION, job_id=job_id),
    )
    try:
        ctx.translator.cancel_job(job_id)
    except TranslatorError as exc:
        logger.error("could not cancel duplicate job %s: %s", job_id, exc)
