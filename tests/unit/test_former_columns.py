"""Rows an earlier release wrote, under the column names it used, read back as this release's
fields (records outlive deployments); once this release has merged its own column into such a
row, the old one left beside it is stale and the new one is read."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest

from shared.storage.records import OPEN_CODEC, OpenRecord, SourceVersion, State
from shared.storage.schedule_table import SUBMISSION_CODEC, Member, Submission, SubmissionState

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def _open(**fields) -> OpenRecord:
    source = SourceVersion("source", "a.txt", "0x1", NOW, 5)
    return replace(OpenRecord.new(source, state=State.FINISHING, at=NOW), **fields)


def _submission(**fields) -> Submission:
    submission = Submission(
        "s1", "source", "plan", ["fr"], {}, None, None, [Member("k", "a.txt", 5, 1)], SubmissionState.FINISHING, NOW
    )
    return replace(submission, **fields)


def _written_earlier(entity: dict, renamed: dict[str, str]) -> dict:
    """The entity as an earlier release stored it: each of this release's columns under its old name."""
    earlier = dict(entity)
    for new, old in renamed.items():
        assert new in earlier and old not in earlier  # this release writes the new name only
        earlier[old] = earlier.pop(new)
    return earlier


def test_an_open_record_stored_with_the_job_status_as_service_status_reads_back():
    record = _open(job_status="Cancelled")
    entity = _written_earlier(OPEN_CODEC.to_entity("open-0", record.key, record), {"JobStatus": "ServiceStatus"})
    assert OPEN_CODEC.from_entity(entity) == record
    assert OPEN_CODEC.from_entity(entity | {"JobStatus": "Succeeded"}).job_status == "Succeeded"


def test_an_open_record_stored_with_its_tries_as_attempt_reads_back():
    record = _open(attempts=3)
    entity = _written_earlier(OPEN_CODEC.to_entity("open-0", record.key, record), {"Attempts": "Attempt"})
    assert OPEN_CODEC.from_entity(entity) == record
    # Grouped again by this release: the try it is now is the one read.
    assert OPEN_CODEC.from_entity(entity | {"Attempts": 4}).attempts == 4


def test_an_open_record_stored_with_its_size_as_content_length_reads_back():
    record = _open(size=3 * 2**30)  # beyond Int32: written as an Edm.Int64
    entity = _written_earlier(OPEN_CODEC.to_entity("open-0", record.key, record), {"Size": "ContentLength"})
    assert OPEN_CODEC.from_entity(entity) == record
    assert OPEN_CODEC.from_entity(entity).source.size == 3 * 2**30
    # Planned by this release, which reads the blob's size again (submit.py): that one is read.
    assert OPEN_CODEC.from_entity(entity | {"Size": 7}).size == 7


def test_a_submission_stored_with_the_job_status_as_service_status_reads_back():
    submission = _submission(job_status="Failed", job_error_code="InvalidRequest")
    entity = _written_earlier(
        SUBMISSION_CODEC.to_entity("schedule", submission.row, submission), {"JobStatus": "ServiceStatus"}
    )
    assert SUBMISSION_CODEC.from_entity(entity) == submission
    assert SUBMISSION_CODEC.from_entity(entity | {"JobStatus": "Succeeded"}).job_status == "Succeeded"


def test_a_partial_write_cannot_name_a_column_no_field_has():
    assert OPEN_CODEC.column("job_status") == "JobStatus"
    assert SUBMISSION_CODEC.column("last_polled_at") == "LastPolledAt"
    with pytest.raises(ValueError, match="service_status"):
        OPEN_CODEC.column("service_status")
