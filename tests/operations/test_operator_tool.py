"""`translation-ops`: status, show, watch, retry, cancel and redrive, as an operator runs them."""

import json
from dataclasses import replace

import pytest

from shared.pipeline import grouping
from shared.pipeline.catch_up import catch_up_missed_drops
from shared.pipeline.context import PipelineContext
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import plan_for, submit_dropped_blob
from shared.storage.records import SourceVersion, State
from tests.pipeline.conftest import drain_results, settle, upload
from translation_ops import actions

pytestmark = pytest.mark.integration


def test_status_counts_states_and_outcomes_and_lists_what_needs_attention(ctx, service, clock, run):
    done = submit_dropped_blob(upload(ctx, "done.txt", b"Hello"), ctx)
    submit_dropped_blob(upload(ctx, "bad.zip", b"PK"), ctx)
    running = submit_dropped_blob(upload(ctx, "running.txt", b"Hello"), ctx)
    service.finish(done.job_id)
    settle(ctx, clock)
    service.jobs[running.job_id].status = "Paused"  # a status nobody knows: flagged
    clock.advance(5)
    poll_outstanding_jobs(ctx)

    code, output = run("status", "--json")
    assert code == 0
    status = json.loads(output)
    assert status["recorded_by_outcome"] == {"Succeeded": 1, "Rejected": 1}
    assert status["outstanding_by_state"] == {"Submitted": 1}
    [attention] = status["needs_attention"]
    assert attention["source_path"].endswith("/running.txt") and "Paused" in attention["reason"]
    assert status["failure_reasons"] == {"UnsupportedFormat": 1}

    code, output = run("status")
    assert code == 0 and "Needs attention" in output and "running.txt" in output and "Rejected" in output
    assert "Not translated, by reason" in output and "UnsupportedFormat" in output


def test_status_during_a_bulk_shows_its_job_as_a_whole_and_the_oldest_files(ctx, service, clock, run):
    blobs = [upload(ctx, f"bulk/{index:03d}.txt", b"Hello") for index in range(80)]
    plan = plan_for(
        ctx, SourceVersion.of(ctx.settings.source_container, blobs[0].blob_name, blobs[0].get_blob_properties()), {}
    )
    lease = grouping.acquire(ctx, plan.digest)  # someone groups this plan: the drops wait for it
    assert {submit_dropped_blob(blob, ctx).action for blob in blobs} == {"waiting"}
    assert grouping.keep_grouping(ctx, lease, patient=False) == 1
    [job] = service.jobs.values()

    code, output = run("status", "--json")
    assert code == 0
    status = json.loads(output)
    assert len(status["outstanding"]) == 80 and [item["files"] for item in status["jobs"]] == [80]

    code, output = run("status")
    assert code == 0
    assert "1 jobs: 0 of 160 documents done" in output and job.id in output
    assert "the 50 oldest of 80; --json lists every one" in output
    assert output.count("bulk/") == 50 and "(80 files)" in output


def test_show_tells_every_version_of_a_file(ctx, service, clock, run):
    first = submit_dropped_blob(upload(ctx, "letter.txt", b"One"), ctx)
    service.finish(first.job_id)
    settle(ctx, clock)
    clock.advance(2)
    second = submit_dropped_blob(upload(ctx, "letter.txt", b"Two"), ctx)
    service.finish(second.job_id, failures={"de": ("NoTranslatableText", "nothing to translate")})
    settle(ctx, clock)

    code, output = run("show", "letter.txt", "--json")
    assert code == 0
    shown = json.loads(output)
    assert [version["outcome"] for version in shown["recorded"]] == ["Succeeded", "PartiallySucceeded"]
    assert shown["report"]["source_etag"] == shown["current_version"]
    second_etag = shown["recorded"][1]["source_etag"]
    first_etag = shown["recorded"][0]["source_etag"]
    assert shown["translations"] == {
        f"{ctx.settings.target_container}/fr/letter.txt": second_etag,
        f"{ctx.settings.target_container}/de/letter.txt": first_etag,  # the newer version failed for de
    }
    code, output = run("show", "letter.txt")
    assert code == 0 and "NoTranslatableText" in output


def test_show_names_a_versions_status_tries_and_size_alike_in_flight_and_recorded(ctx, service, clock, run):
    result = submit_dropped_blob(upload(ctx, "words.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    clock.advance(5)
    poll_outstanding_jobs(ctx)  # handed over, not recorded yet
    code, output = run("show", "words.txt", "--json")
    assert code == 0
    [open_record] = json.loads(output)["outstanding"]
    assert (open_record["job_status"], open_record["attempts"], open_record["size"]) == ("Succeeded", 1, 5)

    settle(ctx, clock)
    code, output = run("show", "words.txt", "--json")
    shown = json.loads(output)
    assert code == 0 and shown["outstanding"] == []
    [final] = shown["recorded"]
    assert (final["job_status"], final["attempts"]) == ("Succeeded", 1)
    assert (shown["report"]["job_status"], shown["report"]["attempts"]) == ("Succeeded", 1)


def test_watch_follows_until_recorded_and_fails_when_a_file_failed(ctx, service, clock, run, monkeypatch):
    good = submit_dropped_blob(upload(ctx, "good.txt", b"Hello"), ctx)
    bad = submit_dropped_blob(upload(ctx, "bad.txt", b"Hello"), ctx)
    service.finish(good.job_id)
    service.finish(bad.job_id, failures={"fr": ("X", "y"), "de": ("X", "y")})
    monkeypatch.setattr("translation_ops.cli.time.sleep", lambda _seconds: settle(ctx, clock))
    code, output = run("watch", "good.txt", "--interval", "0")
    assert code == 0 and "good.txt" in output
    code, _ = run("watch", "bad.txt", "--interval", "0")
    assert code == 1


def test_retry_submits_a_rejected_file_again_once_its_cause_is_fixed(make_context, service, clock, monkeypatch):
    ctx = make_context(TARGET_LANGUAGES="fr,xx-yy")  # a language the service does not have
    result = submit_dropped_blob(upload(ctx, "r.txt", b"Hello"), ctx)
    [final] = settle(ctx, clock)
    assert final.reason_code == "UnsupportedLanguage"
    # The operator fixes the setting (the app restarts with it).
    fixed = PipelineContext(
        replace(ctx.settings, target_languages=("fr",)), translator=service, now=clock, sleep=clock.sleep
    )
    actions.retry(fixed, "r.txt")
    assert fixed.records.get_open(result.key).state == State.WAITING
    clock.advance(1)
    poll_outstanding_jobs(fixed)
    submission = fixed.schedule.get_submission(fixed.records.get_open(result.key).submission)
    service.finish(submission.job_id)
    [again] = settle(fixed, clock)
    assert (again.key, again.outcome, again.attempts) == (result.key, "Succeeded", 2)
    with pytest.raises(actions.ActionRefused, match="nothing to retry"):
        actions.retry(fixed, "r.txt")


def test_cancel_ends_a_running_file_cancelled(ctx, service, clock, run):
    result = submit_dropped_blob(upload(ctx, "c.txt", b"Hello"), ctx)
    code, output = run("cancel", "c.txt")
    assert code == 0 and result.job_id in output
    [final] = settle(ctx, clock)
    assert final.outcome == "Cancelled"
    code, output = run("cancel", "c.txt")
    assert code == 1 and "nothing in flight" in output


def dead_letter(ctx, container: str, name: str, *, at: str) -> None:
    """A BlobCreated event Event Grid gave up delivering, in its dead-letter container (one for the
    session's Azurite: made once)."""
    from azure.core.exceptions import ResourceExistsError

    dead_letters = ctx.storage.container("eventgrid-deadletter")
    try:
        dead_letters.create_container()
    except ResourceExistsError:
        pass
    event = {
        "eventType": "Microsoft.Storage.BlobCreated",
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "deadLetterReason": "MaxDeliveryAttemptsExceeded",
    }
    dead_letters.upload_blob(f"topic/sub/{at}/event.json", json.dumps([event]))


def test_redrive_has_the_job_of_a_dead_lettered_translation_write_looked_at(ctx, service, clock, run):
    from shared.storage.blob_names import staging_blob_name

    written = submit_dropped_blob(upload(ctx, "written.txt", b"Hello"), ctx)
    service.finish(written.job_id)  # the service wrote both translations; their events never arrived
    name = staging_blob_name(written.key, 1, "de", "written.txt")
    dead_letter(ctx, ctx.settings.target_container, name, at="2026/12/02/01")

    code, output = run("redrive")

    assert code == 0 and "1 written translations' jobs looked at" in output, output
    assert ctx.records.get_open(written.key).state.value == "Finishing"
    assert len(drain_results(ctx)) == 1


def test_redrive_moves_each_poisoned_message_and_dead_letter_once(ctx, service, clock, run):
    # A finished record whose result message ended in the poison queue.
    stuck = submit_dropped_blob(upload(ctx, "stuck.txt", b"Hello"), ctx)
    service.finish(stuck.job_id)
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    [message] = drain_results(ctx)
    ctx.storage.poison_queue.send_message(message)
    # A drop whose blob trigger gave up, and one whose Event Grid event was dead-lettered.
    poisoned = upload(ctx, "poisoned.txt", b"Hello")
    ctx.storage.blob_trigger_poison_queue.send_message(
        json.dumps({"ContainerName": ctx.settings.source_container, "BlobName": "poisoned.txt", "ETag": '"x"'})
    )
    upload(ctx, "dead.txt", b"Hello")
    dead_letter(ctx, ctx.settings.source_container, "dead.txt", at="2026/11/24/01")

    code, output = run("redrive")
    assert code == 0 and "1 results messages moved back, 1 poisoned drops and 1 dead-lettered events" in output, output
    assert len(drain_results(ctx)) == 1
    submitted = {call[0].source_url.split("?")[0].rsplit("/", 1)[-1] for call in service.start_calls}
    assert {"poisoned.txt", "dead.txt"} <= submitted
    code, output = run("redrive")  # each once
    assert "0 results messages moved back, 0 poisoned drops and 0 dead-lettered events" in output
    assert poisoned.exists()


def test_retry_failed_leaves_cancels_and_rejections_of_the_file_itself_alone(ctx, service, clock):
    failed = submit_dropped_blob(upload(ctx, "failed.txt", b"Hello"), ctx)
    service.finish(failed.job_id, failures={"fr": ("InternalServerError", "x"), "de": ("InternalServerError", "x")})
    cancelled = submit_dropped_blob(upload(ctx, "cancelled.txt", b"Hello"), ctx)
    actions.cancel(ctx, "cancelled.txt")
    service.finish(cancelled.job_id, status="Cancelled")
    empty = submit_dropped_blob(upload(ctx, "empty.txt", b""), ctx)
    settle(ctx, clock)
    assert {final.key: final.outcome for final in ctx.records.finals()} == {
        failed.key: "Failed",
        cancelled.key: "Cancelled",
        empty.key: "Rejected",
    }
    reopened = actions.retry_failed(ctx)
    assert [final.key for final in reopened] == [failed.key]
    assert ctx.records.get_open(cancelled.key) is None and ctx.records.get_open(empty.key) is None
    with pytest.raises(actions.ActionRefused, match="can only fail again"):
        actions.retry(ctx, "empty.txt")
    actions.retry(ctx, "cancelled.txt")  # asked by name: the operator's own decision
    assert ctx.records.get_open(cancelled.key) is not None


def test_every_attempt_s_charge_is_kept_summed_and_itemised(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "twice.txt", b"Hello"), ctx)
    service.finish(result.job_id, failures={"de": ("InternalServerError", "x")})
    [first] = settle(ctx, clock)
    assert first.outcome == "PartiallySucceeded" and first.characters_charged == 100
    actions.retry(ctx, "twice.txt")
    clock.advance(1)
    poll_outstanding_jobs(ctx)
    submission = ctx.schedule.get_submission(ctx.records.get_open(result.key).submission)
    service.finish(submission.job_id)
    [second] = settle(ctx, clock)
    assert second.outcome == "Succeeded"
    assert [(charge.attempt, charge.characters_charged) for charge in second.charges] == [(1, 100), (2, 200)]
    assert second.characters_charged == 300
    assert ctx.records.get_final(result.key).characters_charged == 300
    body = json.loads(ctx.storage.container(ctx.settings.reports_container).download_blob("twice.txt.json").readall())
    assert [charge["characters_charged"] for charge in body["charges"]] == [100, 200]


def test_a_cancel_keeps_what_was_finished_and_billed_where_the_report_says(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "paid.txt", b"Hello"), ctx)
    actions.cancel(ctx, "paid.txt")
    # The fr document was done before the service stopped the job.
    service.finish(result.job_id, failures={"de": ("Cancelled", "the job was cancelled")}, status="Cancelled")
    [final] = settle(ctx, clock)
    assert final.outcome == "Cancelled" and "kept unpublished" in final.reason_message
    assert final.characters_charged == 100
    body = json.loads(ctx.storage.container(ctx.settings.reports_container).download_blob("paid.txt.json").readall())
    [fr] = [document for document in body["documents"] if document["language"] == "fr"]
    assert fr["published"] is False and fr["path"].startswith(f"{ctx.settings.target_container}/.cancelled/")
    kept = fr["path"].split("/", 1)[1]
    target = ctx.storage.container(ctx.settings.target_container)
    assert target.download_blob(kept).readall() == b"[fr] translated"
    assert not any(name.startswith("fr/") for name in target.list_blob_names())  # never published


def test_a_job_cancelled_at_the_service_publishes_what_finished(ctx, service, clock):
    result = submit_dropped_blob(upload(ctx, "portal.txt", b"Hello"), ctx)
    # Someone cancelled the job in the portal; fr was done before.
    service.finish(result.job_id, failures={"de": ("Cancelled", "the job was cancelled")}, status="Cancelled")
    [final] = settle(ctx, clock)
    assert final.outcome == "Cancelled" and "were published" in final.reason_message
    assert {o.language: o.published for o in final.language_outcomes} == {"de": False, "fr": True}
    target = ctx.storage.container(ctx.settings.target_container)
    assert target.download_blob("fr/portal.txt").readall() == b"[fr] translated"


def test_status_shows_that_the_catch_up_cannot_list_the_source_container(ctx, service, clock, run):
    upload(ctx, "b\x01unlistable.txt", b"Hello")  # Azurite cannot write this name into a listing
    clock.advance(ctx.settings.catch_up_after_seconds + 60)
    assert catch_up_missed_drops(ctx).listing_failed

    code, output = run("status", "--json")
    assert code == 0
    failing = json.loads(output)["catch_up_failing"]
    assert failing["since"] == clock().isoformat() and "HttpResponseError" in failing["reason"]
    code, output = run("status")
    [line] = [line for line in output.splitlines() if "catch-up failing" in line]
    assert "HttpResponseError" in line

    ctx.storage.container(ctx.settings.source_container).delete_blob("b\x01unlistable.txt")
    catch_up_missed_drops(ctx)
    code, output = run("status", "--json")
    assert json.loads(output)["catch_up_failing"] is None


def test_retry_hands_the_file_to_the_poll_shard_function_at_once_not_at_the_next_tick(make_context, service, clock):
    from shared.pipeline.poll import poll_shard

    ctx = make_context(TARGET_LANGUAGES="fr,xx-yy")
    result = submit_dropped_blob(upload(ctx, "now.txt", b"Hello"), ctx)
    settle(ctx, clock)
    fixed = PipelineContext(
        replace(ctx.settings, target_languages=("fr",)), translator=service, now=clock, sleep=clock.sleep
    )

    actions.retry(fixed, "now.txt")

    [message] = fixed.storage.poll_shards_queue.receive_messages(max_messages=32)
    poll_shard(fixed, message.content)  # what the poll_shard function does with it, no tick needed
    assert fixed.records.get_open(result.key).state is State.GROUPED


def test_a_cancelled_job_is_looked_at_soon_after_not_at_the_next_tick(ctx, service, clock, run):
    from shared.pipeline.poll import poll_shard

    result = submit_dropped_blob(upload(ctx, "stop.txt", b"Hello"), ctx)
    code, output = run("cancel", "stop.txt")
    assert code == 0 and "asked the service to cancel" in output, output

    clock.advance(1)
    deadline = 50
    while deadline and not (messages := list(ctx.storage.poll_shards_queue.receive_messages(max_messages=32))):
        import time

        time.sleep(0.1)  # the promise is visible a second after it was made
        deadline -= 1
    [message] = messages
    poll_shard(ctx, message.content)
    record = ctx.records.get_open(result.key)
    assert record.state is State.FINISHING and record.job_status == "Cancelled"


def test_show_finds_the_report_where_its_final_record_says_it_was_written(ctx, service, clock, run):
    from azure.data.tables import UpdateMode

    from shared.storage.records import FINAL_CODEC

    result = submit_dropped_blob(upload(ctx, "moved.txt", b"Hello"), ctx)
    service.finish(result.job_id)
    settle(ctx, clock)
    [final] = ctx.records.final_versions(ctx.settings.source_container, "moved.txt")
    # Written when the reports container was another one (REPORTS_CONTAINER changed since).
    container, _, name = final.report_blob.partition("/")
    old = ctx.storage.blob_service.create_container("reports-before")
    old.upload_blob(name, ctx.storage.container(container).download_blob(name).readall())
    ctx.storage.container(container).delete_blob(name)
    entity = {"PartitionKey": "final", "RowKey": final.key, FINAL_CODEC.column("report_blob"): f"reports-before/{name}"}
    ctx.storage.records_table.update_entity(entity, mode=UpdateMode.MERGE)

    code, output = run("show", "moved.txt", "--json")

    assert code == 0 and json.loads(output)["report"]["outcome"] == "Succeeded"


def test_status_shows_spend_against_the_character_budget_and_as_money(make_context, service, clock, monkeypatch):
    from typer.testing import CliRunner

    from translation_ops import cli

    ctx = make_context(CHARACTER_BUDGET_PER_DAY="1000", TARGET_LANGUAGES="fr,de", PRICE_PER_MILLION_CHARACTERS="10")
    submit_dropped_blob(upload(ctx, "a.txt", b"x" * 450), ctx)  # 900 characters: 90% of the day's budget
    monkeypatch.setattr(cli, "_context", lambda: ctx)
    result = CliRunner().invoke(cli.app, ["status", "--json"])
    assert result.exit_code == 0
    [day] = json.loads(result.output)["budget"]
    assert day["window"].startswith("day-") and day["spent"] == 900 and day["left"] == 100
    assert day["spent_money"] == 0.01 and day["budget_money"] == 0.01
    result = CliRunner().invoke(cli.app, ["status"])
    assert result.exit_code == 0 and "Character budget" in result.output and "90%" in result.output


def test_status_shows_no_budget_when_none_is_set(ctx, run):
    code, output = run("status", "--json")
    assert code == 0 and json.loads(output)["budget"] == [] and json.loads(output)["charged_money"] is None
