"""Status normalisation, parsing of the reference pages' examples, request bodies and their reprs."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from shared.translator import (
    FINAL_STATUSES,
    ErrorDetail,
    Glossary,
    JobStatus,
    Status,
    TranslationInput,
    TranslationTarget,
    is_final_status,
    is_known_status,
    normalize_status,
)
from shared.translator.routes import next_link_of
from tests.unit.translator.conftest import SAS_SIG, SOURCE_SAS_URL, TARGET_SAS_URL
from tests.unit.translator.reference_examples import JOB_EXAMPLE

# The example answer of "Get translations status" (reference page 001, v1.1), with its
# stray quote before @nextLink fixed.
LIST_EXAMPLE = {
    "value": [
        {
            "id": "36724748-f7a0-4db7-b7fd-f041ddc75033",
            "createdDateTimeUtc": "2021-06-18T03:35:30.153374Z",
            "lastActionDateTimeUtc": "2021-06-18T03:36:44.6155316Z",
            "status": "Succeeded",
            "summary": {
                "total": 3,
                "failed": 2,
                "success": 1,
                "inProgress": 0,
                "notYetStarted": 0,
                "cancelled": 0,
                "totalCharacterCharged": 0,
            },
        },
        {
            "id": "1c7399a7-6913-4f20-bb43-e2fe2ba1a67d",
            "createdDateTimeUtc": "2021-05-24T17:57:43.8356624Z",
            "lastActionDateTimeUtc": "2021-05-24T17:57:47.128391Z",
            "status": "Failed",
            "summary": {
                "total": 1,
                "failed": 1,
                "success": 0,
                "inProgress": 0,
                "notYetStarted": 0,
                "cancelled": 0,
                "totalCharacterCharged": 0,
            },
        },
        {
            "id": "daa2a646-4237-4f5f-9a48-d515c2d9af3c",
            "createdDateTimeUtc": "2021-04-14T19:49:26.988272Z",
            "lastActionDateTimeUtc": "2021-04-14T19:49:43.9818634Z",
            "status": "Succeeded",
            "summary": {
                "total": 2,
                "failed": 0,
                "success": 2,
                "inProgress": 0,
                "notYetStarted": 0,
                "cancelled": 0,
                "totalCharacterCharged": 21899,
            },
        },
    ],
    "@nextLink": "https://westus.cognitiveservices.azure.com/translator/text/batch/v1.1/operations/"
    "727BF148-F327-47A0-9481-ABAE6362F11E/documents?$top=5&$skip=15",
}

# The example error of the same page (status 500).
ERROR_EXAMPLE = {
    "error": {
        "code": "InternalServerError",
        "message": "Internal Server Error",
        "target": "Operation",
        "innerError": {"code": "InternalServerError", "message": "Unexpected internal server error has occurred"},
    }
}


def test_the_list_example_parses_with_seven_digit_fractions_and_a_succeeded_job_with_failures():
    jobs = [JobStatus.from_json(item) for item in LIST_EXAMPLE["value"]]

    assert [job.status for job in jobs] == [Status.SUCCEEDED, Status.FAILED, Status.SUCCEEDED]
    first = jobs[0]
    assert first.created_at == datetime(2021, 6, 18, 3, 35, 30, 153374, tzinfo=UTC)
    assert first.last_updated_at == datetime(2021, 6, 18, 3, 36, 44, 615531, tzinfo=UTC)
    # A job can succeed while some documents failed: the summary tells.
    assert first.is_final and first.summary.failed == 2 and first.summary.success == 1
    assert jobs[2].summary.total_character_charged == 21899
    assert next_link_of(LIST_EXAMPLE).endswith("documents?$top=5&$skip=15")


def test_the_job_example_parses():
    job = JobStatus.from_json(JOB_EXAMPLE)
    assert job.id == "727bf148-f327-47a0-9481-abae6362f11e"
    assert job.created_at == datetime(2020, 3, 26, tzinfo=UTC)
    assert (job.summary.total, job.summary.failed, job.summary.success, job.summary.in_progress) == (10, 1, 9, 0)
    assert job.error is None and job.retry_after is None


def test_the_error_example_parses():
    detail = ErrorDetail.from_json(ERROR_EXAMPLE["error"])
    assert detail == ErrorDetail(
        code="InternalServerError",
        message="Internal Server Error",
        target="Operation",
        inner_code="InternalServerError",
        inner_message="Unexpected internal server error has occurred",
    )
    assert ErrorDetail.from_json(None) is None


def test_a_job_level_error_is_read():
    job = JobStatus.from_json(
        {
            "id": "j",
            "status": "ValidationFailed",
            "error": {"code": "InvalidRequest", "message": "Cannot access source", "innerError": {"code": "X"}},
        }
    )
    assert job.is_final and job.error is not None and job.error.inner_code == "X"
    assert job.created_at is None and job.summary.total == 0


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Canceled", Status.CANCELLED),
        ("Canceling", Status.CANCELLING),
        ("cancelled", Status.CANCELLED),
        ("SUCCEEDED", Status.SUCCEEDED),
        ("notstarted", Status.NOT_STARTED),
        ("validationFailed", Status.VALIDATION_FAILED),
        ("Paused", "Paused"),
    ],
)
def test_normalize_status(raw, expected):
    assert normalize_status(raw) == expected


def test_final_and_known_statuses():
    assert FINAL_STATUSES == {"Succeeded", "Failed", "Cancelled", "ValidationFailed"}
    assert is_final_status("Canceled")
    assert not is_final_status("Running") and not is_final_status("Cancelling")
    # An unknown status is kept as is, and never taken as final.
    job = JobStatus.from_json({"id": "j", "status": "Paused"})
    assert job.status == "Paused" and not job.is_final
    assert not is_known_status("Paused") and is_known_status("Canceled")


def test_unreadable_dates_are_absent_not_fatal():
    job = JobStatus.from_json({"id": "j", "status": "Running", "createdDateTimeUtc": "yesterday"})
    assert job.created_at is None


def test_translation_input_body_for_a_folder_with_a_filter():
    body = TranslationInput(
        "https://acct.blob.core.windows.net/source",
        [TranslationTarget("https://acct.blob.core.windows.net/target", "de")],
        prefix="reports/",
        suffix=".docx",
    ).to_json()
    assert body == {
        "source": {
            "sourceUrl": "https://acct.blob.core.windows.net/source",
            "filter": {"prefix": "reports/", "suffix": ".docx"},
        },
        "targets": [{"targetUrl": "https://acct.blob.core.windows.net/target", "language": "de"}],
    }


def test_glossary_version_is_sent_only_when_given():
    assert Glossary("u", "xliff", "1.2").to_json() == {"glossaryUrl": "u", "format": "xliff", "version": "1.2"}
    assert Glossary("u", "tsv").to_json() == {"glossaryUrl": "u", "format": "tsv"}


def test_request_reprs_hide_the_sas_signature():
    glossary_url = f"https://acct.blob.core.windows.net/glossaries/fr.tsv?sv=2024-08-04&sig={SAS_SIG}"
    request = TranslationInput(
        SOURCE_SAS_URL, (TranslationTarget(TARGET_SAS_URL, "fr", glossaries=(Glossary(glossary_url, "tsv"),)),)
    )
    text = repr(request)
    assert SAS_SIG not in text
    assert "sig=***" in text and "sv=2024-08-04" in text and "fr" in text


def test_a_submission_keeps_its_job_summary_typed_through_the_table():
    from datetime import UTC, datetime

    from shared.storage.schedule_table import SUBMISSION_CODEC, Submission, SubmissionState
    from shared.translator import StatusSummary

    summary = StatusSummary(total=4, failed=1, success=2, cancelled=1, in_progress=0)
    submission = Submission(
        "s1",
        "source",
        "plan",
        ["fr"],
        {},
        None,
        None,
        [],
        SubmissionState.SUBMITTED,
        datetime.now(UTC),
        summary=summary,
    )
    entity = SUBMISSION_CODEC.to_entity("p", "r", submission)
    # Written as `asdict` wrote it before it was typed, so earlier rows read the same.
    assert json.loads(entity["Summary"])["total"] == 4
    read = SUBMISSION_CODEC.from_entity(entity)
    assert read.summary == summary and read.summary.done == 4
