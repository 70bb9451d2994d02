"""What the pipeline needs of the Document Translation service: the client's operations as a
Protocol, so a scripted stand-in (the pipeline tests' fake service) is held to the real client's
signatures, and the pipeline depends on no more than these."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import timedelta
from typing import Protocol, TypeVar, Unpack

from shared.translator.models import DocumentStatus, FileFormat, JobStatus, Page, TranslationInput
from shared.translator.routes import ListFilters

T = TypeVar("T")


class PageableItems(Protocol[T]):
    """Items read page by page as they are iterated; `by_page()` gives the pages (one request each)."""

    def by_page(self) -> Iterator[Page[T]]: ...

    def __iter__(self) -> Iterator[T]: ...


class TranslatorService(Protocol):
    def begin_translation(self, inputs: Sequence[TranslationInput]) -> str: ...

    def get_translation_status(self, job_id: str) -> JobStatus: ...

    def cancel_translation(self, job_id: str) -> JobStatus: ...

    def list_translation_statuses(self, **filters: Unpack[ListFilters]) -> PageableItems[JobStatus]: ...

    def list_document_statuses(self, job_id: str, **filters: Unpack[ListFilters]) -> PageableItems[DocumentStatus]: ...

    def get_supported_document_formats(self) -> list[FileFormat]: ...

    def get_supported_glossary_formats(self) -> list[FileFormat]: ...

    def get_supported_languages(self) -> dict[str, str]: ...

    @property
    def clock_offset(self) -> timedelta | None:
        """The service's clock minus ours, from its last answer's Date header (None before one)."""
        ...
