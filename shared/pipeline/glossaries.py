"""Find the glossary for a language pair in the glossary container.

Naming convention (documented in the README): `<source>-<target>.<ext>` when a source language
is set, else `<target>.<ext>`; the extension must be a glossary format the service supports.
"""

from __future__ import annotations

import logging

from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.pipeline.checks import extension_of

logger = logging.getLogger(__name__)


def find_glossaries(
    container: ContainerClient,
    languages: tuple[str, ...],
    source_language: str | None,
    glossary_formats: dict[str, str],
) -> dict[str, str]:
    """Language -> glossary blob name, for the languages that have one."""
    try:
        names = [blob.name for blob in container.list_blobs()]
    except ResourceNotFoundError:
        logger.warning("glossary container %s does not exist; translating without glossaries", container.container_name)
        return {}
    by_stem: dict[str, str] = {}
    for name in names:
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
