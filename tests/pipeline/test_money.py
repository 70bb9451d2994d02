"""Never pay twice and never hide a charge: what a version is sent with is said, and what cannot be
worth paying for is refused before any call."""

import pytest

from shared.pipeline.submit import submit_dropped_blob
from tests.pipeline.conftest import upload
from tests.pipeline.test_record import finished, record_all, report

pytestmark = pytest.mark.integration


def test_a_target_language_equal_to_the_source_language_is_rejected_before_any_call(make_context, service):
    ctx = make_context(SOURCE_LANGUAGE="de", TARGET_LANGUAGES="fr,de")
    result = submit_dropped_blob(upload(ctx, "same.txt", b"Hello"), ctx)
    assert (result.action, result.reason) == ("rejected", "TargetIsSourceLanguage")
    assert service.start_calls == []
    message = ctx.records.get_open(result.key).reason_message
    assert "de" in message and "TARGET_LANGUAGES" in message


def test_the_glossary_applied_is_named_per_language_in_the_record_and_the_report(ctx, service, clock):
    glossaries = ctx.storage.container(ctx.settings.glossary_container)
    glossaries.upload_blob("fr.csv", b"widget,bidule\n")
    finished(ctx, service, clock, "g.txt", b"widget")
    [final] = record_all(ctx)
    assert final.glossaries == {"fr": "fr.csv"}
    assert {o.language: o.glossary for o in final.language_outcomes} == {"fr": "fr.csv", "de": None}
    documents = {document["language"]: document for document in report(ctx, "g.txt.json")["documents"]}
    assert documents["fr"]["glossary"] == "fr.csv" and documents["de"]["glossary"] is None
    assert ctx.records.get_final(final.key).glossaries == {"fr": "fr.csv"}


@pytest.mark.parametrize(
    ("glossary", "says"),
    [
        ("de.txt", "not in a glossary format"),
        ("de#1.csv", "not named de.<ext>"),
        ("nested/de.csv", "in a folder"),
    ],
)
def test_a_glossary_that_is_not_used_is_said_so_in_the_record(ctx, service, clock, glossary, says):
    ctx.storage.container(ctx.settings.glossary_container).upload_blob(glossary, b"widget,bidule\n")
    finished(ctx, service, clock, "n.txt", b"widget")
    [final] = record_all(ctx)
    assert final.glossaries == {}
    assert glossary in final.glossary_notes["de"] and says in final.glossary_notes["de"]
    assert "fr" not in final.glossary_notes
    assert says in report(ctx, "n.txt.json")["glossary_notes"]["de"]


def test_a_glossary_uploaded_just_before_the_file_is_used(ctx, service, clock):
    submit_dropped_blob(upload(ctx, "first.txt", b"Hello"), ctx)  # the glossary names are listed now
    clock.advance(1)
    ctx.storage.container(ctx.settings.glossary_container).upload_blob("fr.csv", b"widget,bidule\n")
    clock.advance(1)  # the file is written after the glossary, and after the names were listed
    submit_dropped_blob(upload(ctx, "second.txt", b"widget"), ctx)
    targets = {t.language: t for t in service.start_calls[-1][0].targets}
    assert len(targets["fr"].glossaries) == 1
