"""What a record says about its source version cannot drift from it: the key and the ETag."""

from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

from shared.storage.record_keys import record_key, unquoted_etag
from shared.storage.records import (
    FINAL_CODEC,
    FINAL_COUNTS,
    OPEN_CODEC,
    FinalRecord,
    LanguageOutcome,
    OpenRecord,
    Outcome,
    SourceVersion,
    State,
)

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_a_record_given_another_etag_is_keyed_by_that_version():
    record = OpenRecord.new(SourceVersion("source", "a.txt", "0x1", NOW, 5), state=State.FINISHING, at=NOW)
    other = replace(record, source_etag="0x2")
    assert other.key == record_key("source", "a.txt", "0x2") and other.key != record.key


def test_an_etag_loses_its_quotes_in_one_place_whoever_reads_it():
    properties = SimpleNamespace(etag='"0x8D1"', last_modified=NOW, size=3, content_settings=None)
    assert SourceVersion.of("source", "a.txt", properties).etag == unquoted_etag('"0x8D1"') == "0x8D1"
    assert unquoted_etag("0x8D1") == "0x8D1"


def _final(*statuses: str) -> FinalRecord:
    return FinalRecord(
        key=record_key("source", "a.txt", "0x1"),
        source_container="source",
        source_name="a.txt",
        source_etag="0x1",
        source_modified=NOW,
        outcome=Outcome.PARTIALLY_SUCCEEDED,
        languages=[f"l{index}" for index in range(len(statuses))],
        job_id="job-1",
        job_status="Succeeded",
        reason_code=None,
        reason_message=None,
        characters_charged=10,
        language_outcomes=[LanguageOutcome(f"l{index}", status) for index, status in enumerate(statuses)],
        report_blob="reports/a.txt.json",
        claimed_at=NOW,
        submitted_at=NOW,
        finished_at=NOW,
    )


def test_a_final_records_counts_are_its_language_outcomes_in_the_entity_and_the_report():
    final = _final("Succeeded", "Failed", "ValidationFailed", "Cancelled", "Succeeded")
    counts = {"Total": 5, "Succeeded": 2, "Failed": 2, "Cancelled": 1}
    entity = FINAL_CODEC.to_entity("final", final.key, final)
    assert {name: entity[name] for name in counts} == counts
    body = final.to_json()
    assert {name.lower(): body[name.lower()] for name in counts} == {name.lower(): n for name, n in counts.items()}
    # The report keeps the README's order: the counts right after the reason.
    names = list(body)
    assert names[names.index("reason_message") + 1 : names.index("reason_message") + 5] == list(FINAL_COUNTS)
    one_fewer = replace(final, language_outcomes=final.language_outcomes[1:])
    assert (one_fewer.total, one_fewer.succeeded) == (4, 1)


def test_a_final_record_stored_with_its_counts_as_columns_reads_back():
    final = _final("Succeeded", "Failed")
    entity = FINAL_CODEC.to_entity("final", final.key, final)
    # The shape an earlier release wrote: the same columns, the counts among them as plain fields.
    entity |= {"Total": 2, "Succeeded": 1, "Failed": 1, "Cancelled": 0}
    read = FINAL_CODEC.from_entity(entity, key=final.key)
    assert read == final
    assert (read.total, read.succeeded, read.failed, read.cancelled) == (2, 1, 1, 0)


def test_records_stored_with_the_claim_moment_as_intent_at_read_back():
    record = OpenRecord.new(SourceVersion("source", "a.txt", "0x1", NOW, 5), state=State.WAITING, at=NOW)
    entity = OPEN_CODEC.to_entity("open-0", record.key, record)
    assert entity["ClaimedAt"] == NOW
    entity["IntentAt"] = entity.pop("ClaimedAt")  # the shape an earlier release wrote
    assert OPEN_CODEC.from_entity(entity).claimed_at == NOW
    final = _final("Succeeded")
    entity = FINAL_CODEC.to_entity("final", final.key, final)
    entity["IntentAt"] = entity.pop("ClaimedAt")
    assert FINAL_CODEC.from_entity(entity, key=final.key) == final
