"""Everything a pipeline step needs, built once per process on first use (never at import)."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import cached_property
from typing import Generic, TypeVar, cast

from shared.pipeline.translation_written_memo import LooksNoticedHere
from shared.settings import Settings, get_settings
from shared.storage.clients import StorageClients
from shared.storage.record_table import RecordTable
from shared.storage.schedule_table import Lease, ScheduleTable
from shared.storage.service_access import ServiceAccess
from shared.translator import DocumentTranslationClient, TranslatorError, TranslatorService

logger = logging.getLogger(__name__)

T = TypeVar("T")

# How long a looked-up answer is reused by every invocation of this process.
FORMATS_TTL_SECONDS = 3600.0
LANGUAGES_TTL_SECONDS = 3600.0
# When the service's language list cannot be had, codes are only put in canonical case (the
# service still refuses an unknown one) and the list is asked for again after this long.
LANGUAGES_RETRY_SECONDS = 300.0
# A glossary uploaded (or removed) takes effect within this long.
GLOSSARY_NAMES_TTL_SECONDS = 60.0
# A value loaded before what asks for it was written is loaded again, at most this often.
MIN_RELOAD_INTERVAL = timedelta(seconds=1)
# Storage's Last-Modified is cut to the second.
LAST_MODIFIED_RESOLUTION = timedelta(seconds=1)


class TimedCache(Generic[T]):
    """One value, loaded on first use and again once it is older than `ttl_seconds`.
    A failed load is not cached: the next caller tries again."""

    def __init__(
        self,
        load: Callable[[], T],
        ttl_seconds: float,
        *,
        none_ttl_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
        wall_clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ):
        self._load = load
        self._ttl = ttl_seconds
        # A loader may answer None for "not available now": kept for a shorter time.
        self._none_ttl = ttl_seconds if none_ttl_seconds is None else none_ttl_seconds
        self._clock = clock
        self._wall_clock = wall_clock
        self._value: T | None = None
        self._loaded_at: float | None = None
        self._loaded_wall: datetime | None = None
        self._lock = threading.Lock()

    def get(self, *, newer_than: datetime | None = None) -> T:
        """`newer_than`: load again if the value was loaded before that moment (what it describes
        may have changed since), but not more than once a second."""
        with self._lock:
            now = self._clock()
            ttl = self._none_ttl if self._value is None else self._ttl
            stale = (
                newer_than is not None
                and self._loaded_wall is not None
                and self._loaded_wall <= newer_than
                and self._wall_clock() - self._loaded_wall >= MIN_RELOAD_INTERVAL
            )
            if self._loaded_at is None or now - self._loaded_at >= ttl or stale:
                self._value = self._load()
                self._loaded_at = now
                self._loaded_wall = self._wall_clock()
            return cast(T, self._value)

    def clear(self) -> None:
        with self._lock:
            self._loaded_at = None


class LeasesHeldHere:
    """The grouping leases an invocation of this process holds, and until when. A file of such a plan
    waits to be grouped without asking the table who groups it: the table would only say "taken".
    A lease is marked here once taken or renewed and unmarked before it is let go, so that a file
    which found its plan marked after writing its waiting row is seen by the holder's last look."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def hold(self, lease: Lease) -> None:
        with self._lock:
            self._until[lease.plan] = lease.expires_at

    def let_go(self, plan: str) -> None:
        with self._lock:
            self._until.pop(plan, None)

    def holds(self, plan: str, now: datetime) -> bool:
        with self._lock:
            until = self._until.get(plan)
            return until is not None and until > now


class PipelineContext:
    def __init__(
        self,
        settings: Settings,
        *,
        storage: StorageClients | None = None,
        translator: TranslatorService | None = None,
        now: Callable[[], datetime] | None = None,
        sleep: Callable[[float], None] | None = None,
    ):
        self.settings = settings
        self.storage = storage or StorageClients(settings)
        self._translator = translator
        self.now = now or (lambda: datetime.now(UTC))
        # How a step waits for time to pass on that clock (a test's clock moves on instead).
        self.sleep = sleep or time.sleep
        self.document_extensions = TimedCache(self._load_document_extensions, FORMATS_TTL_SECONDS)
        self.glossary_formats = TimedCache(self._load_glossary_formats, FORMATS_TTL_SECONDS)
        self.languages = TimedCache(
            self._load_languages, LANGUAGES_TTL_SECONDS, none_ttl_seconds=LANGUAGES_RETRY_SECONDS
        )
        self.glossary_names = TimedCache(
            self._load_glossary_names, GLOSSARY_NAMES_TTL_SECONDS, wall_clock=lambda: self.now()
        )
        # Who holds a lease: this process, told apart from every other instance and restart.
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.leases_here = LeasesHeldHere()
        self.looks_here = LooksNoticedHere()

    @cached_property
    def translator(self) -> TranslatorService:
        if self._translator is None:
            client: TranslatorService = DocumentTranslationClient.from_settings(self.settings)
            self._translator = client
        return self._translator

    @cached_property
    def records(self) -> RecordTable:
        return RecordTable(self.storage.records_table)

    @cached_property
    def schedule(self) -> ScheduleTable:
        return ScheduleTable(self.storage.records_table)

    @cached_property
    def access(self) -> ServiceAccess:
        return ServiceAccess(self.settings, self.storage, now=self.now)

    def _load_document_extensions(self) -> frozenset[str]:
        formats = self.translator.get_supported_document_formats()
        extensions = frozenset(ext.lower() for fmt in formats for ext in fmt.file_extensions)
        logger.info("the service supports %d document extensions", len(extensions))
        return extensions

    def _load_glossary_formats(self) -> dict[str, str]:
        """Extension -> the format name the service expects in a glossary reference."""
        formats = self.translator.get_supported_glossary_formats()
        return {ext.lower(): fmt.format for fmt in formats for ext in fmt.file_extensions}

    def _load_languages(self) -> dict[str, str] | None:
        """Lower-cased code -> the service's spelling of every language it translates into."""
        try:
            return self.translator.get_supported_languages()
        except TranslatorError as exc:
            logger.warning(
                "cannot read the service's languages (%s); codes are checked by the service itself for now", exc
            )
            return None

    def _load_glossary_names(self) -> frozenset[str]:
        from azure.core.exceptions import ResourceNotFoundError

        container = self.storage.container(self.settings.glossary_container)
        try:
            # Glossaries sit at the container's root; names in folders are listed too, to say why
            # they are not used. One listing page holds 5,000 names.
            return frozenset(blob.name for blob in container.list_blobs())
        except ResourceNotFoundError:
            logger.warning(
                "glossary container %s does not exist; translating without glossaries",
                self.settings.glossary_container,
            )
            return frozenset()


_context: PipelineContext | None = None
_context_lock = threading.Lock()


def get_context() -> PipelineContext:
    """The process's context; settings are read (and refused if impossible) on first use."""
    global _context
    with _context_lock:
        if _context is None:
            _context = PipelineContext(get_settings())
        return _context
