"""The record step on Azurite: final records, reports, and publishing the newest version only."""

import json

import pytest

from shared.pipeline.record import RecordNotFound, record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY
from shared.storage.entity_codec import MAX_TEXT_LENGTH
from shared.storage.results_queue import MalformedResultMessage
from tests.pipeline.conftest import drain_results, finished, read_target, record_all, target_names, upload

pytestmark = pytest.mark.integration


def report(ctx, name):
    blob = ctx.storage.container(ctx.settings.reports_container).download_blob(name)
    return json.loads(blob.readall())


def test_a_succeeded_job_is_published_stamped_reported_and_recorded(ctx, service, clock):
    result = finished(ctx, service, clock, "docs/ok.txt")
    [record] = record_all(ctx)

    assert record.outcome == "Succeeded"
    assert (record.total, record.succeeded, record.failed, record.characters_charged) == (2, 2, 0, 200)
    assert [(o.language, o.published) for o in record.language_outcomes] == [("de", True), ("fr", True)]
    assert ctx.records.get_open(result.key) is None
    assert ctx.records.get_final(result.key).outcome == "Succeeded"
    content, metadata = read_target(ctx, "fr/docs/ok.txt")
    assert content == b"[fr] translated" and metadata[TRANSLATED_FROM_METADATA_KEY] == record.source_etag
    assert target_names(ctx) == {"fr/docs/ok.txt", "de/docs/ok.txt"}  # the staging copies are gone
    body = report(ctx, "docs/ok.txt.json")
    assert body["outcome"] == "Succeeded" and body["job_id"] == result.job_id
    assert {doc["language"]: doc["path"] for doc in body["documents"]} == {
        "fr": f"{ctx.settings.target_container}/fr/docs/ok.txt",
        "de": f"{ctx.settings.target_container}/de/docs/ok.txt",
    }


def test_some_documents_failing_is_partial_success_with_each_reason(ctx, service, clock):
    finished(ctx, service, clock, "part.txt", failures={"de": ("NoTranslatableText", "empty")})
    [record] = record_all(ctx)
    assert (record.outcome, record.reason_code) == ("PartiallySucceeded", "NoTranslatableText")
    by_language = {outcome.language: outcome for outcome in record.language_outcomes}
    assert by_language["de"].error_code == "NoTranslatableText" and not by_language["de"].published
    assert by_language["fr"].status == "Succeeded"


def test_every_document_failing_is_failed(ctx, service, clock):
    failures = {"fr": ("NoTranslatableText", "empty"), "de": ("NoTranslatableText", "empty")}
    finished(ctx, service, clock, "fail.txt", failures=failures)
    [record] = record_all(ctx)
    assert (record.outcome, record.reason_code) == ("Failed", "NoTranslatableText")


def test_a_file_the_app_did_not_write_is_never_overwritten(ctx, service, clock):
    target = ctx.storage.container(ctx.settings.target_container)
    target.upload_blob("de/taken.txt", b"someone else's file")
    result = finished(ctx, service, clock, "taken.txt")
    [record] = record_all(ctx)
    assert record.outcome == "PartiallySucceeded" and record.reason_code == "TargetFileAlreadyExists"
    assert target.download_blob("de/taken.txt").readall() == b"someone else's file"
    kept = f".inflight/{result.key}-1/de.txt"
    assert kept in target_names(ctx)  # the translation stays where the report says
    [german] = [doc for doc in report(ctx, "taken.txt.json")["documents"] if doc["language"] == "de"]
    assert german["path"].endswith(kept) and kept in german["error_message"]


def test_a_rejection_is_recorded_by_the_same_function(ctx, service):
    result = submit_dropped_blob(upload(ctx, "bad.exe", b"MZ"), ctx)
    [record] = record_all(ctx)
    assert (record.outcome, record.reason_code) == ("Rejected", "UnsupportedFormat")
    assert ctx.records.get_final(result.key).reason_code == "UnsupportedFormat"
    assert report(ctx, "bad.exe.json")["outcome"] == "Rejected"


def test_a_long_non_ascii_name_with_ten_languages_fits_the_table(ctx, service, clock):
    name = "日本語" * 300 + ".txt"  # 904 characters: legal, and 8 KB once URL-encoded
    languages = "fr,de,es,it,ja,zh-Hans,zh-Hant,pt,nl,pl"
    finished(ctx, service, clock, name, metadata={"targetlanguages": languages})
    [record] = record_all(ctx)
    assert record.outcome == "Succeeded" and len(record.language_outcomes) == 10
    assert ctx.records.get_final(record.key).source_name == name
    assert report(ctx, name + ".json")["source_name"] == name
    assert read_target(ctx, f"zh-Hans/{name}")[1][TRANSLATED_FROM_METADATA_KEY] == record.source_etag


def test_a_report_whose_name_would_be_too_long_goes_under_its_digest(ctx, service):
    name = "y" * 1020 + ".txt"  # rejected (its translations could not be named), and still reported
    submit_dropped_blob(upload(ctx, name, b"Hello"), ctx)
    [record] = record_all(ctx)
    assert record.reason_code == "NameTooLong"
    assert record.report_blob.startswith(f"{ctx.settings.reports_container}/.long-names/")
    assert report(ctx, record.report_blob.split("/", 1)[1])["source_name"] == name


def test_huge_service_messages_are_cut_to_fit_the_record(ctx, service, clock):
    huge = "x" * (MAX_TEXT_LENGTH * 3)
    finished(ctx, service, clock, "huge.txt", failures={"fr": ("Odd", huge), "de": ("Odd", huge)})
    [record] = record_all(ctx)
    assert record.outcome == "Failed" and len(record.reason_message) < MAX_TEXT_LENGTH


def test_recording_twice_is_harmless(ctx, service, clock):
    finished(ctx, service, clock, "twice.txt")
    [text] = drain_results(ctx)
    first = record_outcome(text, ctx)
    assert first.outcome == "Succeeded"
    assert record_outcome(text, ctx) is None


def test_a_message_for_an_unknown_record_fails_so_it_reaches_the_poison_queue(ctx):
    with pytest.raises(RecordNotFound):
        record_outcome('{"key": "nope", "source": "x.txt"}', ctx)
    with pytest.raises(MalformedResultMessage):
        record_outcome("not json", ctx)


def test_publishing_an_older_version_over_a_newer_one_is_refused(ctx, service, clock):
    from dataclasses import replace

    from shared.pipeline.publish import publish_translation

    new = finished(ctx, service, clock, "order.txt", b"New")
    record_all(ctx)
    newer = ctx.records.get_final(new.key)
    target = ctx.storage.container(ctx.settings.target_container)
    target.upload_blob(".inflight/old-1/fr.txt", b"[fr] old")
    older = replace(
        _open_like(newer),
        source_etag="0xOLDER",
        source_modified=newer.source_modified.replace(year=newer.source_modified.year - 1),
    )
    publication = publish_translation(ctx, older, "fr", ".inflight/old-1/fr.txt")
    assert not publication.published and "newer version" in publication.note
    assert read_target(ctx, "fr/order.txt")[0] == b"[fr] translated"


def _open_like(final):
    from shared.pipeline.lifecycle import reopened

    return reopened(final, at=final.claimed_at)


def test_a_record_step_cut_off_after_publishing_is_done_again_harmlessly(ctx, service, clock, monkeypatch):
    from shared.pipeline import publish

    result = finished(ctx, service, clock, "cut-off.txt")
    [message] = drain_results(ctx)
    write_report = publish.write_report
    monkeypatch.setattr(publish, "write_report", lambda *args: (_ for _ in ()).throw(RuntimeError("killed")))
    with pytest.raises(RuntimeError):
        record_outcome(message, ctx)  # translations published and their staging copies gone, then it died
    assert {"fr/cut-off.txt", "de/cut-off.txt"} <= target_names(ctx)
    assert not [name for name in target_names(ctx) if name.startswith(".inflight/")]
    monkeypatch.setattr(publish, "write_report", write_report)
    final = record_outcome(message, ctx)  # the message comes back
    assert final.outcome == "Succeeded" and all(outcome.published for outcome in final.language_outcomes)
    assert ctx.records.get_open(result.key) is None


def test_a_version_an_earlier_release_handed_over_is_recorded_by_this_one(ctx, service, clock):
    from azure.data.tables import UpdateMode

    from shared.storage.record_keys import open_partition
    from shared.storage.schedule_table import SCHEDULE_PARTITION, SUBMISSION_PREFIX

    result = finished(ctx, service, clock, "earlier/release.txt")
    table = ctx.storage.records_table
    submission = ctx.records.get_open(result.key).submission

    def as_written_earlier(partition: str, row: str, renamed: dict[str, str]) -> None:
        entity = dict(table.get_entity(partition, row))
        for new, old in renamed.items():
            entity[old] = entity.pop(new)
        table.upsert_entity(entity, mode=UpdateMode.REPLACE)

    # The columns an earlier release wrote the open record (Finishing) and its submission under.
    as_written_earlier(
        open_partition(result.key),
        result.key,
        {"JobStatus": "ServiceStatus", "Attempts": "Attempt", "Size": "ContentLength"},
    )
    as_written_earlier(SCHEDULE_PARTITION, f"{SUBMISSION_PREFIX}{submission}", {"JobStatus": "ServiceStatus"})
    assert ctx.schedule.get_submission(submission).job_status == "Succeeded"
    opened = ctx.records.get_open(result.key)
    assert (opened.job_status, opened.attempts, opened.size) == ("Succeeded", 1, len(b"Hello world"))

    [record] = record_all(ctx)
    assert (record.outcome, record.job_status, record.attempts) == ("Succeeded", "Succeeded", 1)
    # Published from the staging names of the try read from `Attempt`, and those cleaned up.
    assert target_names(ctx) == {"fr/earlier/release.txt", "de/earlier/release.txt"}
