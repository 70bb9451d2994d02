"""Typed settings, read once from the environment (app settings in Azure, local.settings.json locally).

Every name here appears in local.settings.sample.json, in infra/ (the function app's
settings) and in the README's settings table. `SETTINGS_SPEC` is the single list all
three are checked against.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache

from shared.redaction import register_secret
from shared.translator.routes import API_VERSIONS


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


@dataclass(frozen=True)
class SettingSpec:
    name: str
    default: str | None  # None: required
    meaning: str


# The one list of settings the code reads (besides the storage connection, above).
SETTINGS_SPEC: tuple[SettingSpec, ...] = (
    SettingSpec("SOURCE_CONTAINER", "source", "Container users drop files into (blob trigger path)."),
    SettingSpec(
        "TARGET_CONTAINER", "target", "Container the service writes translations into, as <lang>/<source path>."
    ),
    SettingSpec(
        "GLOSSARY_CONTAINER", "glossaries", "Container of optional glossaries, named <from>-<to>.<ext> or <to>.<ext>."
    ),
    SettingSpec("REPORTS_CONTAINER", "reports", "Container of one JSON report per source file."),
    SettingSpec("RECORDS_TABLE", "translationrecords", "Table Storage table of records (one per source version)."),
    SettingSpec(
        "RESULTS_QUEUE", "translation-results", "Queue of finished jobs and rejections for the record function."
    ),
    SettingSpec(
        "POLL_SHARDS_QUEUE",
        "translation-poll-shards",
        "Queue on which a busy poll hands shards of due work to the poll_shard function (any instance).",
    ),
    SettingSpec(
        "POLL_SCHEDULE",
        "0 */2 * * * *",
        "NCRONTAB schedule of the poll function; each tick reads only what is due (one table query when idle).",
    ),
    SettingSpec(
        "GROUPING_WINDOW_SECONDS",
        "30",
        "The longest that files still arriving wait to share one job (0-60; the first job of a bulk waits at most "
        "5 s); a file dropped alone is submitted at once.",
    ),
    SettingSpec(
        "TARGET_LANGUAGES",
        "fr,de",
        "Comma-separated target languages (at most 10); blob metadata `targetlanguages` overrides per file.",
    ),
    SettingSpec("SOURCE_LANGUAGE", "", "Source language code; empty lets the service detect it."),
    SettingSpec("TRANSLATION_CATEGORY", "", "Custom Translator category id; empty for the general model."),
    SettingSpec(
        "TRANSLATOR_ENDPOINT", None, "Translator custom-domain endpoint, https://<name>.cognitiveservices.azure.com."
    ),
    SettingSpec(
        "TRANSLATOR_KEY", "", "Translator key; empty authenticates with the app's managed identity (Entra token)."
    ),
    SettingSpec("TRANSLATOR_REGION", "", "Translator region, sent with a key for regional resources."),
    SettingSpec("TRANSLATOR_API_VERSION", "2026-03-01", "Route flavour: 2026-03-01, 2024-05-01 or v1.1."),
    SettingSpec("STORAGE_ACCESS_MODE", "sas", "How the service reaches storage: sas or managed-identity."),
    SettingSpec("SAS_EXPIRY_MINUTES", "240", "Lifetime of the SAS URLs handed to the service."),
    SettingSpec(
        "RETRANSLATE_POLICY", "replace", "New version of a translated file: replace (translate again) or keep (reject)."
    ),
    SettingSpec(
        "SUBMIT_RECONCILE_AFTER_SECONDS",
        "300",
        "Age of a submission attempt with no job id after which it is submitted again if the service has no job"
        " for it; at least 3 x TRANSLATOR_TIMEOUT_SECONDS.",
    ),
    SettingSpec(
        "TRANSLATOR_TIMEOUT_SECONDS",
        "30",
        "Timeout of one call to the Translator; retries of a call stop after twice this.",
    ),
    SettingSpec(
        "STUCK_JOB_AFTER_MINUTES",
        "120",
        "A job not final after this long is flagged as needing attention; less than SAS_EXPIRY_MINUTES.",
    ),
    SettingSpec(
        "CATCH_UP_SCHEDULE",
        "0 */10 * * * *",
        "NCRONTAB schedule of the catch-up that submits source blobs whose event never arrived.",
    ),
    SettingSpec(
        "REUSE_TRANSLATIONS",
        "on",
        "on: a file whose bytes and plan were translated before gets copies of those translations, with no job and"
        " no charge (a metadata change, the same file uploaded again or under another name); off: always translate.",
    ),
    SettingSpec(
        "CATCH_UP_AFTER_SECONDS",
        "600",
        "Age of a source blob with no record after which the catch-up submits it.",
    ),
    SettingSpec(
        "AZURE_CLIENT_ID",
        "",
        "Client id of the app's user-assigned identity (empty: system identity / developer login).",
    ),
)


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


@dataclass(frozen=True)
class Settings:
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

    @property
    def poison_queue(self) -> str:
        return f"{self.results_queue}{POISON_SUFFIX}"

    @property
    def translator_retry_budget_seconds(self) -> int:
        """How long one call to the Translator may keep retrying (429, 5xx, connection refused)."""
        return 2 * self.translator_timeout_seconds

    @property
    def submission_max_seconds(self) -> int:
        """After this long a submission attempt can no longer create a job: its last retry has timed out."""
        return self.translator_retry_budget_seconds + self.translator_timeout_seconds

    def __repr__(self) -> str:  # the key must never reach a log line
        return (
            f"Settings(source={self.source_container!r}, target={self.target_container!r}, "
            f"endpoint={self.translator_endpoint!r}, key={'***' if self.translator_key else None}, "
            f"api={self.translator_api_version!r}, access={self.storage_access_mode.value!r})"
        )

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None) -> Settings:
        env = os.environ if env is None else env
        problems: list[str] = []

        def value(name: str) -> str:
            spec = _SPEC_BY_NAME[name]
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                if spec.default is None:
                    problems.append(f"{name} is required: {spec.meaning}")
                    return ""
                return spec.default
            return raw.strip()

        def integer(name: str, minimum: int) -> int:
            raw = value(name)
            try:
                number = int(raw)
            except ValueError:
                problems.append(f"{name} must be a whole number, got {raw!r}")
                return minimum
            if number < minimum:
                problems.append(f"{name} must be at least {minimum}, got {number}")
            return number

        def schedule(name: str) -> None:
            # NCRONTAB has six fields (seconds first); a five-field cron line is the usual mistake.
            fields = value(name).split()
            if len(fields) != 6:
                problems.append(
                    f"{name}={value(name)!r} is not an NCRONTAB schedule: it needs six fields "
                    "(second minute hour day month weekday), e.g. '*/5 * * * * *'"
                )

        containers = {
            name: value(name)
            for name in ("SOURCE_CONTAINER", "TARGET_CONTAINER", "GLOSSARY_CONTAINER", "REPORTS_CONTAINER")
        }
        for name, container in containers.items():
            if not _CONTAINER_NAME.match(container):
                problems.append(
                    f"{name}={container!r} is not a valid container name (3-63 lowercase letters, digits, hyphens)"
                )
        if len(set(containers.values())) < len(containers):
            problems.append(
                "SOURCE_CONTAINER, TARGET_CONTAINER, GLOSSARY_CONTAINER and REPORTS_CONTAINER must all differ "
                f"(got {containers}): translations written into the source would be translated again"
            )
        records_table = value("RECORDS_TABLE")
        if not _TABLE_NAME.match(records_table):
            problems.append(
                f"RECORDS_TABLE={records_table!r} is not a valid table name "
                "(3-63 letters/digits, starting with a letter)"
            )
        results_queue = value("RESULTS_QUEUE")
        if not _CONTAINER_NAME.match(results_queue) or len(results_queue) > 63 - len(POISON_SUFFIX):
            problems.append(
                f"RESULTS_QUEUE={results_queue!r} is not a valid queue name with room for '{POISON_SUFFIX}' "
                "(3-56 lowercase letters, digits, hyphens)"
            )
        poll_shards_queue = value("POLL_SHARDS_QUEUE")
        if not _CONTAINER_NAME.match(poll_shards_queue) or len(poll_shards_queue) > 63 - len(POISON_SUFFIX):
            problems.append(
                f"POLL_SHARDS_QUEUE={poll_shards_queue!r} is not a valid queue name with room for '{POISON_SUFFIX}' "
                "(3-56 lowercase letters, digits, hyphens)"
            )
        if poll_shards_queue == results_queue:
            problems.append("POLL_SHARDS_QUEUE and RESULTS_QUEUE must differ: each queue has its own function")
        grouping_window = integer("GROUPING_WINDOW_SECONDS", 0)
        if grouping_window > MAX_GROUPING_WINDOW_SECONDS:
            problems.append(
                f"GROUPING_WINDOW_SECONDS={grouping_window} is longer than {MAX_GROUPING_WINDOW_SECONDS}: files "
                "would wait that long for their job; a bulk drop fills its jobs within seconds"
            )
        schedule("POLL_SCHEDULE")
        schedule("CATCH_UP_SCHEDULE")

        try:
            languages = parse_languages(value("TARGET_LANGUAGES"))
        except ValueError as exc:
            problems.append(f"TARGET_LANGUAGES: {exc}")
            languages = ()
        source_language = value("SOURCE_LANGUAGE") or None
        if source_language is not None:
            if _LANGUAGE_CODE.match(source_language):
                source_language = canonical_language(source_language)
            else:
                problems.append(f"SOURCE_LANGUAGE={source_language!r} is not a language code (like en, zh-Hans)")

        api_version = value("TRANSLATOR_API_VERSION")
        if api_version not in API_VERSIONS:
            problems.append(f"TRANSLATOR_API_VERSION must be one of {', '.join(API_VERSIONS)}, got {api_version!r}")

        endpoint = value("TRANSLATOR_ENDPOINT").rstrip("/")
        if endpoint and not re.match(r"^https?://[^/?#\s]+(/[^?#\s]*)?$", endpoint):
            problems.append(
                f"TRANSLATOR_ENDPOINT must be the Translator's http(s) URL "
                f"(https://<name>.cognitiveservices.azure.com), got {endpoint!r}"
            )

        access_mode = StorageAccessMode(choice(value, problems, "STORAGE_ACCESS_MODE", StorageAccessMode))
        retranslate = RetranslatePolicy(choice(value, problems, "RETRANSLATE_POLICY", RetranslatePolicy))
        sas_expiry = integer("SAS_EXPIRY_MINUTES", 5)
        timeout = integer("TRANSLATOR_TIMEOUT_SECONDS", 1)
        reconcile_after = integer("SUBMIT_RECONCILE_AFTER_SECONDS", 0)
        if reconcile_after < 3 * timeout:
            problems.append(
                f"SUBMIT_RECONCILE_AFTER_SECONDS={reconcile_after} is shorter than a submission can take "
                f"({3 * timeout} s: TRANSLATOR_TIMEOUT_SECONDS={timeout} per call, retried for twice that): "
                "a job could appear after it was submitted again. Raise it to at least "
                f"{3 * timeout} or lower TRANSLATOR_TIMEOUT_SECONDS"
            )
        stuck_after = integer("STUCK_JOB_AFTER_MINUTES", 1)
        if stuck_after >= sas_expiry:
            problems.append(
                f"STUCK_JOB_AFTER_MINUTES={stuck_after} must be less than SAS_EXPIRY_MINUTES={sas_expiry}: "
                "a job still running when its SAS expires can no longer write its translations"
            )
        storage = _storage_connection(env, problems)
        settings = cls(
            storage=storage or StorageConnection(None, None, None, None, None),
            source_container=containers["SOURCE_CONTAINER"],
            target_container=containers["TARGET_CONTAINER"],
            glossary_container=containers["GLOSSARY_CONTAINER"],
            reports_container=containers["REPORTS_CONTAINER"],
            records_table=records_table,
            results_queue=results_queue,
            poll_shards_queue=poll_shards_queue,
            grouping_window_seconds=grouping_window,
            target_languages=languages,
            source_language=source_language,
            translation_category=value("TRANSLATION_CATEGORY") or None,
            translator_endpoint=endpoint,
            translator_key=value("TRANSLATOR_KEY") or None,
            translator_region=value("TRANSLATOR_REGION") or None,
            translator_api_version=api_version,
            storage_access_mode=access_mode,
            sas_expiry_minutes=sas_expiry,
            retranslate_policy=retranslate,
            submit_reconcile_after_seconds=reconcile_after,
            translator_timeout_seconds=timeout,
            stuck_job_after_minutes=stuck_after,
            catch_up_after_seconds=integer("CATCH_UP_AFTER_SECONDS", 0),
            azure_client_id=value("AZURE_CLIENT_ID") or None,
            reuse_translations=choice(value, problems, "REUSE_TRANSLATIONS", Switch) == Switch.ON,
        )
        if problems:
            raise SettingsError("Invalid settings:\n- " + "\n- ".join(problems))
        register_secret(settings.translator_key)
        if settings.storage.connection_string:
            register_secret(_connection_string_field(settings.storage.connection_string, "AccountKey"))
        return settings


def choice(value: Callable[[str], str], problems: list[str], name: str, enum: type[StrEnum]) -> str:
    raw = value(name).lower()
    allowed = [member.value for member in enum]
    if raw not in allowed:
        problems.append(f"{name} must be one of {', '.join(allowed)}, got {raw!r}")
        return allowed[0]
    return raw


def _connection_string_field(connection_string: str, field: str) -> str | None:
    for part in connection_string.split(";"):
        name, _, content = part.partition("=")
        if name.strip().lower() == field.lower():
            return content.strip() or None
    return None


_SPEC_BY_NAME = {spec.name: spec for spec in SETTINGS_SPEC}


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
