"""Never pay twice and never hide a charge: what a version is sent with is said, and what cannot be
worth paying for is refused before any call."""

import pytest

from shared.pipeline.submit import submit_dropped_blob
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY
from tests.pipeline.conftest import finished, read_target, record_all, upload
from tests.pipeline.test_record import report

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


# --- 1, 2: the same bytes are translated (and billed) once ---------------------------------------


def source_blob(ctx, name):
    return ctx.storage.container(ctx.settings.source_container).get_blob_client(name)


def translated(ctx, service, clock, name, data=b"Hello world"):
    finished(ctx, service, clock, name, data)
    [final] = record_all(ctx)
    assert final.outcome == "Succeeded"
    return final


def test_a_metadata_only_change_found_by_the_catch_up_is_reused_not_translated_again(make_context, service, clock):
    from shared.pipeline.catch_up import catch_up_missed_drops

    ctx = make_context(CATCH_UP_AFTER_SECONDS="0")
    first = translated(ctx, service, clock, "tagged.txt")
    jobs = len(service.start_calls)
    source_blob(ctx, "tagged.txt").set_blob_metadata({"reviewedby": "bob"})  # a new ETag, no event in Azure
    clock.advance(5)
    summary = catch_up_missed_drops(ctx)
    assert summary.submitted == 1
    [again] = record_all(ctx)
    assert len(service.start_calls) == jobs  # no job
    assert (again.outcome, again.reason_code, again.characters_charged) == ("Reused", "SameContent", 0)
    assert again.reused_from == first.key and again.characters_saved == first.characters_charged
    content, metadata = read_target(ctx, "fr/tagged.txt")
    assert content == b"[fr] translated" and metadata[TRANSLATED_FROM_METADATA_KEY] == again.source_etag
    assert report(ctx, "tagged.txt.json")["outcome"] == "Reused"


def test_the_same_bytes_under_another_name_get_copies_without_a_job(ctx, service, clock):
    first = translated(ctx, service, clock, "original.txt")
    jobs = len(service.start_calls)
    result = submit_dropped_blob(upload(ctx, "copy/of-original.txt", b"Hello world"), ctx)
    assert result.action == "reused"
    [copy] = record_all(ctx)
    assert len(service.start_calls) == jobs
    assert (copy.outcome, copy.characters_charged, copy.reused_from) == ("Reused", 0, first.key)
    assert {o.language: o.published for o in copy.language_outcomes} == {"de": True, "fr": True}
    content, metadata = read_target(ctx, "de/copy/of-original.txt")
    assert content == b"[de] translated" and metadata[TRANSLATED_FROM_METADATA_KEY] == copy.source_etag
    # The original's translations are untouched.
    assert read_target(ctx, "de/original.txt")[1][TRANSLATED_FROM_METADATA_KEY] == first.source_etag


def test_the_same_bytes_uploaded_again_under_the_same_name_are_reused(ctx, service, clock):
    translated(ctx, service, clock, "again.txt")
    jobs = len(service.start_calls)
    result = submit_dropped_blob(upload(ctx, "again.txt", b"Hello world"), ctx)
    assert result.action == "reused" and len(service.start_calls) == jobs
    [final] = record_all(ctx)
    assert final.outcome == "Reused"


def test_other_bytes_or_another_plan_are_translated(ctx, service, clock):
    translated(ctx, service, clock, "base.txt")
    jobs = len(service.start_calls)
    changed = submit_dropped_blob(upload(ctx, "base.txt", b"Hello world!"), ctx)
    assert changed.action == "submitted"
    languages = submit_dropped_blob(upload(ctx, "other.txt", b"Hello world", {"targetlanguages": "fr"}), ctx)
    assert languages.action == "submitted"
    assert len(service.start_calls) == jobs + 2


def test_reuse_can_be_switched_off(make_context, service, clock):
    ctx = make_context(REUSE_TRANSLATIONS="off")
    translated(ctx, service, clock, "one.txt")
    assert submit_dropped_blob(upload(ctx, "two.txt", b"Hello world"), ctx).action == "submitted"


def test_a_block_upload_without_content_md5_is_hashed_while_streaming(ctx, service, clock):
    translated(ctx, service, clock, "single.txt", b"Hello blocks")
    blob = source_blob(ctx, "blocks.txt")
    blob.stage_block("MDAw", b"Hello ")
    blob.stage_block("MDAx", b"blocks")
    blob.commit_block_list(["MDAw", "MDAx"])
    assert blob.get_blob_properties().content_settings.content_md5 is None
    jobs = len(service.start_calls)
    assert submit_dropped_blob(blob, ctx).action == "reused" and len(service.start_calls) == jobs


def test_a_reused_translation_that_changed_meanwhile_is_translated_instead(ctx, service, clock):
    translated(ctx, service, clock, "gone.txt")
    result = submit_dropped_blob(upload(ctx, "twin.txt", b"Hello world"), ctx)
    assert result.action == "reused"
    # The translations to copy are removed before the record step copies them.
    for language in ("fr", "de"):
        ctx.storage.container(ctx.settings.target_container).delete_blob(f"{language}/gone.txt")
    assert record_all(ctx) == [None]
    record = ctx.records.get_open(result.key)
    assert record.outcome is None and record.state == "Waiting" and "translated" in record.last_error
    clock.advance(10)
    from shared.pipeline.poll import poll_outstanding_jobs

    poll_outstanding_jobs(ctx)  # planned again, grouped and submitted: a real job this time
    clock.advance(60)
    poll_outstanding_jobs(ctx)
    service.finish_all()
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    [final] = record_all(ctx)
    assert final.outcome == "Succeeded" and final.characters_charged == 200
    # The stale entry gave way to the new translation.
    submit_dropped_blob(upload(ctx, "third.txt", b"Hello world"), ctx)
    [third] = record_all(ctx)
    assert (third.outcome, third.reused_from) == ("Reused", final.key)


def test_the_same_bytes_while_the_first_version_is_in_flight_follow_it(ctx, service, clock):
    first = submit_dropped_blob(upload(ctx, "busy.txt", b"Hello world"), ctx)
    second = submit_dropped_blob(upload(ctx, "busy.txt", b"Hello world"), ctx)  # a new ETag, same bytes
    assert (second.action, second.reason) == ("reused", "SameContentInFlight")
    assert len(service.start_calls) == 1
    assert ctx.records.get_open(first.key).superseded_by is None  # not cancelled: it is this version's job
    service.finish(first.job_id)
    clock.advance(5)
    from shared.pipeline.poll import poll_outstanding_jobs

    poll_outstanding_jobs(ctx)
    finals = {final.key: final for final in record_all(ctx)}
    assert finals[first.key].outcome == "Succeeded" and finals[second.key].outcome == "Reused"
    assert finals[second.key].characters_charged == 0
    assert finals[second.key].reused_etag == finals[first.key].source_etag  # what fr/busy.txt is stamped with
    assert report(ctx, "busy.txt.json")["outcome"] == "Succeeded"
    assert read_target(ctx, "fr/busy.txt")[0] == b"[fr] translated"


def test_bytes_translated_before_supersede_other_bytes_still_in_flight(ctx, service, clock):
    translated(ctx, service, clock, "back.txt", b"Version A")
    other = submit_dropped_blob(upload(ctx, "back.txt", b"Version B"), ctx)  # in flight
    clock.advance(1)
    back = submit_dropped_blob(upload(ctx, "back.txt", b"Version A"), ctx)  # A again, reused
    assert back.action == "reused"
    record = ctx.records.get_open(other.key)
    assert record.superseded_by == back.key
    assert service.jobs[other.job_id].status == "Cancelled"  # its job carried nothing else
