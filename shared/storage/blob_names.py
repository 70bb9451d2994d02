"""Where each kind of blob lives: translations, their staging copies, and reports.

The service first writes each translation to a staging name that identifies the source version
and the attempt (`.inflight/<record key>-<attempt>/<lang><ext>` in the target container): a
document the service lists can then be traced to exactly one attempt for one version, two
versions of a file in flight never write to the same name, and the published translation
(`<lang>/<source path>`) is replaced only once its successor is complete.
"""

from __future__ import annotations

import posixpath

from shared.storage.record_keys import path_digest

STAGING_FOLDER = ".inflight"
# Translations finished before an operator cancelled their file: billed, so kept (out of the
# staging sweep), never published.
KEPT_FOLDER = ".cancelled"
REPORT_SUFFIX = ".json"
LONG_NAME_REPORTS_FOLDER = ".long-names"
MAX_BLOB_NAME_LENGTH = 1024  # characters, Azure Blob Storage's limit

# Blob metadata on every published translation and report: which source version it describes.
TRANSLATED_FROM_METADATA_KEY = "translatedfrom"
VERSION_ORDER_METADATA_KEY = "sourceversionorder"


# The service writes these formats as another one (SERVICE_NOTES.md, "Formats": .doc/.odt/.rtf ->
# .docx, .xls/.ods -> .xlsx, .ppt/.odp -> .pptx): their translation is named with the output's
# extension, or a Word file would be published under the name of the format it no longer is.
CONVERTED_EXTENSIONS = {
    ".doc": ".docx",
    ".odt": ".docx",
    ".rtf": ".docx",
    ".xls": ".xlsx",
    ".ods": ".xlsx",
    ".ppt": ".pptx",
    ".odp": ".pptx",
}


def translated_extension(source_name: str) -> str:
    """The extension of the file the service writes for `source_name` (".doc" -> ".docx")."""
    extension = posixpath.splitext(source_name)[1]
    return CONVERTED_EXTENSIONS.get(extension.lower(), extension)


def translated_name(source_name: str) -> str:
    """`source_name` with the extension of the file the service writes for it."""
    return posixpath.splitext(source_name)[0] + translated_extension(source_name)


def target_blob_name(language: str, source_name: str) -> str:
    """`<lang>/<source path>` (with the output's extension): languages never collide in the target container."""
    return f"{language}/{translated_name(source_name)}"


def staging_prefix(key: str, attempt: int) -> str:
    return f"{STAGING_FOLDER}/{key}-{attempt}/"


def staging_blob_name(key: str, attempt: int, language: str, source_name: str) -> str:
    # The extension is the one of the file the service writes; the rest of the name is ours.
    return f"{staging_prefix(key, attempt)}{language}{translated_extension(source_name)}"


def kept_blob_name(key: str, language: str, source_name: str) -> str:
    return f"{KEPT_FOLDER}/{key}/{language}{translated_extension(source_name)}"


def staging_marker(key: str, attempt: int) -> str:
    """What a document's target path contains when it was written for this attempt."""
    return f"/{staging_prefix(key, attempt)}"


def staging_owner(path: str) -> tuple[str, int] | None:
    """(record key, attempt) of the staging name in a (decoded) target path, or None."""
    marker = f"/{STAGING_FOLDER}/"
    start = path.find(marker)
    if start < 0:
        return None
    segment = path[start + len(marker) :].split("/", 1)[0]
    key, _, attempt = segment.rpartition("-")
    if not key or not attempt.isdigit():
        return None
    return key, int(attempt)


def report_blob_name(container: str, source_name: str) -> str:
    """`<source path>.json`, or a digest of the path when that would pass the blob name limit."""
    name = f"{source_name}{REPORT_SUFFIX}"
    if len(name) <= MAX_BLOB_NAME_LENGTH:
        return name
    return f"{LONG_NAME_REPORTS_FOLDER}/{path_digest(container, source_name)}{REPORT_SUFFIX}"
