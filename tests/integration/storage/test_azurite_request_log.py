"""`make bench` counts storage requests per file from Azurite's debug log: each part's requests are
told apart by the user agent it sends, read from the log of the Azurite version we pin."""

from __future__ import annotations

import uuid
from pathlib import Path

import pytest
from azure.data.tables import TableServiceClient
from azure.storage.blob import BlobServiceClient

from bench.counting import CALLERS, OTHER_CALLER, azurite_requests
from devstack.azurite import Azurite
from devstack.emulator.storage import USER_AGENT as EMULATOR_USER_AGENT
from shared.settings import Settings
from shared.storage.clients import StorageClients

pytestmark = pytest.mark.integration


def test_requests_are_counted_by_caller_and_operation(tmp_path: Path) -> None:
    debug_log = tmp_path / "azurite-debug.log"
    azurite = Azurite.start_on_free_ports(tmp_path / "azurite", debug_log=debug_log)
    try:
        suffix = uuid.uuid4().hex[:8]
        settings = Settings.from_env(
            {
                "TRANSLATION_STORAGE": azurite.connection_string,
                "TRANSLATOR_ENDPOINT": "http://127.0.0.1:9",
                "TRANSLATOR_KEY": "test-key",
                "RECORDS_TABLE": f"records{suffix}",
            }
        )
        app = StorageClients(settings)
        app.records_table.create_table()
        app.records_table.create_entity({"PartitionKey": "p", "RowKey": "r"})
        app.records_table.get_entity("p", "r")
        user = BlobServiceClient.from_connection_string(azurite.connection_string)
        user.create_container(f"c{suffix}").upload_blob("a.txt", b"hello")
        service = BlobServiceClient.from_connection_string(azurite.connection_string, user_agent=EMULATOR_USER_AGENT)
        service.get_blob_client(f"c{suffix}", "a.txt").download_blob().readall()
        TableServiceClient.from_connection_string(azurite.connection_string).list_tables().next()
    finally:
        azurite.stop()

    counts = azurite_requests(debug_log)

    the_app, the_service = CALLERS["drop-folder-translation"], CALLERS[EMULATOR_USER_AGENT]
    assert counts == {
        (the_app, "Table_Create"): 1,
        (the_app, "Table_InsertEntity"): 1,
        (the_app, "Table_QueryEntitiesWithPartitionAndRowKey"): 1,
        (OTHER_CALLER, "Container_Create"): 1,
        (OTHER_CALLER, "BlockBlob_Upload"): 1,
        (the_service, "Blob_Download"): 1,
        (OTHER_CALLER, "Table_Query"): 1,
    }
