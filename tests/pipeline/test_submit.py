import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.pipeline.submit import TRANSLATED_FROM_METADATA_KEY, submit_dropped_blob
from shared.storage.job_table import State
from shared.translator import AuthenticationError, InvalidRequestError, SubmissionUncertainError
from tests.pipeline.conftest import drain_results, upload

pytestmark = pytest.mark.integration


def permissions(url: str) -> str:
    return parse_qs(urlsplit(url).query)["sp"][0]


def test_a_dropped_file_becomes_one_batch_with_one_target_per_language(ctx, service):
    blob = upload(ctx, "docs/hello.txt", b"Hello")
    result = submit_dropped_blob(blob, ctx)

    assert result.action == "submitted"
    [inputs] = service.start_calls
    [batch] = inputs
    assert batch.storage_type == "File"
    assert urlsplit(batch.source_url).path.endswith(f"/{ctx.settings.source_container}/docs/hello.txt")
    assert permissions(batch.source_url) == "r"  # least privilege: read the one blob
    assert [t.language for t in batch.targets] == ["fr", "de"]
    for target in batch.targets:
        path = urlsplit(target.url).path
        assert path.endswith(f"/{ctx.settings.target_container}/{target.language}/docs/hello.txt")
        assert permissions(target.url) == "wl"
    record = ctx.jobs.get_open(result.key)
    assert record.state == State.SUBMITTED and record.job_id == result.job_id


def test_the_same_version_delivered_again_never_starts_a_second_batch(ctx, service):
    blob = upload(ctx, "a.txt", b"Hello")
    first = submit_dropped_blob(blob, ctx)
    again = submit_dropped_blob(blob, ctx)
    assert (first.action, again.action) == ("submitted", "duplicate")
    assert len(service.start_calls) == 1


def test_concurrent_deliveries_start_exactly_one_batch(ctx, service):
    blob = upload(ctx, "concurrent.txt", b"Hello")
    results = []
    barrier = threading.Barrier(8)

    def deliver():
        barrier.wait()
        results.append(submit_dropped_blob(blob, ctx).action)

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(results) == ["duplicate"] * 7 + ["submitted"]
    assert len(service.start_calls) == 1


def test_a_new_version_is_a_new_submission(ctx, service):
    upload(ctx, "a.txt", b"Hello")
    submit_dropped_blob(upload(ctx, "a.txt", b"Hello"), ctx)
    blob = upload(ctx, "a.txt", b"Hello again")
    assert submit_dropped_blob(blob, ctx).action == "submitted"
    assert len(service.start_calls) == 2


@pytest.mark.parametrize(
    ("name", "data", "code"),
    [
        ("picture.bmp", b"BM....", "UnsupportedFormat"),
        ("noextension", b"text", "UnsupportedFormat"),
        ("empty.txt", b"", "EmptyDocument"),
    ],
)
def test_files_failing_a_check_are_rejected_without_a_service_call(ctx, service, name, data, code):
    result = submit_dropped_blob(upload(ctx, name, data), ctx)
    assert (result.action, result.reason) == ("rejected", code)
    assert service.start_calls == []
    record = ctx.jobs.get_open(result.key)
    assert record.state == State.FINISHING and record.reason_code == code
    assert len(drain_results(ctx)) == 1  # the record function writes the final record


def test_too_large_a_document_is_rejected(ctx, service, monkeypatch):
    monkeypatch.setattr("shared.pipeline.checks.MAX_DOCUMENT_BYTES", 10)
    result = submit_dropped_blob(upload(ctx, "big.txt", b"x" * 11), ctx)
    assert result.reason == "DocumentTooLarge"


def test_supported_formats_are_asked_once(ctx, service):
    for index in range(3):
        submit_dropped_blob(upload(ctx, f"f{index}.txt", b"Hello"), ctx)
    assert service.formats_calls == 1


def test_blob_metadata_overrides_the_target_languages(ctx, service):
    submit_dropped_blob(upload(ctx, "es.txt", b"Hola", {"targetlanguages": "es, it"}), ctx)
    assert [t.language for t in service.start_calls[0][0].targets] == ["es", "it"]


def test_an_unusable_language_override_is_rejected_with_the_reason(ctx, service):
    result = submit_dropped_blob(upload(ctx, "x.txt", b"Hi", {"targetlanguages": "fr,not a language"}), ctx)
    assert result.reason == "InvalidTargetLanguages"
    assert "not a language" in ctx.jobs.get_open(result.key).reason_message


def test_a_glossary_for_the_language_is_attached(ctx, service):
    glossaries = ctx.storage.container(ctx.settings.glossary_container)
    glossaries.upload_blob("fr.csv", b"widget,bidule\n")
    submit_dropped_blob(upload(ctx, "g.txt", b"widget"), ctx)
    by_language = {t.language: t for t in service.start_calls[0][0].targets}
    [glossary] = by_language["fr"].glossaries
    assert urlsplit(glossary.url).path.endswith("/fr.csv") and glossary.format == "CSV"
    assert permissions(glossary.url) == "rl"
    assert by_language["de"].glossaries == ()


def test_an_uncertain_submission_is_left_for_reconciliation(ctx, service):
    service.fail_next_start = SubmissionUncertainError("lost answer", status_code=503)
    result = submit_dropped_blob(upload(ctx, "u.txt", b"Hello"), ctx)
    assert result.action == "pending"
    assert ctx.jobs.get_open(result.key).state == State.UNCERTAIN


def test_a_refused_batch_ends_failed_with_the_service_reason(ctx, service):
    service.fail_next_start = InvalidRequestError(
        "Target language xx is invalid", status_code=400, code="InvalidRequest", inner_code="InvalidTargetLanguage"
    )
    result = submit_dropped_blob(upload(ctx, "r.txt", b"Hello"), ctx)
    assert (result.action, result.reason) == ("failed", "InvalidTargetLanguage")
    assert len(drain_results(ctx)) == 1


def test_refused_credentials_flag_the_record_and_leave_it_for_the_poller(ctx, service):
    service.fail_next_start = AuthenticationError("Unauthorized", status_code=401, code="Unauthorized")
    result = submit_dropped_blob(upload(ctx, "k.txt", b"Hello"), ctx)
    record = ctx.jobs.get_open(result.key)
    assert record.state == State.SUBMITTING and record.needs_attention


def test_replace_policy_deletes_only_translations_the_app_recorded(ctx, service):
    target = ctx.storage.container(ctx.settings.target_container)
    target.upload_blob("fr/p.txt", b"old translation", metadata={TRANSLATED_FROM_METADATA_KEY: "0xOLD"})
    target.upload_blob("de/p.txt", b"someone else's file")
    submit_dropped_blob(upload(ctx, "p.txt", b"Hello"), ctx)
    names = {blob.name for blob in target.list_blobs()}
    assert names == {"de/p.txt"}  # the foreign file stays; the service will report it


def test_keep_policy_rejects_a_new_version_of_a_translated_file(make_context, service):
    ctx = make_context(RETRANSLATE_POLICY="keep")
    target = ctx.storage.container(ctx.settings.target_container)
    target.upload_blob("fr/k.txt", b"old translation", metadata={TRANSLATED_FROM_METADATA_KEY: "0xOLD"})
    result = submit_dropped_blob(upload(ctx, "k.txt", b"Hello"), ctx)
    assert result.reason == "AlreadyTranslated"
    assert service.start_calls == []


def test_a_blob_outside_the_source_container_is_ignored(ctx, service):
    other = ctx.storage.container(ctx.settings.reports_container).get_blob_client("x.txt")
    other.upload_blob(b"hi")
    assert submit_dropped_blob(other, ctx).action == "ignored"
