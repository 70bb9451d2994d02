"""An in-memory Document Translation service with the client's interface, for scripting the
pipeline's scenarios (crashes, uncertain submissions, unknown statuses, forgotten jobs).
The end-to-end tests use the real emulator instead."""

from __future__ import annotations

import threading
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit, urlunsplit

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


def _plain(url: str) -> str:
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


@dataclass
class FakeJob:
    id: str
    created_at: datetime
    inputs: list[TranslationInput]
    status: str = "NotStarted"
    document_status: dict[str, str] = field(default_factory=dict)  # language -> status
    document_errors: dict[str, tuple[str, str]] = field(default_factory=dict)


class FakeTranslationService:
    def __init__(self) -> None:
        self.jobs: dict[str, FakeJob] = {}
        self.start_calls: list[list[TranslationInput]] = []
        self.list_calls = 0
        self.fail_next_start: Exception | None = None
        self.create_then_fail: Exception | None = None  # job created, then the answer is lost
        self.lock = threading.Lock()
        self.formats_calls = 0

    # --- scripting -----------------------------------------------------------------------
    def finish(
        self, job_id: str, *, failures: dict[str, tuple[str, str]] | None = None, status: str | None = None
    ) -> None:
        job = self.jobs[job_id]
        failures = failures or {}
        for target in job.inputs[0].targets:
            job.document_status[target.language] = "Failed" if target.language in failures else "Succeeded"
        job.document_errors = dict(failures)
        all_failed = len(failures) == len(job.inputs[0].targets)
        job.status = status or ("Failed" if all_failed else "Succeeded")

    # --- client interface ----------------------------------------------------------------
    def start_translation(self, inputs) -> str:
        with self.lock:
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
        return JobStatus(job.id, job.status, job.created_at, job.created_at, summary, None)

    def get_job(self, job_id: str) -> JobStatus:
        if job_id not in self.jobs:
            raise NotFoundError("job not found", status_code=404, code="ResourceNotFound")
        return self._status(self.jobs[job_id])

    def iter_job_pages(self, *, ids=None, max_page_size=None, **_):
        self.list_calls += 1
        wanted = [self._status(self.jobs[i]) for i in ids or self.jobs if i in self.jobs]
        yield Page(items=wanted, next_link=None)

    def list_jobs(self, *, created_after=None, **_):
        for job in list(self.jobs.values()):
            if created_after is None or job.created_at >= created_after:
                yield self._status(job)

    def list_documents(self, job_id: str):
        job = self.jobs[job_id]
        source = _plain(job.inputs[0].source_url)
        for target in job.inputs[0].targets:
            status = job.document_status.get(target.language, "Running")
            error = None
            if target.language in job.document_errors:
                code, message = job.document_errors[target.language]
                error = ErrorDetail(code="InvalidRequest", message=message, inner_code=code, inner_message=message)
            yield DocumentStatus(
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

    def cancel_job(self, job_id: str) -> JobStatus:
        self.jobs[job_id].status = "Cancelled"
        return self._status(self.jobs[job_id])

    def get_supported_document_formats(self) -> list[FileFormat]:
        self.formats_calls += 1
        return [
            FileFormat("PlainText", (".txt",), ("text/plain",)),
            FileFormat("Markdown", (".md", ".markdown"), ("text/markdown",)),
            FileFormat("HTML", (".html", ".htm"), ("text/html",)),
            FileFormat("CSV", (".csv",), ("text/csv",)),
        ]

    def get_supported_glossary_formats(self) -> list[FileFormat]:
        return [FileFormat("CSV", (".csv",), ("text/csv",)), FileFormat("XLIFF", (".xlf", ".xliff"), ())]
