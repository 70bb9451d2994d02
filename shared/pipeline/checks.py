"""Checks made before spending a service call: a file that fails one is rejected with a reason.

Pure functions of the file's properties and what the service supports, so each rule is unit-tested
on its own.
"""

from __future__ import annotations

import posixpath
import re
from collections.abc import Mapping
from dataclasses import dataclass

from shared.redaction import escape_control_characters
from shared.settings import canonical_language, parse_languages
from shared.storage.blob_names import MAX_BLOB_NAME_LENGTH, target_blob_name
from shared.storage.records import ReasonCode

MAX_DOCUMENT_BYTES = 40 * 1024 * 1024  # per document, SERVICE_NOTES.md
# Operators set this blob metadata to choose a file's languages without redeploying.
LANGUAGES_METADATA_KEY = "targetlanguages"


@dataclass(frozen=True)
class Rejection:
    code: ReasonCode  # one of REJECTIONS: the pre-submit codes are ReasonCodes like every other
    message: str

    def __post_init__(self) -> None:
        if not self.code.rejects:
            raise ValueError(f"{self.code} is not a code a file is rejected with")


# C0 and C1 controls and DEL: Azure lists such a name only percent-encoded (`Encoded="true"`), Azurite
# fails the whole listing, and a line break in a name is a line break in every tool that prints it.
_CONTROL_CHARACTER = re.compile("[\x00-\x1f\x7f-\x9f]")


def quoted(text: str) -> str:
    """`text` in quotes with its control characters spelled out, and a word on a leading or
    trailing space, which quotes alone leave easy to miss."""
    shown = f'"{escape_control_characters(text)}"'
    if text.endswith((" ", "\u00a0")):
        return f"{shown} (ends with a space)"
    if text.startswith((" ", "\u00a0")):
        return f"{shown} (starts with a space)"
    return shown


def extension_of(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def requested_languages(metadata: Mapping[str, str], default: tuple[str, ...]) -> tuple[str, ...] | Rejection:
    """The file's target languages: blob metadata `targetlanguages` when set, else the setting."""
    override = next((value for key, value in metadata.items() if key.lower() == LANGUAGES_METADATA_KEY), None)
    if override is None:
        return default
    try:
        return parse_languages(override)
    except ValueError as exc:
        return Rejection(
            ReasonCode.INVALID_TARGET_LANGUAGES,
            f"blob metadata {LANGUAGES_METADATA_KEY}={override!r} is unusable: {exc}",
        )


def supported_languages(languages: tuple[str, ...], supported: Mapping[str, str]) -> tuple[str, ...] | Rejection:
    """Each code in the service's own spelling (`FR` -> `fr`, `zh-hans` -> `zh-Hans`), or a rejection
    naming every code the service does not translate into. `supported`: lower-cased code -> spelling."""
    spelled: list[str] = []
    unknown: list[str] = []
    for code in languages:
        known = supported.get(code.lower())
        if known is None:
            unknown.append(code)
        elif known not in spelled:
            spelled.append(known)
    if unknown:
        return Rejection(
            ReasonCode.UNSUPPORTED_LANGUAGE,
            f"Document Translation does not translate into {', '.join(repr(code) for code in unknown)}; "
            "use the service's language codes (like fr, de, zh-Hans, pt-PT)",
        )
    return tuple(spelled)


def canonical_languages(languages: tuple[str, ...]) -> tuple[str, ...]:
    """Codes in BCP 47 case when the service's list cannot be had (its own check then applies)."""
    spelled: list[str] = []
    for code in languages:
        canonical = canonical_language(code)
        if canonical not in spelled:
            spelled.append(canonical)
    return tuple(spelled)


def check_document(name: str, size: int, supported_extensions: frozenset[str]) -> Rejection | None:
    control = _CONTROL_CHARACTER.search(name)
    if control is not None:
        return Rejection(
            ReasonCode.CONTROL_CHARACTER_IN_NAME,
            f"the name {quoted(name)} holds a control character ({escape_control_characters(control.group())} at "
            f"position {control.start() + 1}), which storage listings and logs cannot show as it is: rename the file",
        )
    extension = extension_of(name)
    if extension not in supported_extensions:
        shown = quoted(extension) if extension else "(no extension)"
        return Rejection(
            ReasonCode.UNSUPPORTED_FORMAT,
            f"{shown} is not a format Document Translation supports ({', '.join(sorted(supported_extensions))})",
        )
    if size <= 0:
        return Rejection(ReasonCode.EMPTY_DOCUMENT, "the file is empty: there is nothing to translate")
    if size > MAX_DOCUMENT_BYTES:
        return Rejection(
            ReasonCode.DOCUMENT_TOO_LARGE,
            f"the file is {size:,} bytes; the service accepts at most {MAX_DOCUMENT_BYTES:,} bytes per document",
        )
    return None


def check_not_source_language(languages: tuple[str, ...], source_language: str | None) -> Rejection | None:
    """Translating into the language the file is written in is billed and yields the same text."""
    if not source_language:
        return None
    same = [language for language in languages if language.lower() == source_language.lower()]
    if not same:
        return None
    return Rejection(
        ReasonCode.TARGET_IS_SOURCE_LANGUAGE,
        f"the file is in {source_language} (SOURCE_LANGUAGE) and {same[0]} is among its target languages: "
        "that translation would be billed for the same text; take it out of the file's targetlanguages "
        "metadata or TARGET_LANGUAGES",
    )


def check_target_names(source_name: str, languages: tuple[str, ...]) -> Rejection | None:
    """Every translation is named `<lang>/<source path>`; a blob name holds at most 1,024 characters."""
    for language in languages:
        name = target_blob_name(language, source_name)
        if len(name) > MAX_BLOB_NAME_LENGTH:
            return Rejection(
                ReasonCode.NAME_TOO_LONG,
                f"the {language} translation would be named {len(name):,} characters long "
                f"({language}/ + the source path); blob names hold at most {MAX_BLOB_NAME_LENGTH:,}: "
                "shorten the file's path",
            )
    return None


def choose_glossaries(
    names: frozenset[str],
    languages: tuple[str, ...],
    source_language: str | None,
    glossary_formats: Mapping[str, str],
) -> dict[str, str]:
    """Language -> glossary blob name, for the languages that have one: `<source>-<target>.<ext>`
    when a source language is set, else `<target>.<ext>`, in a glossary format the service reads."""
    by_stem: dict[str, str] = {}
    for name in sorted(names):
        if "/" in name or extension_of(name) not in glossary_formats:
            continue
        by_stem.setdefault(name.rsplit(".", 1)[0].lower(), name)
    found: dict[str, str] = {}
    for language in languages:
        candidates = [f"{source_language}-{language}".lower()] if source_language else []
        candidates.append(language.lower())
        for stem in candidates:
            if stem in by_stem:
                found[language] = by_stem[stem]
                break
    return found


def glossary_notes(
    names: frozenset[str],
    languages: tuple[str, ...],
    source_language: str | None,
    glossary_formats: Mapping[str, str],
    chosen: Mapping[str, str],
) -> dict[str, str]:
    """Language -> why a blob that looks meant for it is not used, for each language without a
    glossary: a person who uploaded `it.txt` or `nested/cs.csv` is told, not left guessing."""
    notes: dict[str, str] = {}
    readable = ", ".join(sorted(glossary_formats))
    for language in languages:
        if language in chosen:
            continue
        stems = ([f"{source_language}-{language}".lower()] if source_language else []) + [language.lower()]
        for name in sorted(names):
            folder, _, base = name.rpartition("/")
            stem, extension = posixpath.splitext(base.lower())
            matches = next((candidate for candidate in stems if stem == candidate), None)
            near = (
                next(
                    (
                        candidate
                        for candidate in stems
                        if stem.startswith(candidate) and not stem[len(candidate)].isalnum()
                    ),
                    None,
                )
                if matches is None
                else None
            )
            if matches is not None and folder:
                notes[language] = f"{name!r} is in a folder; glossaries are taken from the container's root only"
            elif matches is not None and extension not in glossary_formats:
                notes[language] = f"{name!r} is not in a glossary format the service reads ({readable})"
            elif near is not None and not folder:
                notes[language] = f"{name!r} is not named {near}.<ext>, so it is not taken for {language}"
            else:
                continue
            break
    return notes
