"""What an operator asks: how things stand, and everything about one file."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

from azure.core.exceptions import ResourceNotFoundError

from shared.pipeline.context import PipelineContext
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY, report_blob_name, target_blob_name
from shared.storage.record_table import FinalRecord, OpenRecord, Outcome, State, record_key


@dataclass
class Outstanding:
    source_path: str
    version: str
    record_key: str
    state: str
    age_seconds: float
    job_id: str | None
    service_status: str | None
    documents_done: int
    documents_total: int
    needs_attention: bool
    attention_reason: str | None
    last_error: str | None

    @classmethod
    def of(cls, record: OpenRecord, now: datetime) -> Outstanding:
        summary = record.summary or {}
        total = int(summary.get("total") or 0) or len(record.languages)
        done = int(summary.get("success") or 0) + int(summary.get("failed") or 0) + int(summary.get("cancelled") or 0)
        return cls(
            source_path=f"{record.source_container}/{record.source_name}",
            version=record.source_etag,
            record_key=record.key,
            state=str(record.state),
            age_seconds=round((now - record.intent_at).total_seconds(), 1),
            job_id=record.job_id,
            service_status=record.service_status,
            documents_done=done,
            documents_total=total,
            needs_attention=record.needs_attention,
            attention_reason=record.attention_reason,
            last_error=record.last_error,
        )


@dataclass
class Attention:
    source_path: str
    record_key: str
    where: str  # "outstanding" or "recorded"
    reason: str


@dataclass
class Status:
    outstanding_by_state: dict[str, int]
    recorded_by_outcome: dict[str, int]
    recorded_since: str | None
    outstanding: list[Outstanding]
    needs_attention: list[Attention]
    oldest_outstanding_seconds: float = 0.0
    characters_charged: int = 0
    failure_reasons: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def status(ctx: PipelineContext, *, since: timedelta | None = None) -> Status:
    now = ctx.now()
    open_records = ctx.records.outstanding()
    finals = list(ctx.records.finals(since=now - since if since else None))
    outstanding = sorted((Outstanding.of(record, now) for record in open_records), key=lambda item: -item.age_seconds)
    attention = [
        Attention(item.source_path, item.record_key, "outstanding", item.attention_reason or "")
        for item in outstanding
        if item.needs_attention
    ] + [
        Attention(
            f"{record.source_container}/{record.source_name}", record.key, "recorded", record.attention_reason or ""
        )
        for record in finals
        if record.needs_attention
    ]
    return Status(
        outstanding_by_state=dict(Counter(item.state for item in outstanding)),
        recorded_by_outcome=dict(Counter(str(record.outcome) for record in finals)),
        recorded_since=(now - since).isoformat() if since else None,
        outstanding=outstanding,
        needs_attention=attention,
        oldest_outstanding_seconds=max((item.age_seconds for item in outstanding), default=0.0),
        characters_charged=sum(record.characters_charged for record in finals),
        failure_reasons=dict(
            Counter(
                record.reason_code or "-"
                for record in finals
                if record.outcome not in (Outcome.SUCCEEDED, Outcome.SUPERSEDED)
            )
        ),
    )


@dataclass
class FileHistory:
    source_path: str
    current_version: str | None  # the blob's ETag now (None: deleted)
    outstanding: list[OpenRecord]
    recorded: list[FinalRecord]  # oldest first
    report: dict[str, Any] | None  # the newest version's report
    translations: dict[str, str | None]  # `<container>/<lang>/<name>` -> the version it was made from


def resolve_path(ctx: PipelineContext, source_path: str) -> tuple[str, str]:
    """`source/a/b.txt` or `a/b.txt` (in the source container) -> (container, name)."""
    container = ctx.settings.source_container
    prefix = f"{container}/"
    return container, source_path[len(prefix) :] if source_path.startswith(prefix) else source_path


def current_key(ctx: PipelineContext, container: str, name: str) -> tuple[str | None, str | None]:
    """(ETag, record key) of the blob as it is now; (None, None) when it does not exist."""
    try:
        properties = ctx.storage.container(container).get_blob_client(name).get_blob_properties()
    except ResourceNotFoundError:
        return None, None
    etag = str(properties.etag).strip('"')
    return etag, record_key(container, name, etag)


def show(ctx: PipelineContext, source_path: str) -> FileHistory:
    container, name = resolve_path(ctx, source_path)
    etag, _ = current_key(ctx, container, name)
    outstanding = [
        record
        for record in ctx.records.outstanding()
        if (record.source_container, record.source_name) == (container, name)
    ]
    recorded = ctx.records.final_versions(container, name)
    report = None
    reports = ctx.storage.container(ctx.settings.reports_container)
    try:
        report = json.loads(reports.download_blob(report_blob_name(container, name)).readall())
    except ResourceNotFoundError:
        pass
    translations: dict[str, str | None] = {}
    target = ctx.storage.container(ctx.settings.target_container)
    languages = sorted({language for record in recorded for language in record.languages})
    for language in languages:
        blob = target.get_blob_client(target_blob_name(language, name))
        try:
            metadata = blob.get_blob_properties().metadata or {}
        except ResourceNotFoundError:
            continue
        translations[f"{ctx.settings.target_container}/{blob.blob_name}"] = metadata.get(TRANSLATED_FROM_METADATA_KEY)
    return FileHistory(f"{container}/{name}", etag, outstanding, recorded, report, translations)


def open_states() -> list[str]:
    return [state.value for state in State]
