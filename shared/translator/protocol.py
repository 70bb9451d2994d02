"""What the pipeline needs of the Document Translation service: the client's operations, as a
Protocol, so a scripted stand-in (the pipeline tests' fake service) is checked against the real
client's signatures."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Protocol, TypeVar

from shared.translator.models import DocumentStatus, FileFormat, JobStatus, Page, TranslationInput

T_co = TypeVar("T_co", covariant=True)


class PageableItems(Protocol[T_co]):
    def by_page(self) -> Iterator[Page[T_co]]: ...

    def __iter__(self) -> Iterator[T_co]: ...


class TranslatorService(Protocol):
    def start_translation(self, inputs: Sequence[TranslationInput]) -> str: ...

    def get_job(self, job_id: str) -> JobStatus: ...

    def cancel_job(self, job_id: str) -> JobStatus: ...

    def list_jobs(self, **filters: Any) -> PageableItems[JobStatus]: ...

    def list_documents(
        self, job_id: str, **filters: Any
    ) -> PageableItems[DocumentStatus] | Iterable[DocumentStatus]: ...

    def get_supported_document_formats(self) -> list[FileFormat]: ...

    def get_supported_glossary_formats(self) -> list[FileFormat]: ...

    def get_supported_languages(self) -> dict[str, str]: ...
