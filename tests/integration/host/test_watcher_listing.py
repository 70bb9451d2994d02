"""The watcher goes on past a blob name Azurite cannot list (real Azurite)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from azure.storage.blob import BlobServiceClient, ContainerClient

from devstack.azurite import Azurite
from devstack.host.bindings import BLOB_TRIGGER, FunctionInfo
from devstack.host.connections import StorageConnection
from devstack.host.watcher import BlobWatcher
from tests.integration.host.hostkit import unique_name

pytestmark = pytest.mark.integration


@pytest.fixture
def container(azurite: Azurite) -> Iterator[ContainerClient]:
    client = BlobServiceClient.from_connection_string(azurite.connection_string).create_container(unique_name("drop"))
    yield client
    client.delete_container()


class Events(list[str]):
    """A `deliver` that keeps the blob name of each event."""

    def __call__(self, event: dict[str, Any]) -> None:
        self.append(event["subject"].split("/blobs/", 1)[1])


def _watcher(azurite: Azurite, container: ContainerClient, events: Events) -> BlobWatcher:
    function = FunctionInfo(
        name="on_blob",
        trigger_type=BLOB_TRIGGER,
        binding={"path": f"{container.container_name}/{{name}}", "source": "EventGrid"},
        parameter_name="blob",
        user_function=lambda blob: None,
        connection=StorageConnection("AzureWebJobsStorage", azurite.connection_string),
    )
    return BlobWatcher(function, events, interval=0.3, stop=threading.Event())


def _count_list_calls(watcher: BlobWatcher, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts the List Blobs requests the watcher's container client sends (one per page)."""
    calls = [0]
    operations = watcher._container._client.container
    original = operations.list_blob_flat_segment

    def counted(*args: Any, **kwargs: Any) -> Any:
        calls[0] += 1
        return original(*args, **kwargs)

    monkeypatch.setattr(operations, "list_blob_flat_segment", counted)
    return calls


def test_a_name_azurite_cannot_list_does_not_blind_the_watcher(azurite, container, monkeypatch, caplog):
    for name in ["a.txt", "bad\x01name.txt", "c.txt", "zz/d.txt"]:
        container.upload_blob(name, b"x")
    events = Events()
    watcher = _watcher(azurite, container, events)
    calls = _count_list_calls(watcher, monkeypatch)

    with caplog.at_level(logging.INFO):
        assert watcher.scan() == 3
        assert events == ["a.txt", "c.txt", "zz/d.txt"]
        warnings = [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]
        assert len(warnings) == 1 and "'bad'" in warnings[0] and "'\\x00'" in warnings[0], warnings

        container.upload_blob("e.txt", b"x")
        calls[0] = 0
        assert watcher.scan() == 1
        assert events[3:] == ["e.txt"]
        # Page up to the skip, check it still applies, look up its marker's own name, then the rest.
        assert calls[0] <= 4

        calls[0] = 0
        assert watcher.scan() == 0
        assert calls[0] <= 4
    assert len([r for r in caplog.records if r.levelno >= logging.WARNING]) == 1


def test_names_between_and_after_several_unreadable_ones_are_announced(azurite, container, monkeypatch):
    names = ["\x02first", "a.txt", "bad\x01name.txt", "bad\x1fother", "bad name", "bad\tok", "m\ufffe", "m/n", "zz"]
    for name in names:
        container.upload_blob(name, b"x")
    events = Events()
    watcher = _watcher(azurite, container, events)

    watcher.scan()

    assert sorted(events) == sorted(["a.txt", "bad name", "bad\tok", "m/n", "zz"])

    container.upload_blob("bad!", b"x")
    container.upload_blob("bb.txt", b"x")
    calls = _count_list_calls(watcher, monkeypatch)
    watcher.scan()
    assert sorted(events[5:]) == ["bad!", "bb.txt"]
    # Three calls per remembered skip, and a page for each run of readable names (one more: new names).
    assert calls[0] <= 3 * 4 + 5


def test_a_scan_without_unreadable_names_costs_one_call_per_page(azurite, container, monkeypatch):
    for name in ["a.txt", "b.txt"]:
        container.upload_blob(name, b"x")
    events = Events()
    watcher = _watcher(azurite, container, events)
    calls = _count_list_calls(watcher, monkeypatch)

    assert watcher.scan() == 2
    assert calls[0] == 1
