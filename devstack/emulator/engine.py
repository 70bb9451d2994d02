"""The emulator's job engine: holds jobs, and worker threads that validate and translate them.

A job goes NotStarted -> Running -> Succeeded/Failed/Cancelled, or NotStarted -> ValidationFailed
when a job-level check fails (storage access, limits). Storage is reached only through the
request's URLs (see storage.py), so SAS permissions are enforced by the storage account itself.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import queue
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.storage.blob import ContentSettings

from devstack.emulator import state
from devstack.emulator.formats import content_type_for, document_format, glossary_format, output_name
from devstack.emulator.options import EmulatorOptions
from devstack.emulator.pseudo import (
    EMPTY_GLOSSARY,
    Glossary,
    InvalidGlossaryContent,
    NoTranslatableText,
    UnreadableDocument,
    parse_glossary,
    pseudo_translate,
)
from devstack.emulator.state import Clock, DocumentState, JobState, error_body
from devstack.emulator.storage import BlobLocation, StorageAccessError, StorageGateway, describe
from devstack.emulator.write_events import WriteAnnouncer
from shared.redaction import redact

logger = logging.getLogger(__name__)

# innerError codes. The first four are the service's own (SERVICE_NOTES.md), and so is
# WRONG_DOCUMENT_ENCODING (the code the service's SDK tests expect for a document it cannot read);
# the others are the emulator's choices for limits the pages state without naming an error
# (docs/emulator.md).
INVALID_DOCUMENT_ACCESS_LEVEL = "InvalidDocumentAccessLevel"
INVALID_TARGET_DOCUMENT_ACCESS_LEVEL = "InvalidTargetDocumentAccessLevel"
TARGET_FILE_ALREADY_EXISTS = "TargetFileAlreadyExists"
NO_TRANSLATABLE_TEXT = "NoTranslatableText"
WRONG_DOCUMENT_ENCODING = "WrongDocumentEncoding"
SOURCE_NOT_FOUND = "SourceNotFound"
TARGET_NOT_FOUND = "TargetNotFound"
NO_DOCUMENTS_FOUND = "NoDocumentsFound"
TOO_MANY_DOCUMENTS = "TooManyDocuments"
BATCH_SIZE_EXCEEDED = "BatchSizeExceeded"
DOCUMENT_SIZE_EXCEEDED = "DocumentSizeExceeded"
INVALID_DOCUMENT = "InvalidDocument"
INVALID_GLOSSARY_ACCESS_LEVEL = "InvalidGlossaryAccessLevel"
GLOSSARY_NOT_FOUND = "GlossaryNotFound"
GLOSSARY_SIZE_EXCEEDED = "GlossarySizeExceeded"
INVALID_GLOSSARY = "InvalidGlossary"
ALL_DOCUMENTS_FAILED = "AllDocumentsFailed"


class JobValidationError(Exception):
    def __init__(self, inner_code: str, message: str):
        super().__init__(message)
        self.inner_code = inner_code


class DocumentFailure(Exception):
    def __init__(self, inner_code: str, message: str):
        super().__init__(message)
        self.inner_code = inner_code


class GlossaryProblem(Exception):
    def __init__(self, inner_code: str, message: str):
        super().__init__(message)
        self.inner_code = inner_code


class NotCancellable(Exception):
    """The job is already final (or already cancelling)."""


@dataclass(frozen=True)
class PlannedDocument:
    source: BlobLocation
    source_blob: str
    size: int
    target: BlobLocation
    target_blob: str
    language: str
    glossary: Glossary
    # (innerError code, message) when this target's glossary cannot be used: its documents fail.
    glossary_error: tuple[str, str] | None = None


@dataclass(frozen=True)
class _Target:
    location: BlobLocation
    language: str
    glossary: Glossary
    glossary_error: tuple[str, str] | None = None


ReadBlob = Callable[[BlobLocation, str], bytes]


class JobStore:
    """What a restarted emulator needs to carry on, under --state-dir (the service never forgets a
    job in its retention): one JSON file per job, replaced atomically when the job's own status
    changes, and a journal beside it with one line per document change (a job of 1,000 files changes
    2,000 documents: rewriting the whole job each time would cost the square of its size)."""

    def __init__(self, folder: Path):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)

    def save(self, job: JobState) -> None:
        path = self.folder / f"{job.id}.json"
        temporary = path.with_suffix(".tmp")
        temporary.write_text(json.dumps(job.to_saved()), encoding="utf-8")
        os.replace(temporary, path)
        self._journal(job).unlink(missing_ok=True)

    def save_document(self, job: JobState, document: DocumentState) -> None:
        line = {
            "id": document.id,
            "status": document.status,
            "progress": document.progress,
            "characters": document.characters,
            "error": document.error,
            "last_action": document.last_action.isoformat(),
            "job_status": job.status,
            "job_last_action": job.last_action.isoformat(),
        }
        with self._journal(job).open("a", encoding="utf-8") as journal:
            journal.write(json.dumps(line) + "\n")

    def load(self) -> list[JobState]:
        jobs = []
        for path in sorted(self.folder.glob("*.json")):
            try:
                job = JobState.from_saved(json.loads(path.read_text(encoding="utf-8")))
                self._replay(job)
                jobs.append(job)
            except (OSError, ValueError, KeyError) as exc:
                logger.warning("cannot read saved job %s (%s); skipped", path.name, exc)
        return jobs

    def _replay(self, job: JobState) -> None:
        journal = self._journal(job)
        if not journal.exists():
            return
        by_id = {document.id: document for document in job.documents}
        for text in journal.read_text(encoding="utf-8").splitlines():
            try:
                line = json.loads(text)
            except ValueError:
                continue  # the last line, cut off by a kill
            document = by_id.get(line["id"])
            if document is None:
                continue
            document.status, document.progress = line["status"], line["progress"]
            document.characters, document.error = line["characters"], line["error"]
            document.last_action = datetime.fromisoformat(line["last_action"])
            job.status, job.last_action = line["job_status"], datetime.fromisoformat(line["job_last_action"])

    def _journal(self, job: JobState) -> Path:
        return self.folder / f"{job.id}.log"

    def clear(self) -> None:
        for path in [*self.folder.glob("*.json"), *self.folder.glob("*.log")]:
            path.unlink(missing_ok=True)


class JobEngine:
    def __init__(self, options: EmulatorOptions):
        self.options = options
        self.clock = Clock()
        self._lock = threading.RLock()
        self._jobs: dict[str, JobState] = {}
        self._queue: queue.Queue[JobState | None] = queue.Queue()
        self._gateway = StorageGateway(options.storage_connection_string)
        self._threads: list[threading.Thread] = []
        self._store = JobStore(options.state_dir) if options.state_dir is not None else None
        self._announcer = WriteAnnouncer(options.announce_writes_to) if options.announce_writes_to else None

    # ---- lifecycle -------------------------------------------------------------------------

    def start(self) -> None:
        if self._store is not None:
            resumed = 0
            for job in self._store.load():
                self._jobs[job.id] = job
                if job.status not in state.FINAL_STATUSES:
                    self._queue.put(job)
                    resumed += 1
            logger.info("loaded %d saved jobs from %s; %d carry on", len(self._jobs), self._store.folder, resumed)
        for number in range(self.options.workers):
            thread = threading.Thread(target=self._work, name=f"emulator-worker-{number}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def stop(self) -> None:
        if self._announcer is not None:
            self._announcer.close()
        with self._lock:
            for job in self._jobs.values():
                job.discarded = True
        for _thread in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join(timeout=10)
        self._threads.clear()

    def reset(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.discarded = True
            self._jobs.clear()
            if self._store is not None:
                self._store.clear()

    def _save(self, job: JobState) -> None:
        """Keeps a status change of the job across restarts (call with the lock held)."""
        if self._store is not None and not job.discarded:
            self._store.save(job)

    def _save_document(self, job: JobState, document: DocumentState) -> None:
        """Keeps a document's change across restarts (call with the lock held)."""
        if self._store is not None and not job.discarded:
            self._store.save_document(job, document)

    # ---- operations the routes call ----------------------------------------------------------

    def submit(self, inputs: list[dict[str, Any]]) -> JobState:
        with self._lock:
            job = JobState.new(inputs, self.clock.now())
            self._jobs[job.id] = job
            self._save(job)
        self._queue.put(job)
        logger.info("accepted batch %s with %d input(s)", job.id, len(inputs))
        return job

    def get(self, job_id: str) -> JobState | None:
        with self._lock:
            return self._jobs.get(job_id.lower())

    def job_snapshots(self, *, listed_only: bool = False) -> list[dict[str, Any]]:
        with self._lock:
            return [job.as_json() for job in self._jobs.values() if not listed_only or self._listed(job)]

    def is_listed(self, job_id: str) -> bool:
        """False for a job too new to be listed yet (--list-delay-seconds); unknown ids are listed."""
        with self._lock:
            job = self._jobs.get(job_id.lower())
            return job is None or self._listed(job)

    def _listed(self, job: JobState) -> bool:
        delay = self.options.list_delay_seconds
        return delay <= 0 or (self.clock.now() - job.created).total_seconds() >= delay

    def snapshot(self, job_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]] | None:
        """The job's JSON and its documents' JSON, read consistently."""
        with self._lock:
            job = self._jobs.get(job_id.lower())
            if job is None:
                return None
            return job.as_json(), [document.as_json() for document in job.documents]

    def cancel(self, job_id: str) -> dict[str, Any] | None:
        """The job's JSON, now Cancelling; None for an unknown id. Raises NotCancellable."""
        with self._lock:
            job = self._jobs.get(job_id.lower())
            if job is None:
                return None
            if job.status not in (state.NOT_STARTED, state.RUNNING):
                raise NotCancellable(job.status)
            job.cancel_requested = True
            job.status = state.CANCELLING
            job.last_action = self.clock.now()
            self._save(job)
            logger.info("cancelling batch %s", job.id)
            return job.as_json()

    def stats(self) -> list[dict[str, Any]]:
        with self._lock:
            ordered = sorted(self._jobs.values(), key=lambda job: job.created)
            return [
                {
                    "id": job.id,
                    "createdDateTimeUtc": state.format_timestamp(job.created),
                    "lastActionDateTimeUtc": state.format_timestamp(job.last_action),
                    "status": job.status,
                    "sourceUrls": job.source_urls,
                    "targetUrls": job.target_urls,
                    # When each document ended (the benchmarks time a file from its last one).
                    "documents": [
                        {
                            "target": document.target_blob,
                            "status": document.status,
                            "lastActionDateTimeUtc": state.format_timestamp(document.last_action),
                        }
                        for document in job.documents
                    ],
                }
                for job in ordered
            ]

    # ---- worker ------------------------------------------------------------------------------

    def _work(self) -> None:
        while True:
            job = self._queue.get()
            if job is None:
                return
            try:
                self._run(job)
            except Exception:
                # Formatted and masked by hand: an SDK error can quote a SAS URL.
                logger.error("batch %s failed inside the emulator: %s", job.id, redact(traceback.format_exc()))
                with self._lock:
                    job.status = state.FAILED
                    job.error = error_body("InternalServerError", "Unexpected emulator error.", "Operation")
                    job.last_action = self.clock.now()
                    self._save(job)

    def _run(self, job: JobState) -> None:
        with self._lock:
            if job.discarded:
                return
            if job.cancel_requested:
                self._finish_cancelled(job)
                return
        try:
            planned = self._plan(job.inputs)
        except JobValidationError as exc:
            with self._lock:
                if job.cancel_requested:
                    self._finish_cancelled(job)
                    return
                job.status = state.VALIDATION_FAILED
                job.error = error_body("InvalidRequest", str(exc), "Operation", exc.inner_code)
                job.last_action = self.clock.now()
                self._save(job)
            logger.info("batch %s failed validation: %s", job.id, exc.inner_code)
            return
        with self._lock:
            now = self.clock.now()
            # A job resumed after a restart keeps its documents (and their ids and statuses).
            if not job.documents:
                job.documents = [
                    DocumentState(
                        id=str(uuid.uuid4()),
                        source_url=item.source.blob_url(item.source_blob),
                        target_url=item.target.blob_url(item.target_blob),
                        source_blob=item.source_blob,
                        target_blob=item.target_blob,
                        language=item.language,
                        size=item.size,
                        created=created,
                        last_action=created,
                    )
                    for item, created in ((item, self.clock.now()) for item in planned)
                ]
            if not job.cancel_requested:
                job.status = state.RUNNING
            job.last_action = now
            self._save(job)
        by_target = {item.target.blob_url(item.target_blob): item for item in planned}
        by_source: dict[str, list[DocumentState]] = {}
        for document in job.documents:
            by_source.setdefault(document.source_url, []).append(document)

        def translate_source(documents: list[DocumentState]) -> None:
            # One source's documents (one per target language) one after another: it is read once.
            read_source = functools.lru_cache(maxsize=1)(self._read_blob)
            for document in documents:
                item = by_target.get(document.target_url)
                with self._lock:
                    if job.discarded or job.cancel_requested:
                        return
                    if document.status in state.FINAL_STATUSES or item is None:
                        continue
                    resumed = document.status == state.RUNNING  # it was under way when the emulator stopped
                    document.status = state.RUNNING
                    document.last_action = job.last_action = self.clock.now()
                    self._save_document(job, document)
                self._process_document(job, document, item, read_source, resumed=resumed)

        # The service translates a batch's documents side by side, not one after another.
        parallel = max(1, min(self.options.documents_in_parallel, len(by_source)))
        with ThreadPoolExecutor(max_workers=parallel, thread_name_prefix=f"batch-{job.id[:8]}") as pool:
            list(pool.map(translate_source, by_source.values()))
        with self._lock:
            if job.discarded:
                return
            if job.cancel_requested:
                self._finish_cancelled(job)
                return
            summary = job.summary()
            if summary["success"] > 0:
                job.status = state.SUCCEEDED
            else:
                job.status = state.FAILED
                first_error = next((d.error for d in job.documents if d.error is not None), None)
                inner = (first_error or {}).get("innerError", {}).get("code", ALL_DOCUMENTS_FAILED)
                job.error = error_body(
                    "InvalidRequest",
                    "Every document of the batch failed; see the document statuses.",
                    "Operation",
                    inner,
                )
            job.last_action = self.clock.now()
            self._save(job)
        logger.info(
            "batch %s finished %s (%d succeeded, %d failed)", job.id, job.status, summary["success"], summary["failed"]
        )

    def _finish_cancelled(self, job: JobState) -> None:
        now = self.clock.now()
        for document in job.documents:
            # A document still Running here was under way when the emulator stopped: no worker
            # carries it on, and a cancelled job ends with every document final.
            if document.status in (state.NOT_STARTED, state.RUNNING):
                document.status = state.CANCELLED
                document.last_action = now
        job.status = state.CANCELLED
        job.last_action = now
        self._save(job)
        logger.info("batch %s cancelled", job.id)

    def _process_document(
        self,
        job: JobState,
        document: DocumentState,
        item: PlannedDocument,
        read_source: ReadBlob,
        *,
        resumed: bool = False,
    ) -> None:
        try:
            characters = self._translate(job, document, item, read_source, resumed=resumed)
        except DocumentFailure as exc:
            with self._lock:
                document.status = state.FAILED
                document.error = error_body("InvalidRequest", str(exc), "Document", exc.inner_code)
                document.last_action = job.last_action = self.clock.now()
                self._save_document(job, document)
            logger.info("batch %s: %s -> %s failed: %s", job.id, item.source_blob, item.language, exc.inner_code)
            return
        if self.options.status_lag_seconds:
            time.sleep(self.options.status_lag_seconds)
        with self._lock:
            document.status = state.SUCCEEDED
            document.progress = 1.0
            document.characters = characters
            document.last_action = job.last_action = self.clock.now()
            self._save_document(job, document)
        logger.info("batch %s: wrote %s (%s, %d characters)", job.id, document.target_url, item.language, characters)

    def _translate(
        self, job: JobState, document: DocumentState, item: PlannedDocument, read_source: ReadBlob, *, resumed: bool
    ) -> int:
        """Translates and writes one document; returns the characters charged. Raises DocumentFailure."""
        if item.glossary_error is not None:
            raise DocumentFailure(*item.glossary_error)
        if document_format(item.source_blob) is None:
            raise DocumentFailure(INVALID_DOCUMENT, "The document format is not supported.")
        if item.size > self.options.max_document_bytes:
            raise DocumentFailure(
                DOCUMENT_SIZE_EXCEEDED,
                f"The document is larger than the limit of {self.options.max_document_bytes} bytes.",
            )
        try:
            content = read_source(item.source, item.source_blob)
        except Exception as exc:
            raise DocumentFailure(
                INVALID_DOCUMENT_ACCESS_LEVEL, f"Cannot read the source document: {describe(exc)}"
            ) from exc
        try:
            translation = pseudo_translate(item.source_blob, content, item.language, item.glossary)
        except NoTranslatableText as exc:
            raise DocumentFailure(NO_TRANSLATABLE_TEXT, "No translatable text found in the document.") from exc
        except UnreadableDocument as exc:
            raise DocumentFailure(
                WRONG_DOCUMENT_ENCODING, f"The document cannot be read as its file extension says: {exc}."
            ) from exc
        self._spend_time(job, document, translation.characters)
        try:
            # The write itself refuses an existing target (If-None-Match: *): no separate look first.
            written = (
                self._gateway.container(item.target)
                .get_blob_client(item.target_blob)
                .upload_blob(
                    translation.content,
                    overwrite=False,
                    content_settings=ContentSettings(content_type=content_type_for(item.target_blob)),
                )
            )
        except ResourceExistsError as exc:
            if resumed:
                # Written just before the emulator stopped: this document's own output.
                return translation.characters
            raise DocumentFailure(TARGET_FILE_ALREADY_EXISTS, "Target document file already exists.") from exc
        except Exception as exc:
            raise DocumentFailure(
                INVALID_TARGET_DOCUMENT_ACCESS_LEVEL, f"Cannot write the target document: {describe(exc)}"
            ) from exc
        if self._announcer is not None:
            self._announcer.announce(
                document.target_url,
                etag=str(written.get("etag") or ""),
                size=len(translation.content),
                content_type=content_type_for(item.target_blob),
            )
        return translation.characters

    def _read_blob(self, location: BlobLocation, blob_name: str) -> bytes:
        return self._gateway.container(location).get_blob_client(blob_name).download_blob().readall()

    def _spend_time(self, job: JobState, document: DocumentState, characters: int) -> None:
        """Takes as long as the configured speed says, reporting progress on the way."""
        duration = max(self.options.document_seconds, characters / self.options.chars_per_second)
        started = time.monotonic()
        while not job.discarded:
            elapsed = time.monotonic() - started
            if elapsed >= duration:
                return
            with self._lock:
                document.progress = round(min(elapsed / duration, 0.99), 2)
            time.sleep(min(duration - elapsed, 0.1))

    # ---- validation --------------------------------------------------------------------------

    def _plan(self, inputs: list[dict[str, Any]]) -> list[PlannedDocument]:
        planned: list[PlannedDocument] = []
        source_sizes: dict[str, int] = {}
        for item in inputs:
            is_file = str(item.get("storageType", "Folder")).lower() == "file"
            source = BlobLocation.parse(item["source"]["sourceUrl"])
            blobs = self._source_blobs(source, is_file, item["source"].get("filter") or {})
            targets = [self._target(target) for target in item["targets"]]
            for blob_name, size in blobs:
                source_sizes[source.blob_url(blob_name)] = size
                relative = blob_name[len(source.folder_prefix) :]
                for target in targets:
                    target_blob = (
                        target.location.path if is_file else target.location.folder_prefix + output_name(relative)
                    )
                    planned.append(
                        PlannedDocument(
                            source,
                            blob_name,
                            size,
                            target.location,
                            target_blob,
                            target.language,
                            target.glossary,
                            target.glossary_error,
                        )
                    )
        if not source_sizes:
            raise JobValidationError(NO_DOCUMENTS_FOUND, "No documents to translate were found in the source.")
        if len(source_sizes) > self.options.max_documents:
            raise JobValidationError(
                TOO_MANY_DOCUMENTS,
                f"The batch holds {len(source_sizes)} documents; the limit is {self.options.max_documents}.",
            )
        if sum(source_sizes.values()) > self.options.max_batch_bytes:
            raise JobValidationError(
                BATCH_SIZE_EXCEEDED, f"The batch is larger than the limit of {self.options.max_batch_bytes} bytes."
            )
        return planned

    def _source_blobs(self, source: BlobLocation, is_file: bool, name_filter: dict[str, Any]) -> list[tuple[str, int]]:
        try:
            container = self._gateway.container(source)
            if is_file:
                properties = container.get_blob_client(source.path).get_blob_properties()
                return [(source.path, int(properties.size))]
            prefix = source.folder_prefix + str(name_filter.get("prefix") or "")
            suffix = str(name_filter.get("suffix") or "")
            blobs = [
                (blob.name, int(blob.size))
                for blob in container.list_blobs(name_starts_with=prefix or None)
                if blob.name.endswith(suffix) and document_format(blob.name) is not None
            ]
            if blobs:
                # Listing needs `l`; reading needs `r`: the service checks both before it starts.
                container.get_blob_client(blobs[0][0]).get_blob_properties()
            return blobs
        except Exception as exc:
            failure = describe(exc)
            code = SOURCE_NOT_FOUND if failure.not_found else INVALID_DOCUMENT_ACCESS_LEVEL
            raise JobValidationError(code, f"Cannot read and list the source: {failure}") from exc

    def _target(self, target: dict[str, Any]) -> _Target:
        location = BlobLocation.parse(target["targetUrl"])
        permissions = location.sas_permissions()
        if permissions is not None and not {"w", "c"} & set(permissions):
            raise JobValidationError(
                INVALID_TARGET_DOCUMENT_ACCESS_LEVEL, "The target SAS does not allow writing (needs write and list)."
            )
        try:
            container = self._gateway.container(location)
            pages = container.list_blobs(name_starts_with=location.path or None, results_per_page=1).by_page()
            list(next(pages, []))
        except Exception as exc:
            failure = describe(exc)
            code = TARGET_NOT_FOUND if failure.not_found else INVALID_TARGET_DOCUMENT_ACCESS_LEVEL
            raise JobValidationError(code, f"Cannot write and list the target: {failure}") from exc
        # A glossary that cannot be read or parsed fails this target's documents, as the service
        # reports it in the document status; the job and its other languages go on.
        merged: dict[str, str] = {}
        for glossary in target.get("glossaries") or []:
            try:
                merged.update(self._glossary(glossary).terms)
            except GlossaryProblem as problem:
                return _Target(location, str(target["language"]), EMPTY_GLOSSARY, (problem.inner_code, str(problem)))
        return _Target(location, str(target["language"]), Glossary(merged) if merged else EMPTY_GLOSSARY)

    def _glossary(self, glossary: dict[str, Any]) -> Glossary:
        location = BlobLocation.parse(glossary["glossaryUrl"])
        fmt = glossary_format(str(glossary["format"]))
        assert fmt is not None  # checked when the batch was accepted
        try:
            downloader = self._gateway.container(location).get_blob_client(location.path).download_blob()
            if downloader.size > self.options.max_glossary_bytes:
                raise GlossaryProblem(
                    GLOSSARY_SIZE_EXCEEDED,
                    f"The glossary is larger than the limit of {self.options.max_glossary_bytes} bytes.",
                )
            content = downloader.readall()
        except GlossaryProblem:
            raise
        except StorageAccessError as exc:
            raise GlossaryProblem(INVALID_GLOSSARY_ACCESS_LEVEL, f"Cannot read the glossary: {exc}") from exc
        except Exception as exc:
            failure = describe(exc)
            code = GLOSSARY_NOT_FOUND if failure.not_found else INVALID_GLOSSARY_ACCESS_LEVEL
            raise GlossaryProblem(code, f"Cannot read the glossary: {failure}") from exc
        try:
            return parse_glossary(content, fmt.name)
        except InvalidGlossaryContent as exc:
            raise GlossaryProblem(INVALID_GLOSSARY, f"The glossary is not a valid {fmt.name} glossary: {exc}") from exc
