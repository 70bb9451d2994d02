"""Outcome events without storage: the envelope, the Event Grid sink's CloudEvent, the settings."""

import json
from datetime import UTC, datetime

import pytest

from shared.pipeline.outcome_events import EVENT_TYPE, EventGridSink, envelope, event_id
from shared.settings import OutcomeEventSink, Settings, SettingsError
from shared.storage.records import FinalRecord, LanguageOutcome, Outcome

BASE = {"TRANSLATION_STORAGE": "UseDevelopmentStorage=true", "TRANSLATOR_ENDPOINT": "https://t.example.com"}
IDENTITY_STORAGE = {
    "TRANSLATOR_ENDPOINT": "https://t.example.com",
    "TRANSLATION_STORAGE__blobServiceUri": "https://docsacct.blob.core.windows.net",
    "TRANSLATION_STORAGE__queueServiceUri": "https://docsacct.queue.core.windows.net",
    "TRANSLATION_STORAGE__tableServiceUri": "https://docsacct.table.core.windows.net",
}


def final_record(outcome: Outcome = Outcome.FAILED) -> FinalRecord:
    return FinalRecord(
        key="abc-def",
        source_container="source",
        source_name="a/b.docx",
        source_etag="0x8DE",
        source_modified=None,
        outcome=outcome,
        languages=["fr"],
        job_id="job-1",
        job_status="Failed",
        reason_code="NoTranslatableText",
        reason_message="empty",
        characters_charged=0,
        language_outcomes=[LanguageOutcome("fr", "Failed", error_code="NoTranslatableText")],
        report_blob="reports/a/b.docx.json",
        claimed_at=None,
        submitted_at=None,
        finished_at=datetime(2026, 12, 2, 10, 0, tzinfo=UTC),
    )


class RecordingPublisher:
    def __init__(self) -> None:
        self.sent: list = []

    def send(self, events) -> None:
        self.sent.extend(events)


def test_the_event_grid_sink_sends_the_envelope_as_one_cloudevent_with_its_stable_id():
    settings = Settings.from_env(IDENTITY_STORAGE)
    sink = EventGridSink("https://topic.westeurope-1.eventgrid.azure.net/api/events", credential=object())
    publisher = RecordingPublisher()
    sink._client = publisher  # the publisher the sink would build on its first send
    body = envelope(settings, final_record())

    sink.send(body)
    sink.send(body)  # sent again after an unanswered try

    first, again = publisher.sent
    assert (first.id, first.source, first.type, first.subject) == (
        "abc-def:Failed",
        "/translation/docsacct",
        EVENT_TYPE,
        "source/a/b.docx",
    )
    assert first.specversion == "1.0" and first.datacontenttype == "application/json"
    assert first.time == datetime(2026, 12, 2, 10, 0, tzinfo=UTC)
    assert first.data["outcome"] == "Failed" and first.data["reason_code"] == "NoTranslatableText"
    assert first.data["languages"] == [{"language": "fr", "status": "Failed", "target_path": None}]
    assert again.id == first.id


def test_the_event_id_is_the_record_key_and_the_outcome():
    assert event_id(final_record(Outcome.SUCCEEDED)) == "abc-def:Succeeded"
    assert event_id(final_record(Outcome.FAILED)) != event_id(final_record(Outcome.SUCCEEDED))


def test_outcome_events_default_to_the_outcomes_queue():
    settings = Settings.from_env(BASE)
    assert (settings.outcome_events, settings.outcome_queue, settings.outcome_topic_endpoint) == (
        OutcomeEventSink.QUEUE,
        "translation-outcomes",
        None,
    )


@pytest.mark.parametrize(
    ("values", "problem"),
    [
        ({"OUTCOME_EVENTS": "eventgrid"}, "needs OUTCOME_TOPIC_ENDPOINT"),
        ({"OUTCOME_EVENTS": "webhook"}, "OUTCOME_EVENTS must be one of queue, eventgrid, none"),
        ({"OUTCOME_QUEUE": "translation-results"}, "OUTCOME_QUEUE must differ"),
        ({"OUTCOME_EVENTS": "eventgrid", "OUTCOME_TOPIC_ENDPOINT": "topic"}, "must be an http(s) URL"),
    ],
)
def test_impossible_outcome_event_settings_are_refused_saying_why(values, problem):
    with pytest.raises(SettingsError, match=problem.replace("(", r"\(").replace(")", r"\)")):
        Settings.from_env({**BASE, **values})


def test_an_envelope_too_large_for_one_property_leaves_out_its_target_paths_not_the_event():
    from shared.storage.entity_codec import MAX_TEXT_LENGTH
    from shared.storage.outcome_outbox import fitting_envelope_text

    settings = Settings.from_env(BASE)
    name = "\U0001f600" * 1500 + ".txt"  # characters outside the BMP: two UTF-16 units each
    final = final_record(Outcome.SUCCEEDED)
    languages = ["fr", "de", "es", "it", "ja", "pt", "nl", "pl", "sv", "da"]
    final = FinalRecord(
        **{
            **final.__dict__,
            "source_name": name,
            "languages": languages,
            "language_outcomes": [LanguageOutcome(language, "Succeeded", published=True) for language in languages],
        }
    )
    body = envelope(settings, final)
    assert len(json.dumps(body, ensure_ascii=False).encode("utf-16-le")) // 2 > MAX_TEXT_LENGTH

    text = fitting_envelope_text(body)
    assert len(text.encode("utf-16-le")) // 2 <= MAX_TEXT_LENGTH
    kept = json.loads(text)
    assert kept["id"] == body["id"] and kept["data"]["target_paths_left_out"] is True
    assert [language["language"] for language in kept["data"]["languages"]] == languages
