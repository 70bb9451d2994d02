"""Everything a pipeline step needs, built once per process on first use (never at import)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property

from shared.settings import Settings, get_settings
from shared.storage.clients import StorageClients
from shared.storage.job_table import JobTable
from shared.storage.service_access import ServiceAccess
from shared.translator import DocumentTranslationClient

logger = logging.getLogger(__name__)


@dataclass
class SupportedFormats:
    """The service's supported extensions, asked once per process."""

    client: DocumentTranslationClient
    _documents: frozenset[str] | None = None
    _glossaries: dict[str, str] | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def document_extensions(self) -> frozenset[str]:
        with self._lock:
            if self._documents is None:
                formats = self.client.get_supported_document_formats()
                self._documents = frozenset(ext.lower() for fmt in formats for ext in fmt.file_extensions)
                logger.info("service supports %d document extensions", len(self._documents))
            return self._documents

    def glossary_formats(self) -> dict[str, str]:
        """Extension -> the format name the service expects in a glossary reference."""
        with self._lock:
            if self._glossaries is None:
                formats = self.client.get_supported_glossary_formats()
                self._glossaries = {ext.lower(): fmt.format for fmt in formats for ext in fmt.file_extensions}
            return dict(self._glossaries)


class PipelineContext:
    def __init__(
        self,
        settings: Settings,
        *,
        storage: StorageClients | None = None,
        translator: DocumentTranslationClient | None = None,
        now: Callable[[], datetime] | None = None,
    ):
        self.settings = settings
        self.storage = storage or StorageClients(settings)
        self._translator = translator
        self.now = now or (lambda: datetime.now(UTC))

    @cached_property
    def translator(self) -> DocumentTranslationClient:
        if self._translator is None:
            self._translator = DocumentTranslationClient.from_settings(self.settings)
        return self._translator

    @cached_property
    def jobs(self) -> JobTable:
        return JobTable(self.storage.jobs_table)

    @cached_property
    def access(self) -> ServiceAccess:
        return ServiceAccess(self.settings, self.storage, now=self.now)

    @cached_property
    def formats(self) -> SupportedFormats:
        return SupportedFormats(self.translator)


_context: PipelineContext | None = None
_context_lock = threading.Lock()


def get_context() -> PipelineContext:
    """The process's context; settings are read (and refused if impossible) on first use."""
    global _context
    with _context_lock:
        if _context is None:
            _context = PipelineContext(get_settings())
        return _context
