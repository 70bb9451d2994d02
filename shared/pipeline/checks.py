"""Checks made before spending a service call: a file that fails one is rejected with a reason."""

from __future__ import annotations

import posixpath
from collections.abc import Mapping
from dataclasses import dataclass

from shared.settings import parse_languages

MAX_DOCUMENT_BYTES = 40 * 1024 * 1024  # per document, SERVICE_NOTES.md
# Operators set this blob metadata to choose a file's languages without redeploying.
LANGUAGES_METADATA_KEY = "targetlanguages"


class RejectionCode:
    UNSUPPORTED_FORMAT = "UnsupportedFormat"
    DOCUMENT_TOO_LARGE = "DocumentTooLarge"
    EMPTY_DOCUMENT = "EmptyDocument"
    INVALID_TARGET_LANGUAGES = "InvalidTargetLanguages"
    ALREADY_TRANSLATED = "AlreadyTranslated"


@dataclass(frozen=True)
class Rejection:
    code: str
    message: str


def extension_of(name: str) -> str:
    return posixpath.splitext(name)[1].lower()


def target_languages(metadata: Mapping[str, str], default: tuple[str, ...]) -> tuple[str, ...] | Rejection:
    override = next((value for key, value in metadata.items() if key.lower() == LANGUAGES_METADATA_KEY), None)
    if override is None:
        return default
    try:
        return parse_languages(override)
    except ValueError as exc:
        return Rejection(
            RejectionCode.INVALID_TARGET_LANGUAGES,
            f"blob metadata {LANGUAGES_METADATA_KEY}={override!r} is unusable: {exc}",
        )


def check_document(name: str, size: int, supported_extensions: frozenset[str]) -> Rejection | None:
    extension = extension_of(name)
    if extension not in supported_extensions:
        shown = extension or "(no extension)"
        return Rejection(
            RejectionCode.UNSUPPORTED_FORMAT,
            f"{shown} is not a format Document Translation supports ({', '.join(sorted(supported_extensions))})",
        )
    if size <= 0:
        return Rejection(RejectionCode.EMPTY_DOCUMENT, "the file is empty: there is nothing to translate")
    if size > MAX_DOCUMENT_BYTES:
        return Rejection(
            RejectionCode.DOCUMENT_TOO_LARGE,
            f"the file is {size:,} bytes; the service accepts at most {MAX_DOCUMENT_BYTES:,} bytes per document",
        )
    return None
