"""What the service supports (document and glossary formats, languages) and which glossaries exist,
as loaders for the context's caches."""

from __future__ import annotations

import logging

from shared.storage.clients import StorageClients
from shared.translator import TranslatorError, TranslatorService

logger = logging.getLogger(__name__)


def document_extensions(translator: TranslatorService) -> frozenset[str]:
    formats = translator.get_supported_document_formats()
    extensions = frozenset(ext.lower() for fmt in formats for ext in fmt.file_extensions)
    logger.info("the service supports %d document extensions", len(extensions))
    return extensions


def glossary_formats(translator: TranslatorService) -> dict[str, str]:
    """Extension -> the format name the service expects in a glossary reference."""
    formats = translator.get_supported_glossary_formats()
    return {ext.lower(): fmt.format for fmt in formats for ext in fmt.file_extensions}


def languages(translator: TranslatorService) -> dict[str, str] | None:
    """Lower-cased code -> the service's spelling of every language it translates into; None when
    the service cannot say now."""
    try:
        return translator.get_supported_languages()
    except TranslatorError as exc:
        logger.warning("cannot read the service's languages (%s); codes are checked by the service itself for now", exc)
        return None


def glossary_names(storage: StorageClients, glossary_container: str) -> frozenset[str]:
    from azure.core.exceptions import ResourceNotFoundError

    container = storage.container(glossary_container)
    try:
        # Glossaries sit at the container's root; names in folders are listed too, to say why
        # they are not used. One listing page holds 5,000 names.
        return frozenset(blob.name for blob in container.list_blobs())
    except ResourceNotFoundError:
        logger.warning("glossary container %s does not exist; translating without glossaries", glossary_container)
        return frozenset()
