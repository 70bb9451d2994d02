"""Submit on drop: every dropped source version is claimed once, then submitted - alone at once, or
grouped with the files that land with it (grouping.py).

Event Grid delivers at least once, sometimes concurrently. The open record inserted in the records
table is the claim: only the delivery that inserts it goes on; every other delivery of the same
(container, name, ETag) stops there, or, when the version still waits to be grouped (its claimer
may have died between two writes), makes sure it waits. The claim comes before anything that can
fail for reasons outside the file, so every drop has a record that says what happened or what it
waits for.

Storage calls of a drop submitted alone, around its one start call: read the blob's properties,
take the plan's lease with the submission (one transaction), insert the claim, check no final
record exists; after the call, write the job id (with its place in the schedule), look for older
versions of the file, look for files of its plan that landed meanwhile, let the lease go and look
once more: nine; with REUSE_TRANSLATIONS on, two more before the call (is there a translation of
these bytes and plan, is an earlier version of them in flight: reuse.py). The service's formats
and languages and the glossary names are looked up once per process for a bounded time (see
PipelineContext).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import BlobClient

from shared.pipeline import grouping, lifecycle, reuse, submissions
from shared.pipeline.checks import (
    Rejection,
    canonical_languages,
    check_document,
    check_not_source_language,
    check_target_names,
    choose_glossaries,
    extension_of,
    glossary_notes,
    requested_languages,
    supported_languages,
)
from shared.pipeline.context import LAST_MODIFIED_RESOLUTION, PipelineContext
from shared.pipeline.estimate import estimate_blob
from shared.pipeline.rules import AppliedRule, Rule, RulesInForce
from shared.settings import RetranslatePolicy
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY, target_blob_name
from shared.storage.record_keys import unquoted_etag
from shared.storage.records import OpenRecord, ReasonCode, SourceVersion, State
from shared.storage.schedule_table import Lease, Member, Plan, Submission, SubmissionState
from shared.telemetry import Event, source_fields
from shared.translator import AuthenticationError, PermissionDeniedError, TranslatorError

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SubmitResult:
    action: str  # submitted | waiting | rejected | failed | duplicate | ignored | pending | reused
    key: str | None = None
    job_id: str | None = None
    reason: str | None = None
    submission: str | None = None


@dataclass(frozen=True)
class Unplanned:
    """What the version is sent with cannot be worked out now (the service cannot be asked)."""

    error: BaseException
    attention: str | None = None


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
    source = SourceVersion.of(container, name, properties)
    return submit_version(ctx, source, properties.metadata or {})


def submit_version(ctx: PipelineContext, source: SourceVersion, metadata: Mapping[str, str]) -> SubmitResult:
    # The retranslate policy comes after reuse: the same bytes again are no new version to refuse.
    rules = ctx.rules.get()
    applied = rules.applied_to(source.name)
    planned = plan_for(ctx, source, metadata, policy=False, rules=rules)
    if isinstance(planned, Rejection):
        requested = requested_languages(metadata, _default_languages(ctx, applied))
        languages = list(requested) if isinstance(requested, tuple) else []
        claimed = lifecycle.claim_rejected(
            ctx,
            source,
            planned,
            languages,
            rule=applied.prefix if applied else None,
            rules_version=applied.version if applied else None,
        )
        if claimed is None:
            return _duplicate(ctx, source, None)
        return SubmitResult("rejected", key=source.key, reason=planned.code)
    if isinstance(planned, Unplanned):
        claimed = lifecycle.claim(ctx, source, state=State.WAITING, plan=None)
        if claimed is None or _late_duplicate(ctx, claimed):
            return _duplicate(ctx, source, None)
        lifecycle.wait_for_plan(ctx, claimed, planned.error, attention=planned.attention)
        return SubmitResult("pending", key=source.key, reason="cannot be planned yet")
    if ctx.settings.reuse_translations:
        source = reuse.with_content_hash(ctx, source)
        reused = _reuse(ctx, source, planned)
        if reused is not None:
            return reused
    refused = _retranslate_policy(ctx, source, planned.languages)
    if refused is not None:
        if lifecycle.claim_rejected(ctx, source, refused, planned.languages) is None:
            return _duplicate(ctx, source, None)
        return SubmitResult("rejected", key=source.key, reason=refused.code)
    if ctx.settings.budget_set:
        # Every file is estimated and goes through the grouping step, which holds the plan's lease
        # while it checks the budget (budget.py): files over it wait there in drop order.
        estimate = estimate_blob(
            ctx.storage.container(source.container).get_blob_client(source.name), source.size, len(planned.languages)
        )
        return _wait_to_be_grouped(
            ctx, source, planned, estimated_characters=estimate.characters, estimate_method=estimate.method
        )
    member = Member(source.key, source.name, source.size, attempt=1)
    started = grouping.start_alone(ctx, planned, member, source.container)
    if started is not None:
        return _submit_alone(ctx, source, planned, *started)
    return _wait_to_be_grouped(ctx, source, planned)


def _reuse(ctx: PipelineContext, source: SourceVersion, plan: Plan) -> SubmitResult | None:
    """The same bytes and plan were translated (or are being translated) for another version: it
    is recorded Reused, with copies of those translations, and no job."""
    found = reuse.find(ctx, source, plan)
    if found is None:
        return None
    claimed = lifecycle.claim_reused(ctx, source, plan, found)
    if claimed is None or _late_duplicate(ctx, claimed):
        return _duplicate(ctx, source, None)
    if not found.in_flight:
        # Other bytes of the file still in flight are older than these: they will not be published.
        supersede_older_versions(ctx, claimed)
    return SubmitResult("reused", key=source.key, reason=claimed.reason_code)


def _submit_alone(
    ctx: PipelineContext, source: SourceVersion, plan: Plan, lease: Lease, submission: Submission
) -> SubmitResult:
    """Nobody groups this plan's files: the drop is submitted at once, and its submitter then groups
    whatever landed during the call."""
    claimed = lifecycle.claim(ctx, source, state=State.GROUPED, plan=plan, submission=submission.id, attempts=1)
    if claimed is None or _late_duplicate(ctx, claimed):
        submissions.remove(ctx, submission)  # never started
        result = _duplicate(ctx, source, plan)
        grouping.keep_grouping(ctx, lease)
        return result
    started = grouping.start(ctx, submission)
    supersede_older_versions(ctx, claimed)
    grouping.keep_grouping(ctx, lease)
    if started.action == "submitted":
        return SubmitResult("submitted", key=source.key, job_id=started.job_id, submission=submission.id)
    if started.action == "refused":
        return SubmitResult("failed", key=source.key, submission=submission.id, reason=started.reason)
    return SubmitResult("pending", key=source.key, submission=submission.id, reason=started.reason)


def _wait_to_be_grouped(ctx: PipelineContext, source: SourceVersion, plan: Plan, **estimate: object) -> SubmitResult:
    """Someone groups this plan's files right now (or a budget is set): the drop waits for them (or
    takes over should they have let go meanwhile). `estimate`: its estimated characters and method."""
    claimed = lifecycle.claim(ctx, source, state=State.WAITING, plan=plan, **estimate)
    if claimed is None or _late_duplicate(ctx, claimed):
        return _duplicate(ctx, source, plan)
    grouping.wait(ctx, claimed, plan)
    supersede_older_versions(ctx, claimed)
    _group_if_nobody_does(ctx, plan.digest)
    return SubmitResult("waiting", key=source.key)


def _group_if_nobody_does(ctx: PipelineContext, plan: str) -> None:
    lease = grouping.acquire(ctx, plan)
    if lease is not None:
        grouping.keep_grouping(ctx, lease)


def _late_duplicate(ctx: PipelineContext, claimed: OpenRecord) -> bool:
    """A late duplicate finds no claim when its version was recorded and its open record removed."""
    if ctx.records.get_final(claimed.key) is None:
        return False
    ctx.records.delete_open(claimed.key, claimed.etag)
    return True


def _duplicate(ctx: PipelineContext, source: SourceVersion, plan: Plan | None) -> SubmitResult:
    """Another delivery claimed this version. If it still waits to be grouped (its claimer may have
    died before writing that), it waits now, and is grouped if nobody does."""
    existing = ctx.records.get_open(source.key)
    waits = (
        existing is not None
        and existing.state is State.WAITING
        and plan is not None
        and existing.plan == plan.digest
        and not existing.withdrawn
    )
    # Two late copies of a recorded version's event at once: the claim found is the other copy's,
    # which takes it back once it finds the final record; grouping it would submit the version twice.
    recorded = existing is None or (waits and ctx.records.get_final(source.key) is not None)
    if waits and not recorded and existing is not None and plan is not None:
        grouping.wait(ctx, existing, plan)
        _group_if_nobody_does(ctx, plan.digest)
        return SubmitResult("waiting", key=source.key, reason="claimed already; it waits")
    logger.info(
        "%s (version %s) is %s already; duplicate event ignored",
        source.name,
        source.etag,
        "recorded" if recorded else "claimed",
        extra=source_fields(source.container, source.name, source.etag, key=source.key, event=Event.CLAIMED),
    )
    return SubmitResult("duplicate", key=source.key)


def supersede_older_versions(ctx: PipelineContext, claimed: OpenRecord) -> int:
    """Every open version of the file older than its newest one will not be published: one still
    waiting ends Superseded at once; one in a job leaves it, and the job is cancelled once every file
    in it has left (a job shared with other files carries on for them). Returns how many."""
    versions = ctx.records.open_versions(claimed.source_container, claimed.source_name)
    if len(versions) < 2:
        return 0
    newest = versions[-1]
    superseded = 0
    for older in versions[:-1]:
        if older.withdrawn or older.state is State.FINISHING:
            continue
        updated = lifecycle.supersede(ctx, older, newest)
        if updated is None:
            continue
        superseded += 1
        if updated.state is State.WAITING:
            grouping.finish_withdrawn(ctx, updated)
        elif updated.submission is not None:
            withdraw_from_job(ctx, updated.submission, updated.key)
    return superseded


def withdraw_from_job(ctx: PipelineContext, submission_id: str, key: str) -> None:
    """Takes one member out of its submission's job; cancels the job once every member has left."""
    submission = submissions.withdraw_member(ctx, submission_id, key)
    if submission is None or not submission.all_withdrawn:
        return
    if submission.state is SubmissionState.SUBMITTED and submission.job_id:
        submissions.cancel_withdrawn_job(ctx, submission)


# --- what a version is sent with ----------------------------------------------------------------


def plan_for(
    ctx: PipelineContext,
    source: SourceVersion,
    metadata: Mapping[str, str],
    *,
    policy: bool = True,
    rules: RulesInForce | None = None,
) -> Plan | Rejection | Unplanned:
    """Languages and glossaries for this version, or why it is rejected, or why that cannot be told yet.
    `policy`: RETRANSLATE_POLICY is applied too. `rules`: the folder rules to apply (by default the
    rules in force in this process)."""
    applied = (rules or ctx.rules.get()).applied_to(source.name)
    try:
        planned = _plan(ctx, source, metadata, applied)
        if policy and isinstance(planned, Plan):
            return _retranslate_policy(ctx, source, planned.languages) or planned
        return planned
    except (AuthenticationError, PermissionDeniedError) as exc:
        return Unplanned(exc, attention=grouping.CREDENTIALS_REFUSED)
    except TranslatorError as exc:
        return Unplanned(exc)


def _default_languages(ctx: PipelineContext, applied: AppliedRule | None) -> tuple[str, ...]:
    """The languages of a file without `targetlanguages` metadata: its rule's, else TARGET_LANGUAGES."""
    rule = applied.rule if applied else None
    return rule.languages if rule is not None and rule.languages else ctx.settings.target_languages


def _plan(
    ctx: PipelineContext, source: SourceVersion, metadata: Mapping[str, str], applied: AppliedRule | None
) -> Plan | Rejection:
    settings = ctx.settings
    rule = applied.rule if applied else None
    # Field by field: the file's metadata, else its folder rule, else the settings.
    requested = requested_languages(metadata, _default_languages(ctx, applied))
    if isinstance(requested, Rejection):
        return requested
    source_language = rule.source_language if rule and rule.source_language else settings.source_language
    category = rule.category if rule and rule.category else settings.translation_category
    supported = ctx.languages.get()
    languages = canonical_languages(requested) if supported is None else supported_languages(requested, supported)
    if isinstance(languages, Rejection):
        return languages
    rejection = check_document(source.name, source.size, ctx.document_extensions.get())
    rejection = rejection or check_not_source_language(languages, source_language)
    rejection = rejection or check_target_names(source.name, languages)
    if rejection is not None:
        return rejection
    # A glossary uploaded just before the file is seen: names listed before the file was written are
    # listed again.
    written = source.modified + LAST_MODIFIED_RESOLUTION if source.modified else None
    glossary_names = ctx.glossary_names.get(newer_than=written)
    glossaries: dict[str, str] = {}
    notes: dict[str, str] = {}
    if glossary_names:
        formats = ctx.glossary_formats.get()
        glossaries = choose_glossaries(glossary_names, languages, source_language, formats)
        notes = glossary_notes(glossary_names, languages, source_language, formats, glossaries)
    if rule is not None and rule.glossaries:
        named = rule_glossaries(rule, languages, glossary_names, ctx.glossary_formats.get)
        if isinstance(named, Rejection):
            return named
        glossaries |= named
        notes = {language: note for language, note in notes.items() if language not in named}
    return Plan.of(
        languages,
        glossaries,
        category=category,
        source_language=source_language,
        glossary_notes=notes,
        rule=applied.prefix if applied else None,
        rules_version=applied.version if applied else None,
    )


def rule_glossaries(
    rule: Rule,
    languages: tuple[str, ...],
    glossary_names: frozenset[str],
    glossary_formats: Callable[[], Mapping[str, str]],
) -> dict[str, str] | Rejection:
    """Language -> the glossary its folder rule names, for the file's languages; a rejection when
    one is not in GLOSSARY_CONTAINER or not in a format the service reads (the rule cannot be honoured)."""
    by_language = {language.lower(): name for language, name in rule.glossaries}
    named = {language: by_language[language.lower()] for language in languages if language.lower() in by_language}
    formats = glossary_formats() if named else {}
    for language, name in named.items():
        if name not in glossary_names:
            return Rejection(
                ReasonCode.RULE_NOT_HONOURED,
                f"the folder rule {rule.prefix!r} names the glossary {name!r} for {language}, which is not in "
                "GLOSSARY_CONTAINER: upload it there (or fix the rules document), then retry the file",
            )
        if extension_of(name) not in formats:
            return Rejection(
                ReasonCode.RULE_NOT_HONOURED,
                f"the folder rule {rule.prefix!r} names the glossary {name!r} for {language}, which is not in a "
                f"glossary format the service reads ({', '.join(sorted(formats))})",
            )
    return named


def _retranslate_policy(ctx: PipelineContext, source: SourceVersion, languages: tuple[str, ...]) -> Rejection | None:
    """With RETRANSLATE_POLICY=keep, a new version of a file this app translated before is rejected.
    (With `replace`, the default, the new translations replace the old ones when they are complete.)"""
    if ctx.settings.retranslate_policy is not RetranslatePolicy.KEEP:
        return None
    target = ctx.storage.container(ctx.settings.target_container)
    for language in languages:
        blob = target.get_blob_client(target_blob_name(language, source.name))
        try:
            made_from = (blob.get_blob_properties().metadata or {}).get(TRANSLATED_FROM_METADATA_KEY)
        except ResourceNotFoundError:
            continue
        if made_from is not None and made_from != source.etag:
            return Rejection(
                ReasonCode.ALREADY_TRANSLATED,
                f"{blob.blob_name} holds the translation of an earlier version and RETRANSLATE_POLICY=keep",
            )
    return None


def replan(ctx: PipelineContext, record: OpenRecord) -> SubmitResult:
    """A version that waited for its plan (the service was out of reach): planned again, and then it
    waits to be grouped, or ends rejected."""
    blob = ctx.storage.container(record.source_container).get_blob_client(record.source_name)
    try:
        properties = blob.get_blob_properties()
    except ResourceNotFoundError:
        grouping.finish_source_gone(ctx, record)
        return SubmitResult("failed", key=record.key, reason=ReasonCode.SOURCE_DELETED)
    if unquoted_etag(properties.etag) != record.source_etag:
        grouping.finish_replaced(ctx, record, unquoted_etag(properties.etag))
        return SubmitResult("failed", key=record.key, reason=ReasonCode.NEWER_VERSION)
    # What the blob says now (an operator's resubmission starts from the final record).
    source = SourceVersion.of(record.source_container, record.source_name, properties)
    record = replace(record, size=source.size, source_modified=source.modified)
    planned = plan_for(ctx, source, properties.metadata or {})
    if isinstance(planned, Unplanned):
        lifecycle.wait_for_plan(ctx, record, planned.error, attention=planned.attention)
        return SubmitResult("pending", key=record.key, reason="cannot be planned yet")
    if isinstance(planned, Rejection):
        lifecycle.reject(ctx, record, planned)
        return SubmitResult("rejected", key=record.key, reason=planned.code)
    if ctx.settings.budget_set:
        # Its languages were not known when it was dropped: it is estimated now.
        estimate = estimate_blob(blob, source.size, len(planned.languages))
        record = replace(record, estimated_characters=estimate.characters, estimate_method=estimate.method)
    updated = lifecycle.planned(ctx, record, planned)
    if updated is None:
        return SubmitResult("duplicate", key=record.key)
    grouping.wait(ctx, updated, planned)
    _group_if_nobody_does(ctx, planned.digest)
    return SubmitResult("waiting", key=record.key)
