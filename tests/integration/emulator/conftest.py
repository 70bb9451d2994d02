"""Fixtures of the emulator's tests (the `emulator` and `azurite` fixtures come from tests/fixtures/)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient
from emulator_testkit import Api, Containers

from devstack.azurite import Azurite
from devstack.emulator import EmulatorOptions, EmulatorServer


@pytest.fixture(scope="session")
def blob_service(azurite: Azurite) -> BlobServiceClient:
    return BlobServiceClient.from_connection_string(azurite.connection_string)


@pytest.fixture
def containers(azurite: Azurite, blob_service: BlobServiceClient) -> Containers:
    suffix = uuid.uuid4().hex[:10]
    source = blob_service.create_container(f"source-{suffix}")
    target = blob_service.create_container(f"target-{suffix}")
    return Containers(blob_service, azurite.endpoints.blob_url, source, target)


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., EmulatorServer]]:
    """Starts extra emulators with particular options; stops them after the test."""
    started: list[EmulatorServer] = []

    def start(**options: Any) -> EmulatorServer:
        server = EmulatorServer.start(EmulatorOptions(**options))
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture
def api(emulator_endpoint: str, emulator: EmulatorServer) -> Iterator[Api]:
    client = Api(emulator_endpoint, emulator.key)
    yield client
    client.close()
