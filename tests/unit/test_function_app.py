"""The app object declares its triggers with the bindings the Functions host expects."""

import inspect
import json
from pathlib import Path

import azurefunctions.extensions.bindings.blob as blob_extension

import function_app
from devstack.app_index import declared_functions


def declared():
    return {fn.get_function_name(): fn for fn in declared_functions(function_app.app)}


def bindings(fn):
    return json.loads(fn.get_function_json())["bindings"]


def test_the_app_declares_its_eight_functions():
    assert set(declared()) == {
        "submit_on_drop",
        "notice_translation_written",
        "poll_outstanding_jobs",
        "poll_shard",
        "record_outcome",
        "record_poisoned_result",
        "record_poisoned_drop",
        "catch_up_missed_drops",
    }
    for fn in declared().values():
        assert len(bindings(fn)) == 1, "each function has only its trigger binding"


def test_notice_translation_written_is_an_event_grid_blob_trigger_on_the_staging_folder():
    fn = declared()["notice_translation_written"]
    [binding] = bindings(fn)
    assert binding == {
        "direction": "IN",
        "type": "blobTrigger",
        "name": "translation",
        "path": "%TARGET_CONTAINER%/.inflight/{name}",
        "connection": "TRANSLATION_STORAGE",
        "source": "EventGrid",
    }


def test_submit_on_drop_is_an_event_grid_blob_trigger_on_the_source_container():
    fn = declared()["submit_on_drop"]
    [binding] = bindings(fn)
    assert binding == {
        "direction": "IN",
        "type": "blobTrigger",
        "name": "source",
        "path": "%SOURCE_CONTAINER%/{name}",
        "connection": "TRANSLATION_STORAGE",
        "source": "EventGrid",
    }
    # SDK-type binding: the worker hands over a BlobClient, never the document's bytes.
    annotation = inspect.signature(fn.get_user_function()).parameters["source"].annotation
    assert annotation is blob_extension.BlobClient


def test_poll_outstanding_jobs_runs_on_the_schedule_setting():
    [binding] = bindings(declared()["poll_outstanding_jobs"])
    assert binding["type"] == "timerTrigger"
    assert binding["schedule"] == "%POLL_SCHEDULE%"
    assert binding["runOnStartup"] is False
    # The host's default, as the timer docs advise: schedules more often than once a minute are not
    # monitored (monitoring writes a blob per occurrence); once a minute or less often, they are.
    assert "useMonitor" not in binding


def test_record_outcome_reads_the_results_queue():
    [binding] = bindings(declared()["record_outcome"])
    assert binding["type"] == "queueTrigger"
    assert binding["queueName"] == "%RESULTS_QUEUE%"
    assert binding["connection"] == "TRANSLATION_STORAGE"


def test_a_busy_poll_hands_its_shards_to_a_queue_function():
    [binding] = bindings(declared()["poll_shard"])
    assert (binding["type"], binding["queueName"], binding["connection"]) == (
        "queueTrigger",
        "%POLL_SHARDS_QUEUE%",
        "TRANSLATION_STORAGE",
    )


def test_every_poison_queue_has_a_function_that_records_what_reached_it():
    poisoned_result = bindings(declared()["record_poisoned_result"])[0]
    poisoned_drop = bindings(declared()["record_poisoned_drop"])[0]
    assert poisoned_result["queueName"] == "%RESULTS_QUEUE%-poison"
    # The blobs extension writes its poison queue in the triggering blob's storage account.
    assert (poisoned_drop["queueName"], poisoned_drop["connection"]) == (
        "webjobs-blobtrigger-poison",
        "TRANSLATION_STORAGE",
    )


def test_the_catch_up_runs_on_its_schedule_setting():
    [binding] = bindings(declared()["catch_up_missed_drops"])
    assert (binding["type"], binding["schedule"]) == ("timerTrigger", "%CATCH_UP_SCHEDULE%")
    assert "useMonitor" not in binding  # monitored by the host's default: it runs every 10 minutes


def test_importing_the_app_with_no_settings_reads_none_and_creates_no_clients():
    # In a fresh interpreter with an empty environment, as the Functions host imports it: an import
    # that read settings or built clients would fail here ("No job functions found" in Azure).
    import subprocess
    import sys

    probe = (
        "import function_app\n"
        "from shared.pipeline import context\n"
        "assert context._context is None\n"
        "print(len(function_app.app.get_functions()))"
    )
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", probe], cwd=root, env={"PATH": "/usr/bin:/bin"}, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "8"


def test_every_setting_is_in_the_sample_settings():
    from shared.settings import SETTINGS_SPEC, STORAGE_CONNECTION

    sample = json.loads((Path(__file__).parents[2] / "local.settings.sample.json").read_text())["Values"]
    expected = {spec.name for spec in SETTINGS_SPEC} | {STORAGE_CONNECTION}
    assert expected <= set(sample)
    # Core Tools needs these two locally; the app reads nothing else.
    assert set(sample) - expected == {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"}
