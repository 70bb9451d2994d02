"""The local host resolves a binding's connection as the storage extensions do, and builds the
SDK-type argument with the extension's own converter from the model binding data, as the worker does."""

from __future__ import annotations

import json

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob
import pytest
from azure.identity import DefaultAzureCredential, ManagedIdentityCredential

from devstack.host.bindings import discover_functions
from devstack.host.config import HostConfigError
from devstack.host.connections import resolve_connection
from devstack.host.invoke import blob_argument, blob_model_binding_data, worker_bindings_cache
from shared.triggers.bound_blob import take_bound_blob

AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=a2V5;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;QueueEndpoint=http://127.0.0.1:10001/devstoreaccount1"
)


def resolve(env: dict[str, str], connection: str | None = "DOCS"):
    return resolve_connection(connection, env, function_name="f")


def test_a_connection_string_wins_over_identity_settings():
    storage = resolve({"DOCS": AZURITE, "DOCS__blobServiceUri": "https://other.blob.core.windows.net"})
    assert storage.connection_string == AZURITE and not storage.uses_identity


def test_a_name_is_also_looked_up_with_the_azurewebjobs_prefix():
    storage = resolve({"AzureWebJobsDOCS": AZURITE})
    assert storage.setting == "AzureWebJobsDOCS" and storage.connection_string == AZURITE


def test_service_uris_of_an_identity_based_connection_are_per_service():
    storage = resolve(
        {
            "DOCS__blobServiceUri": "https://docs.blob.core.windows.net",
            "DOCS__queueServiceUri": "https://docs.queue.core.windows.net",
        }
    )
    assert storage.uses_identity and storage.setting == "DOCS"
    assert storage.service_uri("blob") == "https://docs.blob.core.windows.net"
    assert storage.service_uri("queue") == "https://docs.queue.core.windows.net"


def test_account_name_comes_first_then_the_service_uri_then_serviceuri():
    by_account = resolve({"DOCS__accountName": "docs", "DOCS__blobServiceUri": "https://elsewhere"})
    assert by_account.service_uri("queue") == "https://docs.queue.core.windows.net"
    shared = resolve({"DOCS__serviceUri": "https://docs.blob.core.windows.net"})
    assert shared.service_uri("blob") == "https://docs.blob.core.windows.net"


def test_setting_names_are_case_insensitive_as_in_dotnet_configuration():
    storage = resolve({"docs__BLOBSERVICEURI": "https://docs.blob.core.windows.net"})
    assert storage.service_uri("blob") == "https://docs.blob.core.windows.net"


def test_a_missing_endpoint_for_a_service_is_named():
    storage = resolve({"DOCS__blobServiceUri": "https://docs.blob.core.windows.net"})
    with pytest.raises(HostConfigError, match=r"DOCS__queueServiceUri"):
        storage.service_uri("queue")


def test_managedidentity_with_a_client_id_is_that_user_assigned_identity():
    storage = resolve(
        {
            "DOCS__blobServiceUri": "https://docs.blob.core.windows.net",
            "DOCS__credential": "managedidentity",
            "DOCS__clientId": "00000000-0000-0000-0000-00000000c1d0",
        }
    )
    credential = storage.credential()
    assert isinstance(credential, ManagedIdentityCredential)
    assert isinstance(resolve({"DOCS__blobServiceUri": "https://x"}).credential(), DefaultAzureCredential)


def test_the_model_binding_data_names_the_setting_never_the_secret():
    datum = blob_model_binding_data(resolve({"DOCS": AZURITE}), "source", "a/b.pdf")
    assert datum.type == "model_binding_data"
    assert datum.value.source == "AzureStorageBlobs" and datum.value.content_type == "application/json"
    assert json.loads(datum.value.content) == {"Connection": "DOCS", "ContainerName": "source", "BlobName": "a/b.pdf"}


def _app(connection: str) -> func.FunctionApp:
    app = func.FunctionApp()

    @app.blob_trigger(arg_name="source", path="source/{name}", connection=connection, source=func.BlobSource.EVENT_GRID)
    def on_drop(source: blob.BlobClient) -> None:
        pass

    return app


def test_the_blob_client_is_built_by_the_extension_converter_with_an_identity_based_connection(monkeypatch):
    identity = {
        "IDSTORE__blobServiceUri": "https://docs.blob.core.windows.net",
        "IDSTORE__queueServiceUri": "https://docs.queue.core.windows.net",
        "IDSTORE__credential": "managedidentity",
        "IDSTORE__clientId": "00000000-0000-0000-0000-00000000c1d0",
    }
    for name, value in identity.items():
        monkeypatch.setenv(name, value)
    [function] = discover_functions(_app("IDSTORE"), identity)

    client = blob_argument(function, "source", "a/b.pdf")

    # The extension's converter made it: a user-assigned managed identity on the blob endpoint.
    assert client.url == "https://docs.blob.core.windows.net/source/a/b.pdf"
    assert isinstance(client.credential, ManagedIdentityCredential)
    assert blob_argument(function, "source", "a/b.pdf") is client  # the worker's cache, per blob


def test_a_trigger_that_takes_its_blob_leaves_nothing_in_the_worker_cache(monkeypatch):
    monkeypatch.setenv("KEPT", AZURITE)
    [function] = discover_functions(_app("KEPT"), {"KEPT": AZURITE})
    client = blob_argument(function, "source", "kept/a.pdf")
    cached = [key for key, value in worker_bindings_cache().items() if value is client]
    assert len(cached) == 1  # the worker 4.x keeps it, keyed by the blob's name, until let go

    assert take_bound_blob(client) == ("source", "kept/a.pdf")

    assert all(value is not client for value in worker_bindings_cache().values())
    assert blob_argument(function, "source", "kept/a.pdf") is not client  # a later event builds its own


def test_the_converter_reads_the_connection_from_the_worker_environment(monkeypatch):
    monkeypatch.delenv("ONLYHOST", raising=False)
    [function] = discover_functions(_app("ONLYHOST"), {"ONLYHOST": AZURITE})

    # The host knows the setting, the worker's environment does not: the converter itself refuses.
    with pytest.raises(ValueError, match="ONLYHOST does not exist"):
        blob_argument(function, "source", "c.pdf")
