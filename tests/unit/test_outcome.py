"""How a version's outcome follows from its job and documents, and how often a job is looked at."""

from datetime import UTC, datetime, timedelta

import pytest

from shared.pipeline.record import DocumentDetail, decide_outcome
from shared.pipeline.submissions import MAX_CHECK_INTERVAL, MIN_CHECK_INTERVAL, check_interval
from shared.storage.records import OpenRecord, Outcome, ReasonCode, State, version_order

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def record(**fields) -> OpenRecord:
    base = {
        "source_container": "source",
        "source_name": "a.txt",
        "source_etag": "0x1",
        "source_modified": NOW,
        "size": 5,
        "state": State.FINISHING,
        "claimed_at": NOW,
        "languages": ["fr", "de"],
        "job_id": "job",
        "job_status": "Succeeded",
    }
    return OpenRecord(**{**base, **fields})


def doc(language: str, status: str, code: str | None = None) -> DocumentDetail:
    return DocumentDetail(language, status, None, error_code=code, error_message=code and f"{code}!")


def test_all_documents_translated_is_success():
    assert decide_outcome(record(), [doc("fr", "Succeeded"), doc("de", "Succeeded")]) == (Outcome.SUCCEEDED, None, None)


def test_a_succeeded_job_with_a_failed_document_is_partial_success_with_that_reason():
    outcome = decide_outcome(record(), [doc("fr", "Succeeded"), doc("de", "Failed", "TargetFileAlreadyExists")])
    assert outcome == (Outcome.PARTIALLY_SUCCEEDED, "TargetFileAlreadyExists", "TargetFileAlreadyExists!")


def test_a_missing_document_is_not_success():
    assert decide_outcome(record(), [doc("fr", "Succeeded")])[0] is Outcome.PARTIALLY_SUCCEEDED


@pytest.mark.parametrize(
    ("status", "outcome"),
    [("Failed", Outcome.FAILED), ("ValidationFailed", Outcome.FAILED), ("Cancelled", Outcome.CANCELLED)],
)
def test_the_jobs_final_status_decides_first(status, outcome):
    decided = decide_outcome(record(job_status=status, job_error_code="InvalidDocumentAccessLevel"), [])
    assert decided[0] is outcome


def test_a_superseded_version_is_never_reported_as_its_job_status():
    assert decide_outcome(record(superseded_by="newer"), [doc("fr", "Succeeded")])[0] is Outcome.SUPERSEDED


def test_an_outcome_decided_without_a_job_is_kept():
    rejected = record(job_id=None, outcome=Outcome.REJECTED, reason_code="EmptyDocument", reason_message="empty")
    assert decide_outcome(rejected, []) == (Outcome.REJECTED, "EmptyDocument", "empty")


def test_jobs_are_looked_at_often_when_young_and_at_most_once_a_minute_when_old():
    assert check_interval(timedelta(seconds=5)) == MIN_CHECK_INTERVAL
    assert check_interval(timedelta(minutes=5)) == timedelta(seconds=15)
    assert check_interval(timedelta(hours=5)) == MAX_CHECK_INTERVAL


def test_versions_sort_by_last_modified_then_by_claim():
    older = version_order(NOW, NOW + timedelta(seconds=5))
    newer_same_second = version_order(NOW, NOW + timedelta(seconds=6))
    newer = version_order(NOW + timedelta(seconds=1), NOW)
    assert older < newer_same_second < newer


def test_a_version_an_operator_withdrew_from_a_shared_job_is_cancelled():
    assert decide_outcome(record(cancelled_by="an operator"), [doc("fr", "Succeeded")])[0] is Outcome.CANCELLED


def test_a_file_of_a_lost_job_with_nothing_written_says_the_job_is_lost():
    lost = decide_outcome(record(job_lost=True), [doc("fr", "Succeeded"), doc("de", "Succeeded")])
    assert lost == (Outcome.SUCCEEDED, None, None)
    nothing = decide_outcome(record(job_lost=True), [])
    assert nothing[:2] == (Outcome.FAILED, "JobNotFound")


def test_reason_codes_are_one_enum_whose_values_are_the_stored_strings():
    # Records outlive deployments: a stored code reads back as the same member.
    stored = {
        "NewerVersion": ReasonCode.NEWER_VERSION,
        "SourceDeleted": ReasonCode.SOURCE_DELETED,
        "JobNotFound": ReasonCode.JOB_NOT_FOUND,
        "CancelledByOperator": ReasonCode.CANCELLED_BY_OPERATOR,
        "NoDocumentTranslated": ReasonCode.NO_DOCUMENT_TRANSLATED,
        "SameContentInFlight": ReasonCode.SAME_CONTENT_IN_FLIGHT,
        "UnsupportedFormat": ReasonCode.UNSUPPORTED_FORMAT,
    }
    assert {value: ReasonCode(value) for value in stored} == stored
    assert ReasonCode("EmptyDocument").about_the_file and not ReasonCode("AlreadyTranslated").about_the_file


def test_the_outcome_table_names_its_reasons_as_reason_codes():
    superseded = decide_outcome(record(superseded_by="newer"), [])
    assert superseded[0] is Outcome.SUPERSEDED and superseded[1] is ReasonCode.NEWER_VERSION
    lost = decide_outcome(record(job_lost=True), [])
    assert lost[:2] == (Outcome.FAILED, ReasonCode.JOB_NOT_FOUND) and lost[1] is ReasonCode.JOB_NOT_FOUND
    nothing = decide_outcome(record(), [doc("fr", "Failed"), doc("de", "Failed")])
    assert nothing[1] is ReasonCode.NO_DOCUMENT_TRANSLATED
