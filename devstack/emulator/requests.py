"""Structural validation of a start-batch body: what the service answers 400 InvalidRequest for."""

from __future__ import annotations

import json
import re
from typing import Any

from devstack.emulator.formats import glossary_format
from devstack.emulator.languages import service_spelling
from devstack.emulator.storage import BlobLocation
from shared.redaction import strip_query

_LANGUAGE_CODE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8})*$")
_STORAGE_TYPES = {"file": "File", "folder": "Folder"}


class InvalidBatch(ValueError):
    def __init__(self, inner_code: str, message: str):
        super().__init__(message)
        self.inner_code = inner_code


def parse_batch(raw_body: bytes, max_target_languages: int) -> list[dict[str, Any]]:
    """The batch's `inputs`, checked; raises InvalidBatch with the reason."""
    try:
        body = json.loads(raw_body or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InvalidBatch("InvalidRequestBody", "The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise InvalidBatch("InvalidRequestBody", "The request body must be a JSON object with 'inputs'.")
    inputs = body.get("inputs")
    if not isinstance(inputs, list) or not inputs:
        raise InvalidBatch("InvalidRequestBody", "'inputs' must be a non-empty array.")
    target_urls: set[str] = set()
    languages: set[str] = set()
    for index, item in enumerate(inputs):
        where = f"inputs[{index}]"
        if not isinstance(item, dict):
            raise InvalidBatch("InvalidRequestBody", f"{where} must be an object.")
        is_file = _storage_type(item, where) == "File"
        _check_source(item.get("source"), f"{where}.source", is_file)
        targets = item.get("targets")
        if not isinstance(targets, list) or not targets:
            raise InvalidBatch("InvalidRequestBody", f"{where}.targets must be a non-empty array.")
        for target_index, target in enumerate(targets):
            target_where = f"{where}.targets[{target_index}]"
            url, language = _check_target(target, target_where, is_file)
            if url in target_urls:
                raise InvalidBatch(
                    "DuplicateTargetUrl", f"{target_where}.targetUrl is used twice; each target needs its own."
                )
            target_urls.add(url)
            languages.add(language.lower())
    if len(languages) > max_target_languages:
        raise InvalidBatch(
            "TooManyTargetLanguages",
            f"The batch asks for {len(languages)} target languages; the limit is {max_target_languages}.",
        )
    return inputs


def _storage_type(item: dict[str, Any], where: str) -> str:
    value = item.get("storageType", "Folder")
    if not isinstance(value, str) or value.lower() not in _STORAGE_TYPES:
        raise InvalidBatch("InvalidRequestBody", f"{where}.storageType must be 'File' or 'Folder'.")
    return _STORAGE_TYPES[value.lower()]


def _location(value: Any, where: str, inner_code: str, needs_blob: bool) -> BlobLocation:
    if not isinstance(value, str) or not value.strip():
        raise InvalidBatch(inner_code, f"{where} is required.")
    try:
        location = BlobLocation.parse(value)
    except ValueError as exc:
        raise InvalidBatch(inner_code, f"{where} is not a blob storage URL.") from exc
    if needs_blob and not location.path.strip("/"):
        raise InvalidBatch(inner_code, f"{where} must name a blob (storageType File).")
    return location


def _check_source(source: Any, where: str, is_file: bool) -> None:
    if not isinstance(source, dict):
        raise InvalidBatch("InvalidRequestBody", f"{where} is required.")
    _location(source.get("sourceUrl"), f"{where}.sourceUrl", "InvalidSourceUrl", is_file)
    language = source.get("language")
    if language is not None and (not isinstance(language, str) or not _LANGUAGE_CODE.match(language)):
        raise InvalidBatch("InvalidLanguageCode", f"{where}.language is not a language code.")
    if language is not None and service_spelling(language) is None:
        raise InvalidBatch("InvalidSourceLanguage", f"The source language '{language}' is not supported.")
    name_filter = source.get("filter")
    if name_filter is not None:
        if not isinstance(name_filter, dict) or any(
            not isinstance(name_filter.get(key, ""), str | None) for key in ("prefix", "suffix")
        ):
            raise InvalidBatch("InvalidRequestBody", f"{where}.filter must hold string 'prefix'/'suffix'.")
    storage_source = source.get("storageSource", "AzureBlob")
    if storage_source != "AzureBlob":
        raise InvalidBatch("InvalidRequestBody", f"{where}.storageSource must be 'AzureBlob'.")


def _check_target(target: Any, where: str, is_file: bool) -> tuple[str, str]:
    if not isinstance(target, dict):
        raise InvalidBatch("InvalidRequestBody", f"{where} must be an object.")
    url = target.get("targetUrl")
    _location(url, f"{where}.targetUrl", "InvalidTargetUrl", is_file)
    language = target.get("language")
    if not isinstance(language, str) or not _LANGUAGE_CODE.match(language):
        raise InvalidBatch("InvalidLanguageCode", f"{where}.language is required and must be a language code.")
    if service_spelling(language) is None:
        raise InvalidBatch("InvalidTargetLanguage", f"The target language '{language}' is not supported.")
    category = target.get("category")
    if category is not None and not isinstance(category, str):
        raise InvalidBatch("InvalidRequestBody", f"{where}.category must be a string.")
    glossaries = target.get("glossaries")
    if glossaries is not None:
        if not isinstance(glossaries, list):
            raise InvalidBatch("InvalidRequestBody", f"{where}.glossaries must be an array.")
        for glossary_index, glossary in enumerate(glossaries):
            glossary_where = f"{where}.glossaries[{glossary_index}]"
            if not isinstance(glossary, dict):
                raise InvalidBatch("InvalidRequestBody", f"{glossary_where} must be an object.")
            _location(glossary.get("glossaryUrl"), f"{glossary_where}.glossaryUrl", "InvalidGlossaryUrl", True)
            fmt = glossary.get("format")
            if not isinstance(fmt, str) or glossary_format(fmt) is None:
                raise InvalidBatch(
                    "UnsupportedGlossaryFormat", f"{glossary_where}.format must be one of the glossary formats."
                )
    return strip_query(str(url)), language
