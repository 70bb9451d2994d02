"""Publish a version's translations and report, never over a newer version's.

The service wrote each translation to a staging name of its own (storage/blob_names.py). Publishing
copies it, server-side, to `<lang>/<source path>` stamped with the source version it came from,
then deletes the staging blob. A published translation or report is replaced only by one of a
newer version of the same file (by the source's Last-Modified, then by when each version was
claimed), and each write is conditional on what was read, so two versions recorded at the same
moment cannot leave the older one in place. A file at the target that this app did not write is
never touched: that language fails with the service's `TargetFileAlreadyExists`, and the
translation stays at its staging name for whoever needs it.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobProperties, ContentSettings

from shared.pipeline.context import PipelineContext
from shared.storage.blob_names import (
    TRANSLATED_FROM_METADATA_KEY,
    VERSION_ORDER_METADATA_KEY,
    kept_blob_name,
    report_blob_name,
    target_blob_name,
)
from shared.storage.records import OpenRecord, ReasonCode
from shared.telemetry import Event, file_fields

logger = logging.getLogger(__name__)

T = TypeVar("T")

# A conditional write that lost a race is decided again, at most this many times.
MAX_WRITE_RACES = 5
COPY_TIMEOUT_SECONDS = 120.0
SOURCE_CONDITION_NOT_MET = "SourceConditionNotMet"


class PublishError(RuntimeError):
    """A copy the storage account did not complete."""


class ReuseUnavailable(PublishError):
    """The translations a version was to reuse are gone or changed: it must be translated."""


@dataclass(frozen=True)
class Publication:
    published: bool
    path: str  # the published name, or the staging name when the translation stays there
    error_code: str | None = None
    error_message: str | None = None
    note: str | None = None  # why a complete translation was not published (a newer one is in place)


def stamp(record: OpenRecord) -> dict[str, str]:
    return {TRANSLATED_FROM_METADATA_KEY: record.source_etag, VERSION_ORDER_METADATA_KEY: record.version_order}


def publish_translation(
    ctx: PipelineContext,
    record: OpenRecord,
    language: str,
    staging_name: str,
    *,
    source_etag: str | None = None,
    remove_source: bool = True,
) -> Publication:
    """`staging_name` is where the translation is; `source_etag` (with `remove_source=False`) copies
    another version's published translation, only as it was read."""
    container = ctx.settings.target_container
    target = ctx.storage.container(container)
    name = target_blob_name(language, record.source_name)
    destination = target.get_blob_client(name)

    def remove_staging() -> None:
        if remove_source:
            _delete(target.get_blob_client(staging_name))

    def decide(current: BlobProperties | None) -> Publication | None:
        if current is None:
            return None
        metadata = current.metadata or {}
        if TRANSLATED_FROM_METADATA_KEY not in metadata:
            return Publication(
                False,
                staging_name,
                ReasonCode.TARGET_FILE_ALREADY_EXISTS,
                f"{container}/{name} holds a file this app did not write; it was left as it is and the "
                f"translation kept at {container}/{staging_name}",
            )
        if _made_from(current, record):
            # Published by an earlier try of this step (its answer lost, or the step cut off).
            remove_staging()
            return Publication(True, name)
        if metadata.get(VERSION_ORDER_METADATA_KEY, "") > record.version_order:
            remove_staging()
            return Publication(
                False,
                name,
                note=f"{name} already holds the translation of a newer version "
                f"({metadata[TRANSLATED_FROM_METADATA_KEY]})",
            )
        return None

    def copy(conditions: dict[str, Any]) -> Publication:
        if source_etag is not None:
            conditions |= {"source_etag": source_etag, "source_match_condition": MatchConditions.IfNotModified}
        try:
            started = destination.start_copy_from_url(
                ctx.access.copy_source_url(container, staging_name), metadata=stamp(record), **conditions
            )
        except (ResourceExistsError, ResourceModifiedError) as exc:
            if getattr(exc, "error_code", None) == SOURCE_CONDITION_NOT_MET:
                raise ReuseUnavailable(f"{container}/{staging_name} changed before it could be copied") from exc
            raise  # something is there, or changed meanwhile: read it and decide again
        except ResourceNotFoundError as exc:
            if not remove_source:
                raise ReuseUnavailable(f"{container}/{staging_name} is gone") from exc
            # No staging copy: an earlier try of this step published it (then the destination says
            # so) and removed it, or it is gone for good.
            published = _properties(destination)
            if published is not None and _made_from(published, record):
                return Publication(True, name)
            raise PublishError(
                f"the {language} translation of {record.source_name} is no longer at {container}/{staging_name}"
            ) from exc
        _wait_for_copy(destination, started)
        remove_staging()
        return Publication(True, name)

    # Optimistic first: most files are new, so copy if nothing is there (one call), and read what
    # is there only when something is.
    return _write_unless_newer(
        destination,
        decide,
        copy,
        read_first=False,
        kept_changing=f"{container}/{name} kept changing while {record.source_name} was being published",
    )


def publish_reused(ctx: PipelineContext, record: OpenRecord, language: str, published_name: str) -> Publication:
    """Publishes, for a version with the same bytes and plan, the translation another version got:
    a server-side copy, or a new stamp when it is the same file's. Only a translation still stamped
    with the version it was recorded for is reused."""
    container = ctx.settings.target_container
    target = ctx.storage.container(container)
    name = target_blob_name(language, record.source_name)
    published = target.get_blob_client(published_name)

    def decide(current: BlobProperties | None) -> Publication | None:
        metadata = (current.metadata or {}) if current is not None else {}
        if current is not None and published_name == name and _made_from(current, record):
            return Publication(True, name)  # stamped by an earlier try of this step
        if current is None or metadata.get(TRANSLATED_FROM_METADATA_KEY) != record.reused_etag:
            raise ReuseUnavailable(f"{container}/{published_name} no longer holds the translation to reuse")
        if published_name != name:
            return publish_translation(
                ctx, record, language, published_name, source_etag=current.etag, remove_source=False
            )
        if metadata.get(VERSION_ORDER_METADATA_KEY, "") > record.version_order:
            return Publication(False, name, note=f"{name} already holds the translation of a newer version")
        return None

    def restamp(conditions: dict[str, Any]) -> Publication:
        try:
            published.set_blob_metadata(stamp(record), **conditions)
        except ResourceNotFoundError as exc:
            raise ReuseUnavailable(f"{container}/{name} is gone") from exc
        return Publication(True, name)

    return _write_unless_newer(
        published,
        decide,
        restamp,
        read_first=True,
        kept_changing=f"{container}/{name} kept changing while {record.source_name} was being published",
    )


def keep_translation(ctx: PipelineContext, record: OpenRecord, language: str, staging_name: str) -> str:
    """Moves a finished translation of a cancelled version out of the staging sweep, unpublished;
    returns where it is kept. Safe to repeat."""
    container = ctx.settings.target_container
    target = ctx.storage.container(container)
    name = kept_blob_name(record.key, language, record.source_name)
    destination = target.get_blob_client(name)
    try:
        copy = destination.start_copy_from_url(
            ctx.access.copy_source_url(container, staging_name), metadata=stamp(record)
        )
    except ResourceNotFoundError as exc:
        kept = _properties(destination)
        if kept is not None and _made_from(kept, record):
            return name  # kept by an earlier try of this step
        raise PublishError(
            f"the {language} translation of {record.source_name} is no longer at {container}/{staging_name}"
        ) from exc
    _wait_for_copy(destination, copy)
    _delete(target.get_blob_client(staging_name))
    return name


def write_report(ctx: PipelineContext, record: OpenRecord, report: dict[str, Any]) -> bool:
    """Writes the report unless the file's report describes a newer version; True when written."""
    name = report_blob_name(record.source_container, record.source_name)
    blob = ctx.storage.container(ctx.settings.reports_container).get_blob_client(name)
    body = json.dumps(report, indent=2, sort_keys=True, ensure_ascii=False).encode("utf-8")

    def decide(current: BlobProperties | None) -> bool | None:
        if current is not None and (current.metadata or {}).get(VERSION_ORDER_METADATA_KEY, "") > record.version_order:
            logger.info(
                "report %s describes a newer version than %s; left as it is",
                name,
                record.source_etag,
                extra=file_fields(record, event=Event.SUPERSEDED),
            )
            return False
        return None

    def upload(conditions: dict[str, Any]) -> bool:
        blob.upload_blob(
            body,
            overwrite=True,
            metadata=stamp(record),
            content_settings=ContentSettings(content_type="application/json; charset=utf-8"),
            **conditions,
        )
        return True

    return _write_unless_newer(
        blob,
        decide,
        upload,
        read_first=False,
        kept_changing=f"report {name} kept changing while {record.source_name} was being recorded",
    )


def _write_unless_newer(
    blob: BlobClient,
    decide: Callable[[BlobProperties | None], T | None],
    write: Callable[[dict[str, Any]], T],
    *,
    read_first: bool,
    kept_changing: str,
) -> T:
    """The conditional-write race: `decide` looks at what `blob` holds and returns the answer when
    nothing is to be written (a newer version's, an earlier try's); otherwise `write` writes under
    the condition that the blob is still as read (missing, or the same ETag). A write that lost the
    race (ResourceExistsError, ResourceModifiedError) reads and decides again, MAX_WRITE_RACES times.
    `read_first=False` writes (if missing) before reading, for a blob that is usually missing."""
    current: BlobProperties | None = None
    for attempt in range(MAX_WRITE_RACES):
        if read_first or attempt > 0:
            current = _properties(blob)
            decided = decide(current)
            if decided is not None:
                return decided
        conditions: dict[str, Any] = (
            {"match_condition": MatchConditions.IfMissing}
            if current is None
            else {"etag": current.etag, "match_condition": MatchConditions.IfNotModified}
        )
        try:
            return write(conditions)
        except (ResourceExistsError, ResourceModifiedError):
            continue  # something is there, or changed meanwhile: read it and decide again
    raise PublishError(kept_changing)


def staging_exists(ctx: PipelineContext, staging_name: str) -> bool:
    blob = ctx.storage.container(ctx.settings.target_container).get_blob_client(staging_name)
    return _properties(blob) is not None


def delete_staging(ctx: PipelineContext, prefix: str, keep: set[str]) -> None:
    """Removes what is left under a record's staging prefix, except the blobs in `keep`."""
    target = ctx.storage.container(ctx.settings.target_container)
    for blob in target.list_blobs(name_starts_with=prefix):
        if blob.name not in keep:
            _delete(target.get_blob_client(blob.name))


def _made_from(blob: BlobProperties, record: OpenRecord) -> bool:
    """The blob is this version's own translation (or report)."""
    metadata = blob.metadata or {}
    return (
        metadata.get(TRANSLATED_FROM_METADATA_KEY) == record.source_etag
        and metadata.get(VERSION_ORDER_METADATA_KEY) == record.version_order
    )


def _properties(blob: BlobClient) -> BlobProperties | None:
    try:
        return blob.get_blob_properties()
    except ResourceNotFoundError:
        return None


def _delete(blob: BlobClient) -> None:
    try:
        blob.delete_blob()
    except ResourceNotFoundError:
        pass


def _wait_for_copy(destination: BlobClient, copy: dict[str, Any]) -> None:
    # A copy within one account usually completes in the call; a large one may still be pending.
    status = copy.get("copy_status")
    deadline = time.monotonic() + COPY_TIMEOUT_SECONDS
    delay = 0.2
    while status == "pending":
        if time.monotonic() > deadline:
            raise PublishError(f"copying to {destination.blob_name} did not finish in {COPY_TIMEOUT_SECONDS:.0f}s")
        time.sleep(delay)
        delay = min(delay * 2, 5.0)
        status = destination.get_blob_properties().copy.status
    if status not in ("success", None):
        raise PublishError(f"copying to {destination.blob_name} ended {status}")
