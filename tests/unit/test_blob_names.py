"""Names of translations: a format the service converts is published under its output's extension."""

from __future__ import annotations

import pytest

from shared.storage.blob_names import kept_blob_name, staging_blob_name, target_blob_name


@pytest.mark.parametrize(
    ("source", "published"),
    [
        ("reports/q1.doc", "fr/reports/q1.docx"),
        ("Memo.ODT", "fr/Memo.docx"),
        ("letter.rtf", "fr/letter.docx"),
        ("sheet.xls", "fr/sheet.xlsx"),
        ("deck.odp", "fr/deck.pptx"),
        ("notes.txt", "fr/notes.txt"),
        ("letter.docx", "fr/letter.docx"),
    ],
)
def test_a_converted_format_is_named_as_the_file_the_service_writes(source: str, published: str):
    extension = published.rsplit(".", 1)[1]
    assert target_blob_name("fr", source) == published
    assert staging_blob_name("key", 2, "fr", source) == f".inflight/key-2/fr.{extension}"
    assert kept_blob_name("key", "fr", source) == f".cancelled/key/fr.{extension}"
