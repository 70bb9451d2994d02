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
from urllib.parse import urlsplit, urlunsplit

from azure.storage.blob import BlobClient

from shared.translator import (
    DocumentStatus,
    ErrorDetail,
    FileFormat,
    JobStatus,
    NotFoundError,
    Page,
    StatusSummary,
    TranslationInput,
)

T = TypeVar("T")

LANGUAGES = ("fr", "de", "es", "it", "ja", "zh-Hans", "zh-Hant", "pt", "pt-PT", "sr-Latn", "fr-CA", "nl", "pl", "sv")


def _plain(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


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
    document_status: dict[str, str] = field(default_factory=dict)  # language -> status
    document_errors: dict[str, tuple[str, str]] = field(default_factory=dict)
    error: ErrorDetail | None = None


class FakeTranslationService:
    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.start_calls: list[list[TranslationInput]] = []
        self.calls: dict[str, int] = {}
        self.fail_next_start: Exception | None = None
        self.create_then_fail: Exception | None = None  # the job is created, then the answer is lost
        self.refuse_everything: Exception | None = None  # e.g. a wrong key: every call refused
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
        """Ends a job: every target succeeds (its translation written) except those in `failures`."""
        job = self.jobs[job_id]
        failures = failures or {}
        for target in job.inputs[0].targets:
            failed = target.language in failures
            job.document_status[target.language] = "Failed" if failed else "Succeeded"
            if not failed and write:
                BlobClient.from_blob_url(target.url).upload_blob(
                    f"[{target.language}] translated".encode(), overwrite=True
                )
        job.document_errors = dict(failures)
        all_failed = len(failures) == len(job.inputs[0].targets)
        job.status = status or ("Failed" if all_failed else "Succeeded")

    def only_job(self) -> FakeJob:
        [job] = self.jobs.values()
        return job

    # --- the client's interface ----------------------------------------------------------
    def start_translation(self, inputs: list[TranslationInput]) -> str:
        with self.lock:
            self._count("start")
            self.start_calls.append(list(inputs))
            if self.fail_next_start is not None:
                error, self.fail_next_start = self.fail_next_start, None
                raise error
            job_id = str(uuid.uuid4())
            self.jobs[job_id] = FakeJob(job_id, datetime.now(UTC), list(inputs), "Running")
            if self.create_then_fail is not None:
                error, self.create_then_fail = self.create_then_fail, None
                raise error
            return job_id

    def _status(self, job: FakeJob) -> JobStatus:
        targets = job.inputs[0].targets
        success = sum(1 for s in job.document_status.values() if s == "Succeeded")
        failed = sum(1 for s in job.document_status.values() if s == "Failed")
        summary = StatusSummary(
            total=len(targets),
            failed=failed,
            success=success,
            in_progress=len(targets) - success - failed,
            total_character_charged=success * 100,
        )
        return JobStatus(job.id, job.status, job.created_at, job.created_at, summary, job.error)

    def get_job(self, job_id: str) -> JobStatus:
        self._count("get_job")
        if job_id not in self.jobs or job_id in self.forgotten:
            raise NotFoundError("job not found", status_code=404, code="ResourceNotFound")
        return self._status(self.jobs[job_id])

    def list_jobs(
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

    def list_documents(self, job_id: str, **_: Any) -> FakePageable[DocumentStatus]:
        if job_id not in self.jobs or job_id in self.forgotten:
            self._count("documents")
            raise NotFoundError("job not found", status_code=404, code="ResourceNotFound")
        job = self.jobs[job_id]
        source = _plain(job.inputs[0].source_url)
        documents = []
        for target in job.inputs[0].targets:
            status = job.document_status.get(target.language, "Running")
            error = None
            if target.language in job.document_errors:
                code, message = job.document_errors[target.language]
                error = ErrorDetail(code="InvalidRequest", message=message, inner_code=code, inner_message=message)
            documents.append(
                DocumentStatus(
                    id=f"{job_id}-{target.language}",
                    status=status,
                    source_path=source,
                    target_path=_plain(target.url),
                    language=target.language,
                    created_at=job.created_at,
                    last_updated_at=job.created_at,
                    progress=1.0 if status in ("Succeeded", "Failed") else 0.5,
                    characters_charged=100 if status == "Succeeded" else 0,
                    error=error,
                )
            )
        return FakePageable(documents, 50, lambda: self._count("documents"))

    def cancel_job(self, job_id: str) -> JobStatus:
        self._count("cancel")
        job = self.jobs[job_id]
        if job.status in ("Running", "NotStarted"):
            job.status = "Cancelled"
            for target in job.inputs[0].targets:
                job.document_status.setdefault(target.language, "Cancelled")
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
