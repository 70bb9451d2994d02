"""Outcome events on Azurite: one CloudEvent per final record, an outbox that survives a sink that is
down, and duplicates only under the same id."""

import json

import pytest

from shared.pipeline.outcome_events import EVENT_TYPE, OWED_RETRY
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.record import record_outcome
from tests.pipeline.conftest import drain_results, finished, record_all

pytestmark = pytest.mark.integration


def received_events(ctx) -> list[dict]:
    """What a consumer of the outcomes queue receives (and removes), oldest first."""
    queue = ctx.storage.outcome_queue
    events = []
    while batch := list(queue.receive_messages(max_messages=32)):
        for message in batch:
            events.append(json.loads(message.content))
            queue.delete_message(message)
    return events


def sink_down(ctx) -> None:
    ctx.storage.outcome_queue.delete_queue()


def sink_back(ctx) -> None:
    ctx.storage.outcome_queue.create_queue()


def test_each_final_record_publishes_one_cloudevent_saying_what_became_of_its_file(ctx, service, clock):
    ok = finished(ctx, service, clock, "docs/ok.txt")
    partial = finished(ctx, service, clock, "docs/part.txt", failures={"de": ("NoTranslatableText", "empty")})
    records = {record.key: record for record in record_all(ctx)}

    events = {event["id"]: event for event in received_events(ctx)}
    assert set(events) == {f"{ok.key}:Succeeded", f"{partial.key}:PartiallySucceeded"}
    event = events[f"{ok.key}:Succeeded"]
    target = ctx.settings.target_container
    assert {name: event[name] for name in ("specversion", "type", "subject", "datacontenttype")} == {
        "specversion": "1.0",
        "type": EVENT_TYPE,
        "subject": f"{ctx.settings.source_container}/docs/ok.txt",
        "datacontenttype": "application/json",
    }
    assert event["source"] == "/translation/devstoreaccount1"
    assert event["time"] == records[ok.key].finished_at.isoformat()
    assert event["data"] == {
        "source_path": f"{ctx.settings.source_container}/docs/ok.txt",
        "source_version": records[ok.key].source_etag,
        "record_key": ok.key,
        "outcome": "Succeeded",
        "reason_code": None,
        "reason_message": None,
        "languages": [
            {"language": "de", "status": "Succeeded", "target_path": f"{target}/de/docs/ok.txt"},
            {"language": "fr", "status": "Succeeded", "target_path": f"{target}/fr/docs/ok.txt"},
        ],
        "report_path": records[ok.key].report_blob,
        "characters_charged": 200,
    }
    languages = {item["language"]: item for item in events[f"{partial.key}:PartiallySucceeded"]["data"]["languages"]}
    assert languages["de"] == {"language": "de", "status": "Failed", "target_path": None}
    assert events[f"{partial.key}:PartiallySucceeded"]["data"]["reason_code"] == "NoTranslatableText"
    # Sent and marked sent: nothing is owed, and a poll sends nothing more.
    assert ctx.records.unsent_events(limit=10) == []
    clock.advance(OWED_RETRY.total_seconds())
    poll_outstanding_jobs(ctx)
    assert received_events(ctx) == []


def test_a_sink_that_is_down_delays_no_record_and_the_poll_sends_the_event_once_it_is_back(ctx, service, clock):
    result = finished(ctx, service, clock, "down.txt")
    sink_down(ctx)
    [final] = record_all(ctx)  # recording goes through whatever the sink does

    assert final.outcome == "Succeeded" and ctx.records.get_final(result.key) is not None
    [owed] = ctx.records.unsent_events(limit=10)
    assert owed.event_id == f"{result.key}:Succeeded"
    assert [record.key for record in ctx.records.finals()] == [result.key]  # the intent is not a record
    clock.advance(OWED_RETRY.total_seconds())
    summary = poll_outstanding_jobs(ctx)  # still down: still owed
    assert (summary.events_owed, summary.events_sent) == (1, 0)
    assert len(ctx.records.unsent_events(limit=10)) == 1

    sink_back(ctx)
    assert poll_outstanding_jobs(ctx).events_owed == 0  # tried again a minute after the last try
    clock.advance(OWED_RETRY.total_seconds())
    summary = poll_outstanding_jobs(ctx)
    assert (summary.events_owed, summary.events_sent) == (1, 1)
    assert [event["id"] for event in received_events(ctx)] == [f"{result.key}:Succeeded"]
    assert ctx.records.unsent_events(limit=10) == []
    poll_outstanding_jobs(ctx)
    assert received_events(ctx) == []


def test_a_failed_send_is_tried_again_by_the_poll_a_minute_on_from_what_is_due(ctx, service, clock, monkeypatch):
    finished(ctx, service, clock, "young.txt")
    sink_down(ctx)
    record_all(ctx)
    sink_back(ctx)
    summary = poll_outstanding_jobs(ctx)  # not due yet: the entry is a minute on
    assert (summary.events_owed, summary.events_sent) == (0, 0)
    assert received_events(ctx) == []
    clock.advance(OWED_RETRY.total_seconds())
    queries = []
    table = ctx.storage.records_table
    original = table.query_entities
    monkeypatch.setattr(table, "query_entities", lambda *a, **k: queries.append(a) or original(*a, **k))
    assert poll_outstanding_jobs(ctx).events_sent == 1
    assert len(queries) == 1  # what is due, the tick's one query: no scan of the outbox


def test_a_send_whose_retry_cannot_be_scheduled_fails_the_record_step_so_the_host_delivers_it_again(
    ctx, service, clock, monkeypatch
):
    result = finished(ctx, service, clock, "storm.txt")
    [text] = drain_results(ctx)
    sink_down(ctx)
    put_due = ctx.schedule.put_due
    monkeypatch.setattr(ctx.schedule, "put_due", lambda entry: (_ for _ in ()).throw(RuntimeError("storage gone")))
    with pytest.raises(RuntimeError):
        record_outcome(text, ctx)
    assert ctx.records.get_final(result.key) is not None  # recorded all the same
    monkeypatch.setattr(ctx.schedule, "put_due", put_due)
    sink_back(ctx)

    assert record_outcome(text, ctx) is None  # the host's next delivery sends what is owed

    assert [event["id"] for event in received_events(ctx)] == [f"{result.key}:Succeeded"]
    assert ctx.records.unsent_events(limit=10) == []


def test_a_repeated_result_message_publishes_no_second_distinct_event(ctx, service, clock):
    result = finished(ctx, service, clock, "twice.txt")
    [text] = drain_results(ctx)
    assert record_outcome(text, ctx).outcome == "Succeeded"
    assert record_outcome(text, ctx) is None  # delivered again

    events = received_events(ctx)
    assert [event["id"] for event in events] == [f"{result.key}:Succeeded"]


def test_a_result_message_delivered_again_sends_the_event_its_first_delivery_could_not(ctx, service, clock):
    result = finished(ctx, service, clock, "retry.txt")
    [text] = drain_results(ctx)
    sink_down(ctx)
    record_outcome(text, ctx)
    sink_back(ctx)
    assert record_outcome(text, ctx) is None  # the host delivers the message again

    assert [event["id"] for event in received_events(ctx)] == [f"{result.key}:Succeeded"]
    assert ctx.records.unsent_events(limit=10) == []


def test_a_sent_event_that_could_not_be_marked_sent_is_sent_again_under_the_same_id(ctx, service, clock, monkeypatch):
    result = finished(ctx, service, clock, "unmarked.txt")
    event_sent = ctx.records.event_sent
    monkeypatch.setattr(ctx.records, "event_sent", lambda intent: (_ for _ in ()).throw(RuntimeError("cut off")))
    record_all(ctx)
    monkeypatch.setattr(ctx.records, "event_sent", event_sent)
    clock.advance(OWED_RETRY.total_seconds())
    poll_outstanding_jobs(ctx)

    ids = [event["id"] for event in received_events(ctx)]
    assert ids == [f"{result.key}:Succeeded"] * 2  # a duplicate, which consumers drop by its id
    assert ctx.records.unsent_events(limit=10) == []


def test_no_sink_writes_no_intent_and_sends_nothing(make_context, service, clock):
    ctx = make_context(OUTCOME_EVENTS="none")
    result = finished(ctx, service, clock, "quiet.txt")
    [final] = record_all(ctx)
    assert final.outcome == "Succeeded"
    assert ctx.records.get_unsent_event(result.key) is None
    assert ctx.outcome_sink is None
