"""The pure decisions made before a service call: languages, names, formats, glossaries."""

import pytest

from shared.pipeline.checks import (
    Rejection,
    canonical_languages,
    check_document,
    check_target_names,
    choose_glossaries,
    requested_languages,
    supported_languages,
)
from shared.settings import canonical_language
from shared.storage.records import ReasonCode

SERVICE = {code.lower(): code for code in ("fr", "de", "zh-Hans", "zh-Hant", "sr-Latn", "pt-PT", "fr-CA", "tlh-Latn")}


@pytest.mark.parametrize(
    ("given", "spelled"),
    [("FR", "fr"), ("zh-hans", "zh-Hans"), ("FR-ca", "fr-CA"), ("sr-LATN", "sr-Latn"), ("tlh-latn", "tlh-Latn")],
)
def test_codes_take_bcp47_case(given, spelled):
    assert canonical_language(given) == spelled


def test_codes_are_matched_to_the_services_spelling_and_deduplicated():
    assert supported_languages(("FR", "zh-hans", "fr", "PT-pt"), SERVICE) == ("fr", "zh-Hans", "pt-PT")


def test_unknown_codes_are_rejected_naming_each_one():
    rejection = supported_languages(("fr", "xx-yy", "klingon"), SERVICE)
    assert isinstance(rejection, Rejection) and rejection.code is ReasonCode.UNSUPPORTED_LANGUAGE
    assert "'xx-yy'" in rejection.message and "'klingon'" in rejection.message


def test_without_the_services_list_codes_are_only_put_in_case():
    assert canonical_languages(("FR", "De", "fr")) == ("fr", "de")


def test_metadata_overrides_the_setting_case_insensitively():
    assert requested_languages({"TargetLanguages": "es,it"}, ("fr",)) == ("es", "it")
    assert requested_languages({}, ("fr",)) == ("fr",)
    rejection = requested_languages({"targetlanguages": "fr,not a code"}, ("fr",))
    assert isinstance(rejection, Rejection) and rejection.code is ReasonCode.INVALID_TARGET_LANGUAGES


@pytest.mark.parametrize(
    ("name", "size", "code"),
    [
        ("a.zip", 10, ReasonCode.UNSUPPORTED_FORMAT),
        ("README", 10, ReasonCode.UNSUPPORTED_FORMAT),
        ("a.txt", 0, ReasonCode.EMPTY_DOCUMENT),
        ("a.txt", 40 * 1024 * 1024 + 1, ReasonCode.DOCUMENT_TOO_LARGE),
    ],
)
def test_documents_the_service_cannot_take_are_rejected(name, size, code):
    rejection = check_document(name, size, frozenset({".txt", ".docx"}))
    assert rejection is not None and rejection.code is code


def test_a_document_within_the_limits_passes():
    assert check_document("Report.TXT", 40 * 1024 * 1024, frozenset({".txt"})) is None


def test_a_translation_name_must_fit_a_blob_name():
    assert check_target_names("a" * 1021, ("fr",)) is None  # "fr/" + 1021 = 1024
    rejection = check_target_names("a" * 1019, ("fr", "zh-Hans"))
    assert rejection is not None and rejection.code is ReasonCode.NAME_TOO_LONG and "zh-Hans" in rejection.message


def test_glossaries_are_chosen_by_language_pair_then_target_language():
    names = frozenset({"fr.csv", "en-de.tsv", "de.csv", "nested/es.csv", "it.docx"})
    formats = {".csv": "CSV", ".tsv": "TSV"}
    assert choose_glossaries(names, ("fr", "de", "es", "it"), "en", formats) == {"fr": "fr.csv", "de": "en-de.tsv"}
    assert choose_glossaries(names, ("de",), None, formats) == {"de": "de.csv"}


@pytest.mark.parametrize(
    ("name", "shown"),
    [
        ("bad\x01name.txt", '"bad\\x01name.txt"'),
        ("two\nlines.txt", '"two\\nlines.txt"'),
        ("del\x7f.txt", '"del\\x7f.txt"'),
        ("nel\x85.txt", '"nel\\x85.txt"'),
    ],
)
def test_a_name_with_a_control_character_is_rejected_showing_where(name, shown):
    rejection = check_document(name, 10, frozenset({".txt"}))
    assert rejection is not None and rejection.code is ReasonCode.CONTROL_CHARACTER_IN_NAME
    assert shown in rejection.message and "position" in rejection.message


def test_an_extension_with_a_trailing_space_is_shown_so():
    rejection = check_document("report.txt ", 10, frozenset({".txt"}))
    assert rejection is not None and rejection.code is ReasonCode.UNSUPPORTED_FORMAT
    assert rejection.message.startswith('".txt " (ends with a space) is not a format')


def test_a_rejection_carries_only_a_code_files_are_rejected_with():
    assert Rejection(ReasonCode.NAME_TOO_LONG, "too long").code.rejects
    with pytest.raises(ValueError, match="NewerVersion"):
        Rejection(ReasonCode.NEWER_VERSION, "not a rejection")
