"""Typed settings, read once from the environment (app settings in Azure, local.settings.json locally).

Every name here appears in local.settings.sample.json, in infra/ (the function app's
settings) and in the README's settings table. `SETTINGS_SPEC` is the single list all
three are checked against. Each entry carries its default and its parser (which refuses an
impossible value, saying why); the `Settings` field it fills has its name in lower case. Rules
between settings are the small named checks of `CROSS_CHECKS`.

Reading settings has no side effect: whoever wires the app registers `Settings.secret_values`
with redaction (PipelineContext does).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Any
from urllib.parse import urlparse

from shared.translator import API_VERSIONS


class SettingsError(ValueError):
    """A setting is missing or impossible; the message says what to fix."""


class StorageAccessMode(StrEnum):
    # The service reads and writes blobs through short-lived SAS URLs we sign.
    SAS = "sas"
    # Plain URLs; the Translator's system-assigned identity holds a storage role.
    MANAGED_IDENTITY = "managed-identity"


class Switch(StrEnum):
    ON = "on"
    OFF = "off"


class OutcomeEventSink(StrEnum):
    """Where each final record's outcome event goes (outcome_events.py)."""

    QUEUE = "queue"  # a storage queue of the records' account (works on Azurite)
    EVENTGRID = "eventgrid"  # an Event Grid custom topic, with the app's identity
    NONE = "none"  # no event


class RetranslatePolicy(StrEnum):
    # A new version of a translated file is translated again; the earlier translation is replaced.
    REPLACE = "replace"
    # A new version of a translated file is rejected; the earlier translation stays.
    KEEP = "keep"


# The connection name the bindings use (`connection="TRANSLATION_STORAGE"`). The Functions
# host resolves it as a connection string in TRANSLATION_STORAGE or as identity-based
# TRANSLATION_STORAGE__blobServiceUri / __queueServiceUri / __tableServiceUri (+ __credential, __clientId).
STORAGE_CONNECTION = "TRANSLATION_STORAGE"

MAX_TARGET_LANGUAGES = 10  # per batch, SERVICE_NOTES.md
MAX_GROUPING_WINDOW_SECONDS = 60
POISON_SUFFIX = "-poison"  # the queue extension moves a message that failed maxDequeueCount times here

# Blob and queue names: 3-63 lowercase letters, digits and single hyphens.
_CONTAINER_NAME = re.compile(r"^(?=.{3,63}$)[a-z0-9]+(-[a-z0-9]+)*$")
# Table names: 3-63 alphanumerics, starting with a letter.
_TABLE_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9]{2,62}$")
_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_ENDPOINT = re.compile(r"^https?://[^/?#\s]+(/[^?#\s]*)?$")


# A parser turns a setting's text (stripped; its default when empty) into its value, or raises
# ValueError with the whole sentence an operator reads: which setting, what it got, what is allowed.
Parser = Callable[[str, str], Any]


def text(_name: str, raw: str) -> str:
    return raw


def optional_text(_name: str, raw: str) -> str | None:
    return raw or None


def whole_number(minimum: int, maximum: int | None = None, too_long: str = "") -> Parser:
    def parse(name: str, raw: str) -> int:
        try:
            number = int(raw)
        except ValueError as exc:
            raise ValueError(f"{name} must be a whole number, got {raw!r}") from exc
        if number < minimum:
            raise ValueError(f"{name} must be at least {minimum}, got {number}")
        if maximum is not None and number > maximum:
            raise ValueError(f"{name}={number} is longer than {maximum}: {too_long}")
        return number

    return parse


def optional_whole_number(minimum: int) -> Parser:
    """A whole number of at least `minimum`, or None when the setting is empty."""
    parse_number = whole_number(minimum)

    def parse(name: str, raw: str) -> int | None:
        return parse_number(name, raw) if raw else None

    return parse


def optional_price(name: str, raw: str) -> float | None:
    if not raw:
        return None
    try:
        price = float(raw)
    except ValueError as exc:
        raise ValueError(f"{name} must be a number (like 15 or 7.5), got {raw!r}") from exc
    if price < 0 or price != price or price == float("inf"):
        raise ValueError(f"{name} must be a price of zero or more, got {raw!r}")
    return price


def one_of(enum: type[StrEnum]) -> Parser:
    def parse(name: str, raw: str) -> StrEnum:
        allowed = [member.value for member in enum]
        if raw.lower() not in allowed:
            raise ValueError(f"{name} must be one of {', '.join(allowed)}, got {raw.lower()!r}")
        return enum(raw.lower())

    return parse


def switch(name: str, raw: str) -> bool:
    return bool(one_of(Switch)(name, raw) == Switch.ON)


def container_name(name: str, raw: str) -> str:
    if not _CONTAINER_NAME.match(raw):
        raise ValueError(f"{name}={raw!r} is not a valid container name (3-63 lowercase letters, digits, hyphens)")
    return raw


def queue_name(name: str, raw: str) -> str:
    # Its poison queue's name must fit too.
    if not _CONTAINER_NAME.match(raw) or len(raw) > 63 - len(POISON_SUFFIX):
        raise ValueError(
            f"{name}={raw!r} is not a valid queue name with room for '{POISON_SUFFIX}' "
            "(3-56 lowercase letters, digits, hyphens)"
        )
    return raw


def optional_https_endpoint(name: str, raw: str) -> str | None:
    if not raw:
        return None
    url = raw.rstrip("/")
    if not _ENDPOINT.match(url):
        raise ValueError(f"{name} must be an http(s) URL, got {url!r}")
    return url


def table_name(name: str, raw: str) -> str:
    if not _TABLE_NAME.match(raw):
        raise ValueError(f"{name}={raw!r} is not a valid table name (3-63 letters/digits, starting with a letter)")
    return raw


def ncrontab(name: str, raw: str) -> str:
    # NCRONTAB has six fields (seconds first); a five-field cron line is the usual mistake.
    if len(raw.split()) != 6:
        raise ValueError(
            f"{name}={raw!r} is not an NCRONTAB schedule: it needs six fields "
            "(second minute hour day month weekday), e.g. '*/5 * * * * *'"
        )
    return raw


def target_languages(name: str, raw: str) -> tuple[str, ...]:
    try:
        return parse_languages(raw)
    except ValueError as exc:
        raise ValueError(f"{name}: {exc}") from exc


def source_language(name: str, raw: str) -> str | None:
    if not raw:
        return None
    if not _LANGUAGE_CODE.match(raw):
        raise ValueError(f"{name}={raw!r} is not a language code (like en, zh-Hans)")
    return canonical_language(raw)


def blob_path(name: str, raw: str) -> str | None:
    """`<container>/<blob name>`, or None when empty."""
    if not raw:
        return None
    container, _, blob = raw.partition("/")
    if not _CONTAINER_NAME.match(container) or not blob or blob.endswith("/"):
        raise ValueError(f"{name}={raw!r} must be <container>/<blob name> (like glossaries/rules.json), or empty")
    return raw


def api_version(name: str, raw: str) -> str:
    if raw not in API_VERSIONS:
        raise ValueError(f"{name} must be one of {', '.join(API_VERSIONS)}, got {raw!r}")
    return raw


def endpoint(name: str, raw: str) -> str:
    url = raw.rstrip("/")
    if not _ENDPOINT.match(url):
        raise ValueError(
            f"{name} must be the Translator's http(s) URL (https://<name>.cognitiveservices.azure.com), got {url!r}"
        )
    return url


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: str | None  # None: required
    meaning: str
    parse: Parser = text
    # False: only checked (a schedule the bindings read as %NAME%), not a field of Settings.
    is_field: bool = True

    @property
    def attribute(self) -> str | None:
        """The `Settings` field this setting fills."""
        return self.name.lower() if self.is_field else None


SETTINGS_SPEC: tuple[SettingSpec, ...] = (
    SettingSpec("SOURCE_CONTAINER", "source", "Container users drop files into (blob trigger path).", container_name),
    SettingSpec(
        "TARGET_CONTAINER",
        "target",
        "Container the service writes translations into, as <lang>/<source path>.",
        container_name,
    ),
    SettingSpec(
        "GLOSSARY_CONTAINER",
        "glossaries",
        "Container of optional glossaries, named <from>-<to>.<ext> or <to>.<ext>.",
        container_name,
    ),
    SettingSpec("REPORTS_CONTAINER", "reports", "Container of one JSON report per source file.", container_name),
    SettingSpec(
        "RECORDS_TABLE", "translationrecords", "Table Storage table of records (one per source version).", table_name
    ),
    SettingSpec(
        "RESULTS_QUEUE",
        "translation-results",
        "Queue of finished jobs and rejections for the record function.",
        queue_name,
    ),
    SettingSpec(
        "POLL_SHARDS_QUEUE",
        "translation-poll-shards",
        "Queue on which a busy poll hands shards of due work to the poll_shard function (any instance).",
        queue_name,
    ),
    SettingSpec(
        "OUTCOME_EVENTS",
        "queue",
        "Where each final record publishes its CloudEvents outcome event: queue (OUTCOME_QUEUE), eventgrid "
        "(OUTCOME_TOPIC_ENDPOINT) or none.",
        one_of(OutcomeEventSink),
    ),
    SettingSpec(
        "OUTCOME_QUEUE",
        "translation-outcomes",
        "Storage queue (base64 messages, the records' account) of outcome events when OUTCOME_EVENTS=queue.",
        queue_name,
    ),
    SettingSpec(
        "OUTCOME_TOPIC_ENDPOINT",
        "",
        "Event Grid custom topic endpoint (https://<topic>.<region>-1.eventgrid.azure.net/api/events) when "
        "OUTCOME_EVENTS=eventgrid; the app's identity sends (EventGrid Data Sender), no key.",
        optional_https_endpoint,
    ),
    SettingSpec(
        "POLL_SCHEDULE",
        "0 */2 * * * *",
        "NCRONTAB schedule of the poll function; each tick reads only what is due (one table query when idle).",
        ncrontab,
        is_field=False,
    ),
    SettingSpec(
        "GROUPING_WINDOW_SECONDS",
        "30",
        "The longest that files still arriving wait to share one job (0-60; the first job of a bulk waits at most "
        "5 s); a file dropped alone is submitted at once.",
        whole_number(
            0,
            MAX_GROUPING_WINDOW_SECONDS,
            "files would wait that long for their job; a bulk drop fills its jobs within seconds",
        ),
    ),
    SettingSpec(
        "TARGET_LANGUAGES",
        "fr,de",
        "Comma-separated target languages (at most 10); blob metadata `targetlanguages` overrides per file.",
        target_languages,
    ),
    SettingSpec("SOURCE_LANGUAGE", "", "Source language code; empty lets the service detect it.", source_language),
    SettingSpec(
        "TRANSLATION_CATEGORY", "", "Custom Translator category id; empty for the general model.", optional_text
    ),
    SettingSpec(
        "RULES_BLOB",
        "",
        "Rules per folder: <container>/<blob> of a JSON document giving files under a path prefix their languages,"
        " glossaries, category and source language (README: Rules per folder); empty: no rules.",
        blob_path,
    ),
    SettingSpec(
        "TRANSLATOR_ENDPOINT",
        None,
        "Translator custom-domain endpoint, https://<name>.cognitiveservices.azure.com.",
        endpoint,
    ),
    SettingSpec(
        "TRANSLATOR_KEY",
        "",
        "Translator key; empty authenticates with the app's managed identity (Entra token).",
        optional_text,
    ),
    SettingSpec("TRANSLATOR_REGION", "", "Translator region, sent with a key for regional resources.", optional_text),
    SettingSpec("TRANSLATOR_API_VERSION", "2026-03-01", "Route flavour: 2026-03-01, 2024-05-01 or v1.1.", api_version),
    SettingSpec(
        "STORAGE_ACCESS_MODE",
        "sas",
        "How the service reaches storage: sas or managed-identity.",
        one_of(StorageAccessMode),
    ),
    SettingSpec("SAS_EXPIRY_MINUTES", "240", "Lifetime of the SAS URLs handed to the service.", whole_number(5)),
    SettingSpec(
        "RETRANSLATE_POLICY",
        "replace",
        "New version of a translated file: replace (translate again) or keep (reject).",
        one_of(RetranslatePolicy),
    ),
    SettingSpec(
        "SUBMIT_RECONCILE_AFTER_SECONDS",
        "300",
        "Age of a submission attempt with no job id after which it is submitted again if the service has no job"
        " for it; at least 3 x TRANSLATOR_TIMEOUT_SECONDS.",
        whole_number(0),
    ),
    SettingSpec(
        "TRANSLATOR_TIMEOUT_SECONDS",
        "30",
        "Timeout of one call to the Translator; retries of a call stop after twice this.",
        whole_number(1),
    ),
    SettingSpec(
        "STUCK_JOB_AFTER_MINUTES",
        "120",
        "A job not final after this long is flagged as needing attention; less than SAS_EXPIRY_MINUTES.",
        whole_number(1),
    ),
    SettingSpec(
        "CATCH_UP_SCHEDULE",
        "0 */10 * * * *",
        "NCRONTAB schedule of the catch-up that submits source blobs whose event never arrived.",
        ncrontab,
        is_field=False,
    ),
    SettingSpec(
        "REUSE_TRANSLATIONS",
        "on",
        "on: a file whose bytes and plan were translated before gets copies of those translations, with no job and"
        " no charge (a metadata change, the same file uploaded again or under another name); off: always translate.",
        switch,
    ),
    SettingSpec(
        "CATCH_UP_AFTER_SECONDS",
        "600",
        "Age of a source blob with no record after which the catch-up submits it.",
        whole_number(0),
    ),
    SettingSpec(
        "CHARACTER_BUDGET_PER_DAY",
        "",
        "Characters (x target languages) the app may have translated per UTC day; a file that would pass it"
        " waits (BudgetExceeded) until the day turns or the budget is raised. Empty: no daily budget.",
        optional_whole_number(1),
    ),
    SettingSpec(
        "CHARACTER_BUDGET_PER_MONTH",
        "",
        "Characters (x target languages) per UTC calendar month, as CHARACTER_BUDGET_PER_DAY. Empty: no monthly"
        " budget.",
        optional_whole_number(1),
    ),
    SettingSpec(
        "PRICE_PER_MILLION_CHARACTERS",
        "",
        "Optional price of a million characters (your currency): status and reports show spend as money too.",
        optional_price,
    ),
    SettingSpec(
        "AZURE_CLIENT_ID",
        "",
        "Client id of the app's user-assigned identity (empty: system identity / developer login).",
        optional_text,
    ),
)


def retry_budget_seconds(timeout_seconds: int) -> int:
    """How long one call to the Translator may keep retrying: twice its timeout."""
    return 2 * timeout_seconds


def submission_max_seconds(timeout_seconds: int) -> int:
    """After this long a submission attempt can no longer create a job: its last retry has timed out."""
    return retry_budget_seconds(timeout_seconds) + timeout_seconds


@dataclass(frozen=True)
class StorageConnection:
    """The storage account the bindings reach through `TRANSLATION_STORAGE`."""

    connection_string: str | None
    blob_service_uri: str | None
    queue_service_uri: str | None
    table_service_uri: str | None
    client_id: str | None

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None

    @property
    def account_name(self) -> str | None:
        """The storage account's name: the connection string's AccountName, else the first label of
        the table service's host."""
        if self.connection_string:
            return _connection_string_field(self.connection_string, "AccountName")
        if self.table_service_uri:
            return (urlparse(self.table_service_uri).hostname or "").split(".")[0] or None
        return None


@dataclass(frozen=True)
class Settings:
    # Every field but `storage` is filled by the SETTINGS_SPEC entry of its name in capitals.
    storage: StorageConnection
    source_container: str
    target_container: str
    glossary_container: str
    reports_container: str
    records_table: str
    results_queue: str
    poll_shards_queue: str
    grouping_window_seconds: int
    target_languages: tuple[str, ...]
    source_language: str | None
    translation_category: str | None
    rules_blob: str | None
    translator_endpoint: str
    translator_key: str | None
    translator_region: str | None
    translator_api_version: str
    storage_access_mode: StorageAccessMode
    sas_expiry_minutes: int
    retranslate_policy: RetranslatePolicy
    submit_reconcile_after_seconds: int
    translator_timeout_seconds: int
    stuck_job_after_minutes: int
    catch_up_after_seconds: int
    azure_client_id: str | None
    reuse_translations: bool = True
    outcome_events: OutcomeEventSink = OutcomeEventSink.QUEUE
    outcome_queue: str = "translation-outcomes"
    outcome_topic_endpoint: str | None = None
    character_budget_per_day: int | None = None
    character_budget_per_month: int | None = None
    price_per_million_characters: float | None = None

    @property
    def budget_set(self) -> bool:
        """A character budget applies: files are estimated and may wait for it (budget.py)."""
        return self.character_budget_per_day is not None or self.character_budget_per_month is not None

    @property
    def poison_queue(self) -> str:
        return f"{self.results_queue}{POISON_SUFFIX}"

    @property
    def translator_retry_budget_seconds(self) -> int:
        """How long one call to the Translator may keep retrying (429, 5xx, connection refused)."""
        return retry_budget_seconds(self.translator_timeout_seconds)

    @property
    def submission_max_seconds(self) -> int:
        """After this long a submission attempt can no longer create a job: its last retry has timed out."""
        return submission_max_seconds(self.translator_timeout_seconds)

    @property
    def identity_client_id(self) -> str | None:
        """The user-assigned identity the app's own code (storage and Translator calls) authenticates
        with: the storage connection's `__clientId` (the bindings' identity) when set, else
        AZURE_CLIENT_ID; None: the system-assigned identity or a developer's login."""
        return self.storage.client_id or self.azure_client_id

    @property
    def secret_values(self) -> tuple[str, ...]:
        """The secrets these settings hold (the Translator key, the storage account key), to mask."""
        account_key = (
            _connection_string_field(self.storage.connection_string, "AccountKey")
            if self.storage.connection_string
            else None
        )
        return tuple(secret for secret in (self.translator_key, account_key) if secret)

    def __repr__(self) -> str:  # the key must never reach a log line
        return (
            f"Settings(source={self.source_container!r}, target={self.target_container!r}, "
            f"endpoint={self.translator_endpoint!r}, key={'***' if self.translator_key else None}, "
            f"api={self.translator_api_version!r}, access={self.storage_access_mode.value!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        """The settings `env` (the process environment by default) gives; SettingsError lists every
        problem at once."""
        env = os.environ if env is None else env
        problems: list[str] = []
        values: dict[str, Any] = {}
        for spec in SETTINGS_SPEC:
            raw = (env.get(spec.name) or "").strip()
            if not raw and spec.default is None:
                problems.append(f"{spec.name} is required: {spec.meaning}")
                continue
            try:
                values[spec.name] = spec.parse(spec.name, raw or spec.default or "")
            except ValueError as exc:
                problems.append(str(exc))
        for check in CROSS_CHECKS:
            if all(name in values for name in check.reads):
                problem = check.problem(*(values[name] for name in check.reads))
                if problem:
                    problems.append(problem)
        storage = _storage_connection(env, problems)
        if problems or storage is None:
            raise SettingsError("Invalid settings:\n- " + "\n- ".join(problems))
        return cls(
            storage=storage,
            **{spec.attribute: values[spec.name] for spec in SETTINGS_SPEC if spec.attribute is not None},
        )


# --- rules between settings --------------------------------------------------------------


def containers_differ(source: str, target: str, glossary: str, reports: str) -> str | None:
    containers = {
        "SOURCE_CONTAINER": source,
        "TARGET_CONTAINER": target,
        "GLOSSARY_CONTAINER": glossary,
        "REPORTS_CONTAINER": reports,
    }
    if len(set(containers.values())) == len(containers):
        return None
    return (
        "SOURCE_CONTAINER, TARGET_CONTAINER, GLOSSARY_CONTAINER and REPORTS_CONTAINER must all differ "
        f"(got {containers}): translations written into the source would be translated again"
    )


def rules_outside_source_and_target(rules_blob: str | None, source: str, target: str) -> str | None:
    container = (rules_blob or "").partition("/")[0]
    if not rules_blob or container not in (source, target):
        return None
    return (
        f"RULES_BLOB={rules_blob!r} is in the {'source' if container == source else 'target'} container: "
        "keep it in a container of the app's own (like the glossaries container), where it is not translated"
    )


def queues_differ(results_queue: str, poll_shards_queue: str) -> str | None:
    if poll_shards_queue != results_queue:
        return None
    return "POLL_SHARDS_QUEUE and RESULTS_QUEUE must differ: each queue has its own function"


def queues_differ_from_outcomes(outcome_queue: str, results_queue: str, poll_shards_queue: str) -> str | None:
    if outcome_queue not in (results_queue, poll_shards_queue):
        return None
    return "OUTCOME_QUEUE must differ from RESULTS_QUEUE and POLL_SHARDS_QUEUE: its messages are for other consumers"


def topic_for_eventgrid(sink: OutcomeEventSink, topic_endpoint: str | None) -> str | None:
    if sink is not OutcomeEventSink.EVENTGRID or topic_endpoint:
        return None
    return "OUTCOME_EVENTS=eventgrid needs OUTCOME_TOPIC_ENDPOINT (the custom topic's endpoint)"


def reconcile_outlasts_a_submission(reconcile_after: int, timeout: int) -> str | None:
    longest = submission_max_seconds(timeout)
    if reconcile_after >= longest:
        return None
    return (
        f"SUBMIT_RECONCILE_AFTER_SECONDS={reconcile_after} is shorter than a submission can take "
        f"({longest} s: TRANSLATOR_TIMEOUT_SECONDS={timeout} per call, retried for twice that): "
        f"a job could appear after it was submitted again. Raise it to at least {longest} "
        "or lower TRANSLATOR_TIMEOUT_SECONDS"
    )


def stuck_before_sas_expires(stuck_after: int, sas_expiry: int) -> str | None:
    if stuck_after < sas_expiry:
        return None
    return (
        f"STUCK_JOB_AFTER_MINUTES={stuck_after} must be less than SAS_EXPIRY_MINUTES={sas_expiry}: "
        "a job still running when its SAS expires can no longer write its translations"
    )


@dataclass(frozen=True)
class CrossCheck:
    """A rule between settings: `problem` is called with their values (in `reads` order), once each
    of them parsed, and says what is wrong or None."""

    reads: tuple[str, ...]
    problem: Callable[..., str | None]


CROSS_CHECKS: tuple[CrossCheck, ...] = (
    CrossCheck(("SOURCE_CONTAINER", "TARGET_CONTAINER", "GLOSSARY_CONTAINER", "REPORTS_CONTAINER"), containers_differ),
    CrossCheck(("RESULTS_QUEUE", "POLL_SHARDS_QUEUE"), queues_differ),
    CrossCheck(("OUTCOME_QUEUE", "RESULTS_QUEUE", "POLL_SHARDS_QUEUE"), queues_differ_from_outcomes),
    CrossCheck(("OUTCOME_EVENTS", "OUTCOME_TOPIC_ENDPOINT"), topic_for_eventgrid),
    CrossCheck(("RULES_BLOB", "SOURCE_CONTAINER", "TARGET_CONTAINER"), rules_outside_source_and_target),
    CrossCheck(("SUBMIT_RECONCILE_AFTER_SECONDS", "TRANSLATOR_TIMEOUT_SECONDS"), reconcile_outlasts_a_submission),
    CrossCheck(("STUCK_JOB_AFTER_MINUTES", "SAS_EXPIRY_MINUTES"), stuck_before_sas_expires),
)


def _connection_string_field(connection_string: str, field: str) -> str | None:
    for part in connection_string.split(";"):
        name, _, content = part.partition("=")
        if name.strip().lower() == field.lower():
            return content.strip() or None
    return None


def canonical_language(code: str) -> str:
    """A BCP 47 code in its canonical case, as the Translator spells it: `FR` -> `fr`,
    `zh-hans` -> `zh-Hans`, `fr-ca` -> `fr-CA`, `sr-latn` -> `sr-Latn`, `tlh-latn` -> `tlh-Latn`."""
    parts = code.strip().split("-")
    spelled = [parts[0].lower()]
    for part in parts[1:]:
        if len(part) == 4 and part.isalpha():
            spelled.append(part.title())  # script
        elif len(part) in (2, 3) and (part.isalpha() or part.isdigit()):
            spelled.append(part.upper())  # region
        else:
            spelled.append(part.lower())
    return "-".join(spelled)


def parse_languages(raw: str) -> tuple[str, ...]:
    """'fr, DE,fr' -> ('fr', 'de'), in canonical case; raises ValueError with the reason for an unusable list."""
    languages: list[str] = []
    for part in raw.replace(";", ",").split(","):
        code = part.strip()
        if not code:
            continue
        if not _LANGUAGE_CODE.match(code):
            raise ValueError(f"{code!r} is not a language code (like fr, de, zh-Hans)")
        code = canonical_language(code)
        if code not in languages:
            languages.append(code)
    if not languages:
        raise ValueError("no target language given")
    if len(languages) > MAX_TARGET_LANGUAGES:
        raise ValueError(f"{len(languages)} target languages given; the service allows at most {MAX_TARGET_LANGUAGES}")
    return tuple(languages)


def _storage_connection(env: Mapping[str, str], problems: list[str]) -> StorageConnection | None:
    prefix = STORAGE_CONNECTION
    connection_string = (env.get(prefix) or "").strip() or None
    service_uri = (env.get(f"{prefix}__serviceUri") or "").strip() or None
    blob_uri = (env.get(f"{prefix}__blobServiceUri") or "").strip() or service_uri
    queue_uri = (env.get(f"{prefix}__queueServiceUri") or "").strip() or None
    table_uri = (env.get(f"{prefix}__tableServiceUri") or "").strip() or None
    if connection_string is None:
        missing = [
            f"{prefix}__{name}"
            for name, uri in (
                ("blobServiceUri", blob_uri),
                ("queueServiceUri", queue_uri),
                ("tableServiceUri", table_uri),
            )
            if uri is None
        ]
        if missing:
            problems.append(
                f"storage connection {prefix} is not set: give a connection string in {prefix} "
                f"or identity-based URIs ({', '.join(missing)} missing)"
            )
            return None
    return StorageConnection(
        connection_string=connection_string,
        blob_service_uri=blob_uri,
        queue_service_uri=queue_uri,
        table_service_uri=table_uri,
        client_id=(env.get(f"{prefix}__clientId") or "").strip() or None,
    )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read on first use (never at import time)."""
    return Settings.from_env()
