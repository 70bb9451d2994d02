"""Rules per folder: what a file dropped under a path prefix is sent with, from a JSON document
(the blob RULES_BLOB names), so that people who drop files without setting blob metadata still
get the right languages, glossaries, category and source language.

The document (README "Rules per folder"):

    {"rules": [
        {"prefix": "legal/", "languages": ["fr", "de"],
         "glossaries": {"fr": "legal-fr.csv", "de": "legal-de.csv"},
         "category": "<custom model category id>", "source_language": "en"},
        {"prefix": "marketing/es/", "languages": ["es"]}
    ]}

- `prefix` (required): a folder of the source container, ending with `/`; unique.
- `languages`: the targets (1-10 codes) instead of TARGET_LANGUAGES.
- `glossaries`: language -> glossary blob at the root of GLOSSARY_CONTAINER, instead of the one
  chosen by name; a language the rule names must be among its `languages` when it has some.
- `category`: Custom Translator category instead of TRANSLATION_CATEGORY.
- `source_language`: instead of SOURCE_LANGUAGE.
A rule names at least one of these; nothing else is allowed (a misspelt key is an error, not a
silent no-op). The longest prefix a file's path starts with wins; the file's own `targetlanguages`
metadata still overrides the rule's languages. A file under no rule gets the settings.

A document that cannot be used (not JSON, not this schema, a language the service does not
translate into) never stops the drop folder: this process keeps the last good rules it read
(none on a cold start), the document is flagged as the app's trouble `rules-document`, and a
warning with event `translation.rules_rejected` is logged (an alert in Azure fires on it).
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.core.exceptions import AzureError

from shared.settings import MAX_TARGET_LANGUAGES, parse_languages
from shared.telemetry import Event

logger = logging.getLogger(__name__)

# The app's trouble (app_state.py) that names a rules document that cannot be used.
RULES_TROUBLE = "rules-document"
RULE_FIELDS = frozenset({"prefix", "languages", "glossaries", "category", "source_language"})
DOCUMENT_FIELDS = frozenset({"rules"})
MAX_RULES = 1000
MAX_PREFIX_LENGTH = 1024


class RulesError(ValueError):
    """The rules document cannot be used; the message says where and why."""


@dataclass(frozen=True)
class Rule:
    prefix: str
    languages: tuple[str, ...] | None = None
    glossaries: tuple[tuple[str, str], ...] = ()  # (language, glossary blob name), sorted
    category: str | None = None
    source_language: str | None = None

    @property
    def glossary_names(self) -> dict[str, str]:
        return dict(self.glossaries)

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"prefix": self.prefix}
        if self.languages is not None:
            body["languages"] = list(self.languages)
        if self.glossaries:
            body["glossaries"] = self.glossary_names
        if self.category is not None:
            body["category"] = self.category
        if self.source_language is not None:
            body["source_language"] = self.source_language
        return body


@dataclass(frozen=True)
class RulesDocument:
    rules: tuple[Rule, ...] = ()
    version: str | None = None  # the blob's ETag (unquoted); None: read from a local file

    def rule_for(self, name: str) -> Rule | None:
        """The rule with the longest prefix `name` (a path in the source container) starts with."""
        matching = [rule for rule in self.rules if name.startswith(rule.prefix)]
        return max(matching, key=lambda rule: len(rule.prefix), default=None)

    def languages_named(self) -> list[str]:
        named: list[str] = []
        for rule in self.rules:
            for code in (*(rule.languages or ()), *(language for language, _ in rule.glossaries)):
                if code not in named:
                    named.append(code)
            if rule.source_language and rule.source_language not in named:
                named.append(rule.source_language)
        return named


NO_RULES = RulesDocument()


@dataclass(frozen=True)
class AppliedRule:
    """Which rule a file got: its prefix (None: no rule matched) in the document of `version`."""

    rule: Rule | None
    version: str | None

    @property
    def prefix(self) -> str | None:
        return self.rule.prefix if self.rule else None


def parse_rules(text: str | bytes, *, version: str | None = None) -> RulesDocument:
    """The document `text` holds, strictly checked; RulesError says the first thing wrong."""
    try:
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError) as exc:
        raise RulesError(f"not JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise RulesError('the document must be a JSON object like {"rules": [...]}')
    unknown = sorted(set(body) - DOCUMENT_FIELDS)
    if unknown:
        raise RulesError(f"unknown field {unknown[0]!r} at the top (allowed: rules)")
    rules = body.get("rules")
    if not isinstance(rules, list):
        raise RulesError('"rules" must be a list of rules')
    if len(rules) > MAX_RULES:
        raise RulesError(f"{len(rules)} rules; at most {MAX_RULES}")
    parsed: list[Rule] = []
    seen: set[str] = set()
    for index, item in enumerate(rules, start=1):
        rule = _parse_rule(item, f"rule {index}")
        if rule.prefix in seen:
            raise RulesError(f"rule {index}: prefix {rule.prefix!r} is given twice")
        seen.add(rule.prefix)
        parsed.append(rule)
    return RulesDocument(tuple(parsed), version)


def _parse_rule(item: object, where: str) -> Rule:
    if not isinstance(item, dict):
        raise RulesError(f"{where}: must be an object with a prefix")
    unknown = sorted(set(item) - RULE_FIELDS)
    if unknown:
        raise RulesError(f"{where}: unknown field {unknown[0]!r} (allowed: {', '.join(sorted(RULE_FIELDS))})")
    prefix = item.get("prefix")
    if not isinstance(prefix, str) or not prefix.strip():
        raise RulesError(f"{where}: prefix must be a folder path like 'legal/'")
    where = f"{where} ({prefix!r})"
    if not prefix.endswith("/") or prefix.startswith("/") or "//" in prefix or len(prefix) > MAX_PREFIX_LENGTH:
        raise RulesError(f"{where}: prefix must be a folder of the source container, ending with '/' (like 'legal/')")
    if set(item) == {"prefix"}:
        raise RulesError(f"{where}: names nothing the files get (languages, glossaries, category, source_language)")
    languages = _languages(item["languages"], where) if "languages" in item else None
    glossaries = _glossaries(item["glossaries"], languages, where) if "glossaries" in item else ()
    category = item.get("category")
    if "category" in item and (not isinstance(category, str) or not category.strip()):
        raise RulesError(f"{where}: category must be a Custom Translator category id (text)")
    source = item.get("source_language")
    if "source_language" in item:
        source = _language(source, where, "source_language")
        if languages and source.lower() in {code.lower() for code in languages}:
            raise RulesError(f"{where}: {source} is both its source_language and one of its languages")
    return Rule(prefix, languages, glossaries, category.strip() if category else None, source)


def _language(value: object, where: str, what: str) -> str:
    if not isinstance(value, str) or "," in value or ";" in value:
        raise RulesError(f"{where}: {what} must be one language code like fr, got {value!r}")
    try:
        (code,) = parse_languages(value)
    except ValueError as exc:
        raise RulesError(f"{where}: {what} {value!r} is not a language code (like fr, zh-Hans)") from exc
    return code


def _languages(value: object, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise RulesError(f"{where}: languages must be a list of 1-{MAX_TARGET_LANGUAGES} codes like ['fr', 'de']")
    codes = [_language(code, where, "language") for code in value]
    if len({code.lower() for code in codes}) != len(codes):
        raise RulesError(f"{where}: a language is given twice in {value}")
    if len(codes) > MAX_TARGET_LANGUAGES:
        raise RulesError(f"{where}: {len(codes)} languages; the service allows at most {MAX_TARGET_LANGUAGES}")
    return tuple(codes)


def _glossaries(value: object, languages: tuple[str, ...] | None, where: str) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, dict) or not value:
        raise RulesError(f"{where}: glossaries must be an object like {{'fr': 'legal-fr.csv'}}")
    chosen: dict[str, str] = {}
    for key, name in value.items():
        language = _language(key, where, "glossary language")
        if languages is not None and language.lower() not in {code.lower() for code in languages}:
            raise RulesError(f"{where}: a glossary for {language}, which is not among its languages")
        plain = isinstance(name, str) and name == name.strip() and "/" not in name and "." in name.strip(".")
        if not plain:
            raise RulesError(
                f"{where}: glossary {name!r} for {language} must name a blob at the root of GLOSSARY_CONTAINER "
                "(like legal-fr.csv)"
            )
        chosen[language] = name
    return tuple(sorted(chosen.items()))


def unsupported_languages(document: RulesDocument, supported: Mapping[str, str]) -> list[str]:
    """The codes the document names that the service does not translate (`supported`: lower-cased code -> spelling)."""
    return [code for code in document.languages_named() if code.lower() not in supported]


def checked(document: RulesDocument, supported: Mapping[str, str] | None) -> RulesDocument:
    """`document` when the service translates every language it names (not checked when the service
    cannot say: each file's languages are still checked); RulesError otherwise."""
    if supported is None:
        return document
    unknown = unsupported_languages(document, supported)
    if unknown:
        raise RulesError(
            f"Document Translation does not translate {', '.join(repr(code) for code in unknown)}; "
            "use the service's language codes (like fr, de, zh-Hans, pt-PT)"
        )
    return document


@dataclass(frozen=True)
class RulesBlob:
    """The rules document's text as stored, with its version (the blob's ETag, unquoted)."""

    text: bytes
    version: str


@dataclass(frozen=True)
class RulesInForce:
    """The rules this process applies, and why they are not the latest document when they are not."""

    document: RulesDocument
    # Why the stored document is not applied (it does not parse, names an unknown language): the
    # last good one is, or none when this process never read a good one.
    problem: str | None = None
    rejected_version: str | None = None

    def applied_to(self, name: str) -> AppliedRule | None:
        """None when no rules document applies (the records say nothing of rules then)."""
        if self.document.version is None:
            return None
        return AppliedRule(self.document.rule_for(name), self.document.version)


@dataclass
class RulesKeeper:
    """Reads the rules document and keeps the last good one (per process). `read` answers the
    stored document or None when there is none; `languages` the service's languages or None;
    `flag` / `clear` record the app's trouble (and are told only when that changes here)."""

    read: Callable[[], RulesBlob | None]
    languages: Callable[[], Mapping[str, str] | None]
    flag: Callable[[str, str], None]  # (reason, version)
    clear: Callable[[], None]
    _last_good: RulesDocument | None = None
    _flagged_version: str | None = None
    _cleared_once: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def load(self) -> RulesInForce:
        """The rules to apply from now on (a storage failure is raised when no rules were ever read)."""
        with self._lock:
            try:
                stored = self.read()
            except AzureError as exc:
                if self._last_good is None:
                    raise
                # Storage out of reach is no bad document: no flag, no rules alert (the calls' own
                # failures tell of it); the rules read last still apply.
                logger.warning(
                    "cannot read the rules document (%s); the rules of version %s still apply",
                    exc,
                    self._last_good.version,
                    extra={"rules_version": self._last_good.version},
                )
                return RulesInForce(self._last_good)
            if stored is None:
                self._good(NO_RULES)
                return RulesInForce(NO_RULES)
            if self._last_good is not None and stored.version == self._last_good.version:
                return RulesInForce(self._last_good)
            try:
                document = checked(parse_rules(stored.text, version=stored.version), self.languages())
            except RulesError as exc:
                return self._bad(str(exc), stored.version)
            self._good(document)
            logger.info(
                "rules document version %s applies: %d rules",
                document.version,
                len(document.rules),
                extra={"event": Event.RULES_APPLIED.value, "rules_version": document.version},
            )
            return RulesInForce(document)

    def _good(self, document: RulesDocument) -> None:
        self._last_good = document
        if self._flagged_version is not None or not self._cleared_once:
            self.clear()
            self._flagged_version = None
            self._cleared_once = True

    def _bad(self, reason: str, version: str) -> RulesInForce:
        kept = self._last_good or NO_RULES
        applies = (
            f"the rules of version {kept.version} still apply"
            if kept.version is not None
            else "no rules apply (this instance has read no good rules document)"
        )
        if self._flagged_version != version:
            logger.warning(
                "the rules document (version %s) cannot be used: %s; %s until it is fixed",
                version,
                reason,
                applies,
                extra={"event": Event.RULES_REJECTED.value, "rules_version": version, "rules_problem": reason},
            )
            self.flag(f"rules document version {version} cannot be used: {reason}; {applies}", version)
            self._flagged_version = version
        return RulesInForce(kept, problem=reason, rejected_version=version)


def rules_blob_name(setting: str | None) -> tuple[str, str] | None:
    """RULES_BLOB (`<container>/<blob name>`) as (container, name); None when empty."""
    if not setting:
        return None
    container, _, name = setting.partition("/")
    return container, name


def describe(document: RulesDocument, paths: Sequence[str]) -> list[dict[str, Any]]:
    """Which rule each path gets: one entry per path."""
    return [
        {"path": path, "rule": rule.prefix if rule else None, **(rule.to_json() if rule else {})}
        for path in paths
        for rule in (document.rule_for(path),)
    ]
