"""Submit on drop, on Azurite with a scripted service: claims, checks, staging targets, refusals."""

import threading
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.pipeline.submit import submit_dropped_blob
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY
from shared.storage.records import State
from shared.storage.schedule_table import SubmissionState
from shared.translator import AuthenticationError, InvalidRequestError, SubmissionUncertainError
from tests.pipeline.conftest import drain_results, submission_of, upload

pytestmark = pytest.mark.integration


def permissions(url: str) -> str:
    return parse_qs(urlsplit(url).query)["sp"][0]


def test_a_dropped_file_becomes_one_job_writing_to_staging_names_of_its_version(ctx, service):
    blob = upload(ctx, "docs/hello.txt", b"Hello")
    result = submit_dropped_blob(blob, ctx)

    assert result.action == "submitted"
    [inputs] = service.start_calls
    [job] = inputs
    assert job.storage_type == "File"
    assert urlsplit(job.source_url).path.endswith(f"/{ctx.settings.source_container}/docs/hello.txt")
    assert permissions(job.source_url) == "r"  # least privilege: read the one blob
    assert "st=" not in urlsplit(job.source_url).query  # no start time: clock skew cannot make it "not yet valid"
    assert [t.language for t in job.targets] == ["fr", "de"]
    for target in job.targets:
        path = urlsplit(target.url).path
        assert path.endswith(f"/{ctx.settings.target_container}/.inflight/{result.key}-1/{target.language}.txt")
        assert permissions(target.url) == "wl"
    record = ctx.records.get_open(result.key)
    assert record.state == State.GROUPED and record.languages == ["fr", "de"]
    submission = submission_of(ctx, result.key)
    assert submission.state == SubmissionState.SUBMITTED and submission.job_id == result.job_id
    assert [member.key for member in submission.members] == [result.key]


def test_the_same_version_delivered_again_never_starts_a_second_job(ctx, service):
    blob = upload(ctx, "a.txt", b"Hello")
    first = submit_dropped_blob(blob, ctx)
    again = submit_dropped_blob(blob, ctx)
    assert (first.action, again.action) == ("submitted", "duplicate")
    assert len(service.start_calls) == 1


def test_concurrent_deliveries_start_exactly_one_job(ctx, service):
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
    # One delivery claims the version. It is submitted at once, or (when another delivery held the
    # plan's lease at that moment) it waits and is grouped; the others see it claimed, or waiting.
    assert len(results) == 8 and set(results) <= {"submitted", "waiting", "duplicate"}
    assert results.count("submitted") <= 1
    assert len(service.start_calls) == 1 and len(service.start_calls[0]) == 1


def test_a_new_version_is_a_new_record_and_a_new_job(ctx, service):
    first = submit_dropped_blob(upload(ctx, "a.txt", b"Hello"), ctx)
    second = submit_dropped_blob(upload(ctx, "a.txt", b"Hello again"), ctx)
    assert second.action == "submitted" and second.key != first.key
    assert second.key.split("-")[0] == first.key.split("-")[0]  # same file, another version
    assert len(service.start_calls) == 2


@pytest.mark.parametrize(
    ("name", "data", "metadata", "code"),
    [
        ("picture.bmp", b"BM....", None, "UnsupportedFormat"),
        ("noextension", b"text", None, "UnsupportedFormat"),
        ("empty.txt", b"", None, "EmptyDocument"),
        ("langs.txt", b"Hi", {"targetlanguages": "fr,not a language"}, "InvalidTargetLanguages"),
        ("unknown.txt", b"Hi", {"targetlanguages": "fr,xx-yy"}, "UnsupportedLanguage"),
        ("x" * 1020 + ".txt", b"Hi", None, "NameTooLong"),
        # Azure lists this name only percent-encoded (Encoded="true"); the SDK decodes it back.
        ("bad\x01name.txt", b"Hi", None, "ControlCharacterInName"),
    ],
)
def test_files_failing_a_check_are_rejected_without_a_job(ctx, service, name, data, metadata, code):
    result = submit_dropped_blob(upload(ctx, name, data, metadata), ctx)
    assert (result.action, result.reason) == ("rejected", code)
    assert service.start_calls == []
    record = ctx.records.get_open(result.key)
    assert record.state == State.FINISHING and record.reason_code == code and record.reason_message
    assert len(drain_results(ctx)) == 1  # the record function writes the final record


def test_an_unsupported_language_is_named_in_the_reason(ctx, service):
    result = submit_dropped_blob(upload(ctx, "u.txt", b"Hi", {"targetlanguages": "fr,xx-yy,qq"}), ctx)
    message = ctx.records.get_open(result.key).reason_message
    assert "'xx-yy'" in message.lower() and "'qq'" in message


def test_language_codes_take_the_service_spelling(ctx, service):
    submit_dropped_blob(upload(ctx, "c.txt", b"Hi", {"targetlanguages": "FR,De,zh-hans,fr,sr-latn"}), ctx)
    assert [t.language for t in service.start_calls[0][0].targets] == ["fr", "de", "zh-Hans", "sr-Latn"]


def test_too_large_a_document_is_rejected(ctx, service, monkeypatch):
    monkeypatch.setattr("shared.pipeline.checks.MAX_DOCUMENT_BYTES", 10)
    result = submit_dropped_blob(upload(ctx, "big.txt", b"x" * 11), ctx)
    assert result.reason == "DocumentTooLarge"


def test_a_drop_over_2_gib_is_recorded_as_too_large(ctx, service):
    # A sparse page blob: 3 GiB long, no data stored. Its length does not fit the table's Int32.
    blob = ctx.storage.container(ctx.settings.source_container).get_blob_client("huge.txt")
    blob.create_page_blob(size=3 * 2**30)
    result = submit_dropped_blob(blob, ctx)
    assert (result.action, result.reason) == ("rejected", "DocumentTooLarge")
    assert service.start_calls == []
    record = ctx.records.get_open(result.key)
    assert record.size == 3 * 2**30 and record.state == State.FINISHING
    assert "3,221,225,472 bytes" in record.reason_message
    assert len(drain_results(ctx)) == 1


def test_what_the_service_supports_is_asked_once_per_process(ctx, service):
    for index in range(3):
        submit_dropped_blob(upload(ctx, f"f{index}.txt", b"Hello"), ctx)
    assert service.calls["formats"] == 1 and service.calls["languages"] == 1


def test_a_glossary_for_the_language_is_attached(ctx, service):
    glossaries = ctx.storage.container(ctx.settings.glossary_container)
    glossaries.upload_blob("fr.csv", b"widget,bidule\n")
    submit_dropped_blob(upload(ctx, "g.txt", b"widget"), ctx)
    by_language = {t.language: t for t in service.start_calls[0][0].targets}
    [glossary] = by_language["fr"].glossaries
    assert urlsplit(glossary.url).path.endswith("/fr.csv") and glossary.format == "CSV"
    assert permissions(glossary.url) == "rl"
    assert by_language["de"].glossaries == ()


def test_an_uncertain_submission_is_left_for_reconciliation_with_what_it_sent(ctx, service):
    service.fail_next_start = SubmissionUncertainError("lost answer", status_code=503)
    result = submit_dropped_blob(upload(ctx, "u.txt", b"Hello"), ctx)
    assert result.action == "pending"
    assert ctx.records.get_open(result.key).languages == ["fr", "de"]
    submission = submission_of(ctx, result.key)
    assert submission.state == SubmissionState.UNCERTAIN and submission.languages == ["fr", "de"]
    assert submission.attempt_started_at <= submission.attempt_ended_at


def test_a_refused_job_ends_failed_with_the_service_reason(ctx, service):
    service.fail_next_start = InvalidRequestError(
        "Target language xx is invalid", status_code=400, code="InvalidRequest", inner_code="InvalidTargetLanguage"
    )
    result = submit_dropped_blob(upload(ctx, "r.txt", b"Hello"), ctx)
    assert (result.action, result.reason) == ("failed", "InvalidTargetLanguage")
    assert len(drain_results(ctx)) == 1


def test_a_wrong_key_still_leaves_a_record_that_waits_with_the_reason(ctx, service):
    service.refuse_everything = AuthenticationError("Access denied", status_code=401, code="Unauthorized")
    result = submit_dropped_blob(upload(ctx, "k.txt", b"Hello"), ctx)
    record = ctx.records.get_open(result.key)
    assert record.state == State.WAITING and record.needs_attention
    assert "TRANSLATOR_KEY" in record.attention_reason and "401" in record.last_error
    assert service.start_calls == []


def test_keep_policy_rejects_a_new_version_of_a_translated_file(make_context, service):
    ctx = make_context(RETRANSLATE_POLICY="keep")
    target = ctx.storage.container(ctx.settings.target_container)
    target.upload_blob("fr/k.txt", b"old translation", metadata={TRANSLATED_FROM_METADATA_KEY: "0xOLD"})
    result = submit_dropped_blob(upload(ctx, "k.txt", b"Hello"), ctx)
    assert result.reason == "AlreadyTranslated"
    assert service.start_calls == []


def test_replace_policy_leaves_the_published_translation_until_the_new_one_is_ready(ctx, service):
    target = ctx.storage.container(ctx.settings.target_container)
    target.upload_blob("fr/p.txt", b"old translation", metadata={TRANSLATED_FROM_METADATA_KEY: "0xOLD"})
    submit_dropped_blob(upload(ctx, "p.txt", b"Hello"), ctx)
    assert target.download_blob("fr/p.txt").readall() == b"old translation"


def test_a_blob_outside_the_source_container_is_ignored(ctx, service):
    other = ctx.storage.container(ctx.settings.reports_container).get_blob_client("x.txt")
    other.upload_blob(b"hi")
    assert submit_dropped_blob(other, ctx).action == "ignored"


def test_a_blob_deleted_before_its_event_is_handled_is_ignored(ctx, service):
    blob = upload(ctx, "gone.txt", b"Hello")
    blob.delete_blob()
    assert submit_dropped_blob(blob, ctx).action == "ignored"


def test_two_late_copies_of_a_recorded_drops_event_at_once_submit_nothing(ctx, service, clock):
    from shared.pipeline import lifecycle
    from shared.pipeline.submit import plan_for
    from shared.storage.records import SourceVersion
    from tests.pipeline.conftest import settle

    blob = upload(ctx, "late.txt", b"Hello")
    submit_dropped_blob(blob, ctx)
    service.finish_all()
    [final] = settle(ctx, clock)
    starts = len(service.start_calls)
    # Event Grid delivers the drop's event twice more, at once, long after: one copy has just
    # claimed the version again (it has yet to find the final record and take its claim back)...
    properties = blob.get_blob_properties()
    source = SourceVersion.of(blob.container_name, blob.blob_name, properties)
    lifecycle.claim(ctx, source, state=State.WAITING, plan=plan_for(ctx, source, properties.metadata))

    # ...when the other copy finds that claim.
    result = submit_dropped_blob(blob, ctx)

    assert result.action == "duplicate"
    assert len(service.start_calls) == starts  # nothing submitted a second time
    assert not ctx.schedule.waiting(ctx.records.get_open(final.key).plan, limit=1)
