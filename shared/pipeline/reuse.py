"""Reuse: bytes translated before with the same plan are not translated, nor billed, again.

A new ETag is not new content: Set Blob Metadata, tags, a tier or properties change it, and so does
uploading the same bytes again. A version is told apart by its bytes: storage's Content-MD5 where
the blob has one (every single-shot upload), else an MD5 computed while streaming the blob (block
uploads that sent none), never holding it in memory. MD5 is what storage itself uses to tell
contents apart; the size and the plan must match too.

- The same bytes and plan were translated and published before (this file's earlier version, or
  another file): the version is recorded `Reused`, its translations are server-side copies of those
  (`SameContent`), and nothing is charged.
- An earlier version of the same file with the same bytes and plan is being translated now: the new
  version is recorded `Reused` (`SameContentInFlight`) and the earlier one is not superseded: its
  translations are this version's.

Cost per drop with reuse on: one point read of the `reuse` partition and the range read of the
file's open versions (done anyway for a newer version); the streamed read only when storage has no
Content-MD5.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass, replace

from azure.core import MatchConditions
from azure.core.exceptions import ResourceModifiedError, ResourceNotFoundError

from shared.pipeline.checks import MAX_DOCUMENT_BYTES
from shared.pipeline.context import PipelineContext
from shared.storage.records import OpenRecord, ReasonCode, ReuseEntry, SourceVersion
from shared.storage.schedule_table import Plan

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Found:
    """What a version reuses, and the reason its record gives."""

    code: ReasonCode  # SAME_CONTENT or ReasonCode.SAME_CONTENT_IN_FLIGHT
    message: str
    reused_from: str  # the record key of the version whose translations it gets
    reused_etag: str  # the source ETag those translations are stamped with
    targets: dict[str, str]  # language -> the published blob to copy (none while in flight)
    characters_saved: int

    @property
    def in_flight(self) -> bool:
        return self.code == ReasonCode.SAME_CONTENT_IN_FLIGHT


def with_content_hash(ctx: PipelineContext, source: SourceVersion) -> SourceVersion:
    """The version with its content hash: storage's Content-MD5, else one streamed read of the blob
    as it is at this ETag. None when the blob changed meanwhile (a newer version will come)."""
    if source.content_hash is not None or source.size <= 0 or source.size > MAX_DOCUMENT_BYTES:
        return source
    blob = ctx.storage.container(source.container).get_blob_client(source.name)
    digest = hashlib.md5(usedforsecurity=False)
    try:
        stream = blob.download_blob(etag=f'"{source.etag}"', match_condition=MatchConditions.IfNotModified)
        for chunk in stream.chunks():
            digest.update(chunk)
    except (ResourceModifiedError, ResourceNotFoundError):
        return source
    return replace(source, content_hash=f"md5:{digest.hexdigest()}")


def find(ctx: PipelineContext, source: SourceVersion, plan: Plan) -> Found | None:
    if source.content_hash is None:
        return None
    entry = ctx.records.get_reuse(plan.digest, source.content_hash)
    if entry is not None and entry.record_key != source.key:
        return Found(
            ReasonCode.SAME_CONTENT,
            f"the same bytes as {entry.source_container}/{entry.source_name} (version {entry.source_etag}), "
            "translated with the same plan: its translations were copied and nothing was charged",
            entry.record_key,
            entry.source_etag,
            dict(entry.targets),
            entry.characters_charged,
        )
    for version in ctx.records.open_versions(source.container, source.name):
        if (
            version.key != source.key
            and version.content_hash == source.content_hash
            and version.plan == plan.digest
            and version.outcome is None
            and not version.withdrawn
            and _not_newer(version, source)
        ):
            return Found(
                ReasonCode.SAME_CONTENT_IN_FLIGHT,
                f"the same bytes as version {version.source_etag} of this file, which is being translated with "
                "the same plan: its translations are this version's (its record tells how it ends); "
                "nothing was charged",
                version.key,
                version.source_etag,
                {},
                0,
            )
    return None


def _not_newer(version: OpenRecord, source: SourceVersion) -> bool:
    if version.source_modified is None or source.modified is None:
        return True
    return version.source_modified <= source.modified


def entry_for(record: OpenRecord, targets: dict[str, str], characters: int) -> ReuseEntry | None:
    """What the record step keeps of a version whose every translation was published."""
    if record.content_hash is None or record.plan is None or not targets:
        return None
    return ReuseEntry(
        plan=record.plan,
        content_hash=record.content_hash,
        record_key=record.key,
        source_container=record.source_container,
        source_name=record.source_name,
        source_etag=record.source_etag,
        targets=dict(targets),
        characters_charged=characters,
    )
