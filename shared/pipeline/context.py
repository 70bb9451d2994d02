"""Everything a pipeline step needs, wired once per process on first use (never at import).

This is where the parts meet: the settings become the storage clients, the Translator client's
own config and the app's credential; the caches of what the service supports are set up here.
"""

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

from shared.identity import app_credential
from shared.pipeline import outcome_events, service_support
from shared.pipeline.leases_held_here import LeasesHeldHere
from shared.pipeline.outcome_events import OutcomeSink
from shared.pipeline.rules import NO_RULES, RULES_TROUBLE, RulesBlob, RulesInForce, RulesKeeper, rules_blob_name
from shared.pipeline.timed_cache import TimedCache
from shared.pipeline.translation_written_memo import LooksNoticedHere
from shared.redaction import register_secret
from shared.settings import Settings, get_settings
from shared.storage.app_state import Trouble
from shared.storage.clients import StorageClients
from shared.storage.record_keys import unquoted_etag
from shared.storage.record_table import RecordTable
from shared.storage.schedule_table import ScheduleTable
from shared.storage.service_access import ServiceAccess
from shared.storage.spend_counters import SpendCounters
from shared.translator import DocumentTranslationClient, TranslatorConfig, TranslatorService

logger = logging.getLogger(__name__)

# How long a looked-up answer is reused by every invocation of this process.
FORMATS_TTL_SECONDS = 3600.0
LANGUAGES_TTL_SECONDS = 3600.0
# When the service's language list cannot be had, codes are only put in canonical case (the
# service still refuses an unknown one) and the list is asked for again after this long.
LANGUAGES_RETRY_SECONDS = 300.0
# A glossary uploaded (or removed) takes effect within this long.
GLOSSARY_NAMES_TTL_SECONDS = 60.0
# A change to the rules document (RULES_BLOB) applies within this long.
RULES_TTL_SECONDS = 60.0
# Storage's Last-Modified is cut to the second.
LAST_MODIFIED_RESOLUTION = timedelta(seconds=1)


def translator_config(settings: Settings) -> TranslatorConfig:
    """The app's settings, as the Translator client is told them."""
    return TranslatorConfig(
        endpoint=settings.translator_endpoint,
        key=settings.translator_key,
        region=settings.translator_region,
        api_version=settings.translator_api_version,
        timeout_seconds=float(settings.translator_timeout_seconds),
        retry_budget_seconds=float(settings.translator_retry_budget_seconds),
    )


def translator_client(settings: Settings) -> DocumentTranslationClient:
    """Key auth when TRANSLATOR_KEY is set; else the app's managed identity (its credential is
    built on the first token request)."""
    credential = None if settings.translator_key else app_credential(settings.identity_client_id)
    return DocumentTranslationClient.from_config(translator_config(settings), credential)


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
        # From here on, the configured keys are masked wherever they would appear.
        for secret in settings.secret_values:
            register_secret(secret)
        self.storage = storage or StorageClients(settings)
        self._translator = translator
        self.now = now or (lambda: datetime.now(UTC))
        # How a step waits for time to pass on that clock (a test's clock moves on instead).
        self.sleep = sleep or time.sleep
        self.document_extensions = TimedCache(
            lambda: service_support.document_extensions(self.translator), FORMATS_TTL_SECONDS
        )
        self.glossary_formats = TimedCache(
            lambda: service_support.glossary_formats(self.translator), FORMATS_TTL_SECONDS
        )
        self.languages = TimedCache(
            lambda: service_support.languages(self.translator),
            LANGUAGES_TTL_SECONDS,
            none_ttl_seconds=LANGUAGES_RETRY_SECONDS,
        )
        self.glossary_names = TimedCache(
            lambda: service_support.glossary_names(self.storage, self.settings.glossary_container),
            GLOSSARY_NAMES_TTL_SECONDS,
            wall_clock=lambda: self.now(),
        )
        # The last good rules document is kept here: a bad one never stops the drop folder.
        self.rules_keeper = RulesKeeper(
            read=self.read_rules_blob, languages=self.languages.get, flag=self._flag_rules, clear=self._clear_rules_flag
        )
        self.rules = TimedCache(self._load_rules, RULES_TTL_SECONDS)
        # Who holds a lease: this process, told apart from every other instance and restart.
        self.instance_id = f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        self.leases_here = LeasesHeldHere()
        self.looks_here = LooksNoticedHere()

    def _load_rules(self) -> RulesInForce:
        if self.settings.rules_blob is None:
            return RulesInForce(NO_RULES)
        return self.rules_keeper.load()

    def read_rules_blob(self) -> RulesBlob | None:
        """The stored rules document (RULES_BLOB) as it is; None when there is none."""
        from azure.core.exceptions import ResourceNotFoundError

        located = rules_blob_name(self.settings.rules_blob)
        if located is None:
            return None
        container, name = located
        try:
            downloaded = self.storage.container(container).get_blob_client(name).download_blob()
            return RulesBlob(downloaded.readall(), unquoted_etag(downloaded.properties.etag))
        except ResourceNotFoundError:
            return None

    def _flag_rules(self, reason: str, _version: str) -> None:
        now = self.now()
        earlier = self.records.state.get_trouble(RULES_TROUBLE)
        self.records.state.set_trouble(
            RULES_TROUBLE, Trouble(since=earlier.since if earlier else now, reason=reason, last_attempt=now)
        )

    def _clear_rules_flag(self) -> None:
        self.records.state.clear_trouble(RULES_TROUBLE)

    @cached_property
    def translator(self) -> TranslatorService:
        if self._translator is None:
            self._translator = translator_client(self.settings)
        return self._translator

    @cached_property
    def records(self) -> RecordTable:
        return RecordTable(self.storage.records_table)

    @cached_property
    def spend(self) -> SpendCounters:
        """The character budget's counters (used only when a budget is set)."""
        return SpendCounters(self.storage.records_table)

    @cached_property
    def schedule(self) -> ScheduleTable:
        return ScheduleTable(self.storage.records_table)

    @cached_property
    def outcome_sink(self) -> OutcomeSink | None:
        """Where outcome events go (OUTCOME_EVENTS); built on first use, its client on first send."""
        return outcome_events.sink_for(self)

    @cached_property
    def access(self) -> ServiceAccess:
        return ServiceAccess(self.settings, self.storage, now=self.now)


_context: PipelineContext | None = None
_context_lock = threading.Lock()


def get_context() -> PipelineContext:
    """The process's context; settings are read (and refused if impossible) on first use."""
    global _context
    with _context_lock:
        if _context is None:
            _context = PipelineContext(get_settings())
        return _context
