"""function_app.py as the worker Azure runs sees it: indexed, checked against infra/, and invoked by
azure-functions-runtime (the maintainers' worker library), with the app settings the Bicep gives.

The local host (devstack/host) reads bindings from the app object itself; here the runtime does its
own indexing, binding validation, deferred (SDK-type) bindings, invocation and telemetry set-up, in
a worker process of its own (worker_process.py says which two parts of the platform it stands in
for: the gRPC channel, replaced by pipes carrying the same serialized messages, and the proxy
worker's dispatcher). Messages are the real ones, compiled from proto/ (rpc.py).

What the app settings cannot be here, and what they are instead (everything else is the Bicep's):
- TRANSLATION_STORAGE: identity-based (__blobServiceUri, __credential=managedidentity...) in Azure;
  Azurite has no Entra, so a connection string to Azurite under the same connection name.
- TRANSLATOR_ENDPOINT / TRANSLATOR_KEY / AZURE_CLIENT_ID: the Translator's endpoint and the app's
  identity in Azure; the emulator and its key here.
- APPLICATIONINSIGHTS_CONNECTION_STRING: a dummy whose ingestion endpoint is a closed local port;
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING is left out (it makes the exporter ask the managed
  identity endpoint for tokens, which no machine but Azure's answers).
- AzureWebJobsStorage__*: the host's own storage; the worker never reads it.
"""

from __future__ import annotations

import json
import os
import struct
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from croniter import croniter

from devstack.azurite import Azurite
from shared.pipeline.context import PipelineContext
from shared.settings import SETTINGS_SPEC, STORAGE_CONNECTION, Settings
from shared.storage.records import Outcome, State
from tests.fixtures.emulator import EMULATOR_KEY
from tests.infra.bicep_tree import ParamRef, function_call, module_params, parse, resolve, single
from tests.infra.declared_functions import declared_functions
from tests.integration.host.hostkit import eventually
from tests.integration.worker.rpc import compile_protos, load_protos

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]
DUMMY_CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9"
# Settings this machine cannot give as Azure does (the module docstring says why and what instead).
REPLACED = {
    f"{STORAGE_CONNECTION}__blobServiceUri",
    f"{STORAGE_CONNECTION}__queueServiceUri",
    f"{STORAGE_CONNECTION}__tableServiceUri",
    f"{STORAGE_CONNECTION}__credential",
    f"{STORAGE_CONNECTION}__clientId",
    "AzureWebJobsStorage__blobServiceUri",
    "AzureWebJobsStorage__queueServiceUri",
    "AzureWebJobsStorage__tableServiceUri",
    "AzureWebJobsStorage__credential",
    "AzureWebJobsStorage__clientId",
    "TRANSLATOR_ENDPOINT",
    "TRANSLATOR_KEY",
    "TRANSLATOR_REGION",  # the deployment's location; the emulator has no region
    "AZURE_CLIENT_ID",
    "OUTCOME_TOPIC_ENDPOINT",  # the topic's endpoint with outcomeEvents=eventgrid; empty with the default queue
    "APPLICATIONINSIGHTS_CONNECTION_STRING",
    "APPLICATIONINSIGHTS_AUTHENTICATION_STRING",
}


# --- what the Bicep deploys ------------------------------------------------------------------------


def bicep_app_settings() -> dict[str, Any]:
    """Every app setting of the function app: main.bicep's settings merged with the module's own."""
    main = parse("main.bicep")
    code = main["variables"][module_params(main, "functionApp")["appSettings"]]["value"]
    module = parse("modules/functionapp.bicep")
    config = single(module, "Microsoft.Web/sites/config").body
    merged = function_call(config["properties"], "union")
    assert merged is not None
    settings = {name: _literal(main, value) for name, value in code.items()}
    settings.update({name: _literal(module, value) for name, value in merged["arg_2"].items()})
    return settings


def _literal(tree: dict[str, Any], expression: Any) -> Any:
    """The value a deployment with default parameters gives, where the template fixes it; else the expression."""
    converted = function_call(expression, "string")
    if converted is not None:
        expression = converted["value_to_convert"]
    value = resolve(tree, expression)
    if isinstance(value, ParamRef):
        default = tree["parameters"][value.name].get("default")
        return str(default) if isinstance(default, str | int) and not isinstance(default, bool) else value
    return value


def worker_environment(storage_connection_string: str, translator_endpoint: str) -> dict[str, str]:
    environment = {name: value for name, value in os.environ.items() if not _is_app_setting(name)}
    for name, value in bicep_app_settings().items():
        if name in REPLACED:
            continue
        assert isinstance(value, str), f"app setting {name} is {value!r} in the Bicep: give it a value here"
        environment[name] = value
    environment.update(
        {
            STORAGE_CONNECTION: storage_connection_string,
            "TRANSLATOR_ENDPOINT": translator_endpoint,
            "TRANSLATOR_KEY": EMULATOR_KEY,
            "OUTCOME_TOPIC_ENDPOINT": "",
            "APPLICATIONINSIGHTS_CONNECTION_STRING": DUMMY_CONNECTION_STRING,
        }
    )
    return environment


def _is_app_setting(name: str) -> bool:
    app_settings = {spec.name for spec in SETTINGS_SPEC} | REPLACED | {STORAGE_CONNECTION}
    return name in app_settings or name.startswith(("PYTHON_", "APPLICATIONINSIGHTS_", "OTEL_"))


def bicep_storage_names() -> dict[str, set[str]]:
    main = parse("main.bicep")
    documents = module_params(main, "documentsStorage")
    return {kind: set(resolve(main, documents[kind])) for kind in ("containerNames", "queueNames", "tableNames")}


def event_subscription_defaults() -> dict[str, Any]:
    parameters = parse("eventgrid-subscription.bicep")["parameters"]
    return {name: parameter.get("default") for name, parameter in parameters.items()}


# --- the worker --------------------------------------------------------------------------------------


class Worker:
    """One worker process; `send` hands it a StreamingMessage and returns its answer."""

    def __init__(self, protos: Any, protos_dir: Path, environment: dict[str, str], spy_log: Path):
        self.protos = protos
        self.spy_log = spy_log
        to_worker_read, self._to_worker = os.pipe()
        self._from_worker, from_worker_write = os.pipe()
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "tests.integration.worker.worker_process",
                str(protos_dir),
                str(to_worker_read),
                str(from_worker_write),
                str(spy_log),
            ],
            cwd=REPO_ROOT,
            env=environment,
            pass_fds=(to_worker_read, from_worker_write),
        )
        os.close(to_worker_read)
        os.close(from_worker_write)
        self._writer = os.fdopen(self._to_worker, "wb")
        self._reader = os.fdopen(self._from_worker, "rb")

    def send(self, **content: Any) -> Any:
        request_id = uuid.uuid4().hex
        payload = self.protos.StreamingMessage(request_id=request_id, **content).SerializeToString()
        self._writer.write(struct.pack(">I", len(payload)) + payload)
        self._writer.flush()
        header = self._reader.read(4)
        assert len(header) == 4, f"the worker process ended (exit code {self.process.poll()})"
        answer = self.protos.StreamingMessage.FromString(self._reader.read(struct.unpack(">I", header)[0]))
        assert answer.request_id == request_id
        return answer

    def stop(self) -> None:
        self._writer.close()
        try:
            self.process.wait(timeout=30)
        finally:
            if self.process.poll() is None:
                self.process.kill()
            self._reader.close()

    def configure_azure_monitor_callers(self) -> list[str]:
        return self.spy_log.read_text().split() if self.spy_log.exists() else []


@pytest.fixture(scope="module")
def own_azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Azurite]:
    """An Azurite of this module's own: the app runs on the Bicep's container, table and queue names."""
    instance = Azurite.start_on_free_ports(tmp_path_factory.mktemp("worker-azurite"))
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture(scope="module")
def protos_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_protos(tmp_path_factory.mktemp("protos"))


@pytest.fixture(scope="module")
def environment(own_azurite: Azurite, emulator) -> dict[str, str]:
    return worker_environment(own_azurite.connection_string, emulator.endpoint)


@pytest.fixture(scope="module")
def app_context(environment: dict[str, str]) -> PipelineContext:
    """The app's storage as the test reads it, with the worker's settings; resources created, as infra/ does."""
    ctx = PipelineContext(Settings.from_env(environment))
    ctx.storage.ensure_resources()
    return ctx


@pytest.fixture(scope="module")
def worker(protos_dir, environment, app_context, tmp_path_factory) -> Iterator[Worker]:
    protos = load_protos(protos_dir)
    running = Worker(protos, protos_dir, environment, tmp_path_factory.mktemp("spy") / "configure_azure_monitor")
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def started(worker: Worker) -> dict[str, Any]:
    """The host's start-up conversation: init (the worker indexes), metadata, then one load per function."""
    protos = worker.protos
    init = worker.send(
        worker_init_request=protos.WorkerInitRequest(
            host_version="4.1040.0",
            function_app_directory=str(REPO_ROOT),
            capabilities={"FunctionDataCache": "false"},
        )
    ).worker_init_response
    assert init.result.status == protos.StatusResult.Success, init.result.exception.message
    metadata_request = protos.FunctionsMetadataRequest(function_app_directory=str(REPO_ROOT))
    response = worker.send(functions_metadata_request=metadata_request).function_metadata_response
    assert response.result.status == protos.StatusResult.Success, response.result.exception.message
    functions = {}
    for function in response.function_metadata_results:
        loaded = worker.send(
            function_load_request=protos.FunctionLoadRequest(function_id=function.function_id, metadata=function)
        ).function_load_response
        assert loaded.result.status == protos.StatusResult.Success, loaded.result.exception.message
        functions[function.name] = function
    return {"init": init, "functions": functions}


def raw_bindings(function: Any) -> list[dict[str, Any]]:
    return [json.loads(binding) for binding in function.raw_bindings]


def invoke(worker: Worker, function: Any, parameter: str, data: Any, **metadata: Any) -> Any:
    protos = worker.protos
    response = worker.send(
        invocation_request=protos.InvocationRequest(
            invocation_id=str(uuid.uuid4()),
            function_id=function.function_id,
            input_data=[protos.ParameterBinding(name=parameter, data=data)],
            trigger_metadata=metadata,
        )
    ).invocation_response
    assert response.result.status == protos.StatusResult.Success, (
        f"{function.name}: {response.result.exception.message}\n{response.result.exception.stack_trace}"
    )
    return response


def timer_data(protos: Any) -> Any:
    return protos.TypedData(json=json.dumps({"Schedule": {"AdjustForDST": True}, "IsPastDue": False}))


def queue_metadata(protos: Any, message_id: str) -> dict[str, Any]:
    return {
        "Id": protos.TypedData(string=message_id),
        "DequeueCount": protos.TypedData(json="1"),
        "PopReceipt": protos.TypedData(string="receipt"),
    }


# --- indexing against the infra ----------------------------------------------------------------------


def test_the_runtime_indexes_every_function_the_app_declares(started):
    assert set(started["functions"]) == set(declared_functions())


def test_every_setting_a_binding_reads_is_one_the_bicep_sets(started):
    settings = bicep_app_settings()
    for name, function in started["functions"].items():
        for binding in raw_bindings(function):
            for key, value in binding.items():
                if isinstance(value, str) and value.count("%") >= 2:
                    setting = value.split("%")[1]
                    assert setting in settings, f"{name}.{key} reads %{setting}%, which the Bicep does not set"
            if "connection" in binding:
                service = "blob" if binding["type"].startswith("blob") else "queue"
                assert f"{binding['connection']}__{service}ServiceUri" in settings
                assert settings[f"{binding['connection']}__credential"] == "managedidentity"


def _resolved(value: str, settings: dict[str, Any]) -> str:
    parts = value.split("%")
    return "".join(part if index % 2 == 0 else settings[part] for index, part in enumerate(parts))


def test_queue_and_container_names_are_the_ones_the_bicep_creates(started):
    settings, names = bicep_app_settings(), bicep_storage_names()
    queue_triggers = blob_triggers = 0
    for function in started["functions"].values():
        for binding in raw_bindings(function):
            if binding["type"] == "queueTrigger":
                queue_triggers += 1
                assert _resolved(binding["queueName"], settings) in names["queueNames"], binding
            if binding["type"] == "blobTrigger":
                blob_triggers += 1
                assert _resolved(binding["path"], settings).split("/")[0] in names["containerNames"], binding
    assert (queue_triggers, blob_triggers) == (4, 2)
    assert settings["RECORDS_TABLE"] in names["tableNames"]


def test_timer_schedules_are_valid_ncrontab_once_resolved(started):
    settings = bicep_app_settings()
    timers = [b for f in started["functions"].values() for b in raw_bindings(f) if b["type"] == "timerTrigger"]
    assert len(timers) == 2
    for binding in timers:
        assert croniter.is_valid(_resolved(binding["schedule"], settings), second_at_beginning=True), binding


def test_the_event_grid_webhooks_name_the_indexed_blob_triggers_and_their_containers(started):
    settings, subscription = bicep_app_settings(), event_subscription_defaults()
    blob_triggers = {
        name: binding
        for name, function in started["functions"].items()
        for binding in raw_bindings(function)
        if binding["type"] == "blobTrigger"
    }
    containers = {
        subscription["dropFunctionName"]: subscription["sourceContainerName"],
        subscription["writtenFunctionName"]: subscription["targetContainerName"],
    }
    assert set(blob_triggers) == set(containers)
    for name, binding in blob_triggers.items():
        assert binding["source"] == "EventGrid"
        assert _resolved(binding["path"], settings).split("/")[0] == containers[name]
        # The runtime sees the BlobClient parameter as an SDK type: the host sends a reference, never bytes.
        assert binding["properties"] == {"SupportsDeferredBinding": True}


def test_only_the_blob_triggers_are_deferred_bindings(started):
    deferred = {
        name
        for name, function in started["functions"].items()
        for binding in raw_bindings(function)
        if binding.get("properties", {}).get("SupportsDeferredBinding")
    }
    subscription = event_subscription_defaults()
    assert deferred == {subscription["dropFunctionName"], subscription["writtenFunctionName"]}


# --- telemetry ---------------------------------------------------------------------------------------


def test_telemetry_is_configured_exactly_once_with_the_bicep_flags(started, worker, environment):
    flags = {name: value for name, value in environment.items() if name.startswith("PYTHON_")}
    assert flags, "the Bicep sets no PYTHON_* telemetry flag"
    # Importing the app (the runtime's indexing) and the worker's own set-up, together: once.
    callers = worker.configure_azure_monitor_callers()
    assert len(callers) == 1, f"configure_azure_monitor called by {callers} with {flags}"
    assert started["init"].capabilities.get("WorkerOpenTelemetryEnabled") == "true"


# --- invocation --------------------------------------------------------------------------------------


def test_a_dropped_file_goes_from_blob_trigger_to_record_through_the_runtime(started, worker, app_context):
    protos, functions = worker.protos, started["functions"]
    settings = app_context.settings
    name = f"worker-{uuid.uuid4().hex[:8]}.txt"
    blob_service = BlobServiceClient.from_connection_string(settings.storage.connection_string)
    blob_service.get_blob_client(settings.source_container, name).upload_blob(b"Hello from the worker")

    # The blob trigger: the host sends a reference to the blob (model binding data), as Azure does.
    reference = {"Connection": STORAGE_CONNECTION, "ContainerName": settings.source_container, "BlobName": name}
    invoke(
        worker,
        functions["submit_on_drop"],
        "source",
        protos.TypedData(
            model_binding_data=protos.ModelBindingData(
                version="1.0",
                source="AzureStorageBlobs",
                content_type="application/json",
                content=json.dumps(reference).encode(),
            )
        ),
        name=protos.TypedData(string=name),
    )
    [claimed] = app_context.records.open_versions(settings.source_container, name)
    # Dropped alone, it is submitted at once: grouped into a submission that has a job.
    assert claimed.state is State.GROUPED and claimed.submission is not None

    # The poll timer follows the job until its outcome is handed to the results queue.
    def results_message() -> Any:
        invoke(worker, functions["poll_outstanding_jobs"], "timer", timer_data(protos))
        return next(iter(app_context.storage.results_queue.receive_messages(max_messages=1)), None)

    message = eventually(results_message, timeout=60, interval=0.5, what="a results message from the poll")
    app_context.storage.results_queue.delete_message(message)

    # The queue trigger records the outcome.
    invoke(
        worker,
        functions["record_outcome"],
        "message",
        protos.TypedData(string=message.content),
        **queue_metadata(protos, message.id),
    )
    [final] = app_context.records.final_versions(settings.source_container, name)
    assert final.outcome is Outcome.SUCCEEDED and final.succeeded == len(final.languages) == 2
    assert app_context.records.open_versions(settings.source_container, name) == []


def test_the_poison_shard_and_catch_up_functions_run_through_the_runtime(started, worker, app_context):
    protos, functions = worker.protos, started["functions"]
    settings = app_context.settings
    name = f"poisoned-{uuid.uuid4().hex[:8]}.txt"
    blob = BlobServiceClient.from_connection_string(settings.storage.connection_string).get_blob_client(
        settings.source_container, name
    )
    etag = blob.upload_blob(b"Never triggered")["etag"]

    # The catch-up leaves a blob younger than CATCH_UP_AFTER_SECONDS alone (its event may be on its way).
    invoke(worker, functions["catch_up_missed_drops"], "timer", timer_data(protos))
    assert app_context.records.open_versions(settings.source_container, name) == []

    # The blobs extension's poison message for that blob: a record is claimed, flagged for attention.
    poison = {
        "Type": "BlobTrigger",
        "FunctionId": "Host.Functions.submit_on_drop",
        "BlobType": "BlockBlob",
        "ContainerName": settings.source_container,
        "BlobName": name,
        "ETag": etag,
    }
    invoke(
        worker,
        functions["record_poisoned_drop"],
        "message",
        protos.TypedData(string=json.dumps(poison)),
        **queue_metadata(protos, "poison-1"),
    )
    [flagged] = app_context.records.open_versions(settings.source_container, name)
    assert flagged.needs_attention

    # A shard with nothing in it, and a results poison message that is not ours: both end quietly.
    invoke(
        worker,
        functions["poll_shard"],
        "message",
        protos.TypedData(string=json.dumps({"entries": []})),
        **queue_metadata(protos, "shard-1"),
    )
    invoke(
        worker,
        functions["record_poisoned_result"],
        "message",
        protos.TypedData(string="not a results message"),
        **queue_metadata(protos, "poison-2"),
    )
