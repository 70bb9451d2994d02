"""The app object declares exactly the three triggers, with the bindings the Functions host expects."""

import inspect
import json

import azurefunctions.extensions.bindings.blob as blob_extension

import function_app
from devstack.app_index import declared_functions


def declared():
    return {fn.get_function_name(): fn for fn in declared_functions(function_app.app)}


def bindings(fn):
    return json.loads(fn.get_function_json())["bindings"]


def test_exactly_three_functions():
    assert set(declared()) == {"submit_on_drop", "poll_outstanding_jobs", "record_outcome"}
    for fn in declared().values():
        assert len(bindings(fn)) == 1, "each function has only its trigger binding"


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


def test_record_outcome_reads_the_results_queue():
    [binding] = bindings(declared()["record_outcome"])
    assert binding["type"] == "queueTrigger"
    assert binding["queueName"] == "%RESULTS_QUEUE%"
    assert binding["connection"] == "TRANSLATION_STORAGE"


def test_importing_the_app_reads_no_settings_and_creates_no_clients():
    from shared.pipeline import context

    assert context._context is None


def test_every_setting_is_in_the_sample_settings():
    from pathlib import Path

    from shared.settings import SETTINGS_SPEC, STORAGE_CONNECTION

    sample = json.loads((Path(__file__).parents[2] / "local.settings.sample.json").read_text())["Values"]
    expected = {spec.name for spec in SETTINGS_SPEC} | {STORAGE_CONNECTION}
    assert expected <= set(sample)
    # Core Tools needs these two locally; the app reads nothing else.
    assert set(sample) - expected == {"AzureWebJobsStorage", "FUNCTIONS_WORKER_RUNTIME"}
