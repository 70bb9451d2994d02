"""An in-memory Document Translation service with the client's interface (`TranslatorService`),
for scripting the pipeline's scenarios: crashes, lost answers, refused credentials, unknown
statuses, forgotten jobs. Finishing a job writes its translations through the target URLs it was
given (real Azurite, real SAS), as the service would. The end-to-end tests use the emulator."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Generic, TypeVar
from urllib.parse import unquote, urlsplit

from azure.storage.blob import BlobClient

from shared.redaction import strip_query
from shared.translator import (
    DocumentStatus,
    ErrorDetail,
    FileFormat,
    InvalidRequestError,
    JobStatus,
    NotFoundError,
    Page,
    StatusSummary,
    TranslationInput,
)

T = TypeVar("T")

LANGUAGES = ("fr", "de", "es", "it", "ja", "zh-Hans", "zh-Hant", "pt", "pt-PT", "sr-Latn", "fr-CA", "nl", "pl", "sv")


class FakePageable(Generic[T]):
    def __init__(self, items: list[T], page_size: int, on_page: Any = None):
        self._items = items
        self._page_size = max(1, page_size)
        self._on_page = on_page

    def by_page(self) -> Iterator[Page[T]]:
        if not self._items:
            if self._on_page:
                self._on_page()
            yield Page(items=[], next_link=None)
            return
        for start in range(0, len(self._items), self._page_size):
            if self._on_page:
                self._on_page()
            chunk = self._items[start : start + self._page_size]
            more = start + self._page_size < len(self._items)
            yield Page(items=chunk, next_link="next" if more else None)

    def __iter__(self) -> Iterator[T]:
        for page in self.by_page():
            yield from page.items


@dataclass
class FakeJob:
    id: str
    created_at: datetime
    inputs: list[TranslationInput]
    status: str = "NotStarted"
    # (source blob name, language) -> status, and the errors of failed documents
    document_status: dict[tuple[str, str], str] = field(default_factory=dict)
    document_errors: dict[tuple[str, str], tuple[str, str]] = field(default_factory=dict)
    error: ErrorDetail | None = None

    def documents(self) -> list[tuple[TranslationInput, Any]]:
        return [(item, target) for item in self.inputs for target in item.targets]


def source_name(item: TranslationInput) -> str:
    """The blob name of an input's source (the path after the container)."""
    return unquote(urlsplit(item.source_url).path).split("/", 3)[-1]


class FakeTranslationService:
    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.start_calls: list[list[TranslationInput]] = []
        self.calls: dict[str, int] = {}
        self.fail_next_start: Exception | None = None
        self.create_then_fail: Exception | None = None  # the job is created, then the answer is lost
        self.refuse_everything: Exception | None = None  # e.g. a wrong key: every call refused
        # A start call whose inputs name one of these sources is refused as a whole (InvalidRequest).
        self.refuse_sources: set[str] = set()
        self.forgotten: set[str] = set()  # job ids the service answers 404 for
        self.clock_offset: timedelta | None = None
        self.lock = threading.Lock()

    def _count(self, operation: str) -> None:
        self.calls[operation] = self.calls.get(operation, 0) + 1
        if self.refuse_everything is not None and operation != "languages":
            raise self.refuse_everything

    # --- scripting -----------------------------------------------------------------------
    def finish(
        self,
        job_id: str,
        *,
        failures: dict[str, tuple[str, str]] | None = None,
        status: str | None = None,
        write: bool = True,
    ) -> None:
        """Ends a job: every document succeeds (its translation written) except those in `failures`,
        keyed by language (every source) or by 'source name:language'."""
        job = self.jobs[job_id]
        failures = failures or {}
        failed_count = 0
        for item, target in job.documents():
            name = source_name(item)
            failure = failures.get(f"{name}:{target.language}") or failures.get(target.language)
            job.document_status[(name, target.language)] = "Failed" if failure else "Succeeded"
            if failure:
                job.document_errors[(name, target.language)] = failure
                failed_count += 1
            elif write:
                BlobClient.from_blob_url(target.url).upload_blob(
                    f"[{target.language}] translated".encode(), overwrite=True
                )
        all_failed = failed_count == len(job.documents())
        job.status = status or ("Failed" if all_failed else "Succeeded")

    def finish_all(self, **options: Any) -> None:
        for job_id, job in list(self.jobs.items()):
            if job.status in ("Running", "NotStarted"):
                self.finish(job_id, **options)

    def only_job(self) -> FakeJob:
        [job] = self.jobs.values()
        return job

    def last_job(self) -> FakeJob:
        return max(self.jobs.values(), key=lambda job: job.created_at)

    # --- the client's interface ----------------------------------------------------------
    def begin_translation(self, inputs: list[TranslationInput]) -> str:
        with self.lock:
            self._count("start")
            self.start_calls.append(list(inputs))
            if self.fail_next_start is not None:
                error, self.fail_next_start = self.fail_next_start, None
                raise error
            if any(source_name(item) in self.refuse_sources for item in inputs):
                raise InvalidRequestError(
                    "a source cannot be used", status_code=400, code="InvalidRequest", inner_code="InvalidSourceUrl"
                )
            job_id = str(uuid.uuid4())
            self.jobs[job_id] = FakeJob(job_id, datetime.now(UTC), list(inputs), "Running")
            if self.create_then_fail is not None:
                error, self.create_then_fail = self.create_then_fail, None
                raise error
            return job_id

    def _status(self, job: FakeJob) -> JobStatus:
        total = len(job.documents())
        success = sum(1 for s in job.document_status.values() if s == "Succeeded")
        failed = sum(1 for s in job.document_status.values() if s == "Failed")
        summary = StatusSummary(
            total=total,
            failed=failed,
            success=success,
            in_progress=total - success - failed,
            total_character_charged=success * 100,
        )
        return JobStatus(job.id, job.status, job.created_at, job.created_at, summary, job.error)

    def get_translation_status(self, job_id: str) -> JobStatus:
        self._count("get_job")
        if job_id not in self.jobs or job_id in self.forgotten:
            raise NotFoundError("job not found", status_code=404, code="ResourceNotFound")
        return self._status(self.jobs[job_id])

    def list_translation_statuses(
        self,
        *,
        ids: list[str] | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        max_page_size: int | None = None,
        **_: Any,
    ) -> FakePageable[JobStatus]:
        jobs = [job for job in self.jobs.values() if job.id not in self.forgotten]
        if ids is not None:
            jobs = [job for job in jobs if job.id in ids]
        if created_after is not None:
            jobs = [job for job in jobs if job.created_at >= created_after]
        if created_before is not None:
            jobs = [job for job in jobs if job.created_at <= created_before]
        jobs.sort(key=lambda job: job.created_at)
        return FakePageable([self._status(job) for job in jobs], max_page_size or 50, lambda: self._count("list"))

    def list_document_statuses(
        self, job_id: str, *, top: int | None = None, max_page_size: int | None = None, **_: Any
    ) -> FakePageable[DocumentStatus]:
        if job_id not in self.jobs or job_id in self.forgotten:
            self._count("documents")
            raise NotFoundError("job not found", status_code=404, code="ResourceNotFound")
        job = self.jobs[job_id]
        documents = []
        for item, target in job.documents():
            name = source_name(item)
            status = job.document_status.get((name, target.language), "Running")
            error = None
            if (name, target.language) in job.document_errors:
                code, message = job.document_errors[(name, target.language)]
                error = ErrorDetail(code="InvalidRequest", message=message, inner_code=code, inner_message=message)
            documents.append(
                DocumentStatus(
                    id=f"{job_id}-{len(documents)}",
                    status=status,
                    source_path=strip_query(item.source_url),
                    target_path=strip_query(target.url),
                    language=target.language,
                    created_at=job.created_at,
                    last_updated_at=job.created_at,
                    progress=1.0 if status in ("Succeeded", "Failed") else 0.5,
                    characters_charged=100 if status == "Succeeded" else 0,
                    error=error,
                )
            )
        if top is not None:
            documents = documents[:top]
        return FakePageable(documents, max_page_size or 50, lambda: self._count("documents"))

    def cancel_translation(self, job_id: str) -> JobStatus:
        self._count("cancel")
        job = self.jobs[job_id]
        if job.status in ("Running", "NotStarted"):
            job.status = "Cancelled"
            for item, target in job.documents():
                job.document_status.setdefault((source_name(item), target.language), "Cancelled")
        return self._status(job)

    def get_supported_document_formats(self) -> list[FileFormat]:
        self._count("formats")
        return [
            FileFormat("PlainText", (".txt",), ("text/plain",)),
            FileFormat("Markdown", (".md", ".markdown"), ("text/markdown",)),
            FileFormat("HTML", (".html", ".htm"), ("text/html",)),
            FileFormat("CSV", (".csv",), ("text/csv",)),
        ]

    def get_supported_glossary_formats(self) -> list[FileFormat]:
        self._count("glossary_formats")
        return [FileFormat("CSV", (".csv",), ("text/csv",)), FileFormat("XLIFF", (".xlf", ".xliff"), ())]

    def get_supported_languages(self) -> dict[str, str]:
        self._count("languages")
        return {code.lower(): code for code in LANGUAGES}
