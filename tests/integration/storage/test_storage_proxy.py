"""The storage proxy in front of Azurite: it answers the app's requests ServerBusy, cuts off the
answers of the app's writes after they were applied, leaves every other client alone, and counts
the bytes it answers by user agent; and the app's verified writes see through a lost answer."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import httpx
import pytest
from azure.core.exceptions import HttpResponseError, ServiceRequestError, ServiceResponseError
from azure.data.tables import TableClient, TableServiceClient

from devstack.azurite import ACCOUNT_KEY, ACCOUNT_NAME, Azurite
from devstack.http_server import UvicornServer, listening_socket
from devstack.storage_proxy import Faults, ProxyCounters, StorageProxy
from shared.storage.clients import USER_AGENT
from shared.storage.table_writes import TableWriter

pytestmark = pytest.mark.integration


@pytest.fixture
def table_name(azurite: Azurite) -> Iterator[str]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    name = f"proxy{uuid.uuid4().hex[:12]}"
    service.create_table(name)
    yield name
    service.delete_table(name)


@pytest.fixture
def proxy(azurite: Azurite) -> Iterator[Callable[[Faults], str]]:
    """Starts a table proxy with the given faults; its account URL."""
    servers: list[UvicornServer] = []

    def start(faults: Faults) -> str:
        target = f"http://127.0.0.1:{azurite.endpoints.table_port}"
        app = StorageProxy("table", target, faults, ProxyCounters()).app()
        server = UvicornServer(app, listening_socket("127.0.0.1", 0, purpose="table proxy"), name="table-proxy")
        server.start()
        servers.append(server)
        return f"http://127.0.0.1:{server.port}"

    yield start
    for server in servers:
        server.stop()


def client(base: str, table: str, *, agent: str, retries: int = 0) -> TableClient:
    connection = (
        f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={ACCOUNT_KEY};"
        f"TableEndpoint={base}/{ACCOUNT_NAME};"
    )
    return TableClient.from_connection_string(connection, table, user_agent=agent, retry_total=retries)


def entity(row: str) -> dict[str, str]:
    return {"PartitionKey": "p", "RowKey": row, "Value": "v"}


def test_a_write_whose_answer_is_cut_off_was_applied_all_the_same(proxy, azurite, table_name):
    base = proxy(Faults(lost_write_rate=1.0))
    # azure-data-tables 12.7 meets the cut-off body in its error decoding (AttributeError on a None
    # response); the app's writer finds the cause in the exception chain (table_writes._ambiguous).
    with pytest.raises((ServiceResponseError, ServiceRequestError, AttributeError)):
        client(base, table_name, agent=USER_AGENT).create_entity(entity("lost"))
    direct = TableClient.from_connection_string(azurite.connection_string, table_name)
    assert direct.get_entity("p", "lost")["Value"] == "v"


def test_a_verified_insert_whose_answer_is_lost_counts_as_done(proxy, azurite, table_name):
    base = proxy(Faults(lost_write_rate=1.0))
    writer = TableWriter(client(base, table_name, agent=USER_AGENT, retries=2))
    etag = writer.insert(entity("mine"))  # read back: the row holds our own change
    direct = TableClient.from_connection_string(azurite.connection_string, table_name)
    assert direct.get_entity("p", "mine").metadata["etag"] == etag


def test_busy_answers_touch_only_the_apps_requests(proxy, table_name):
    base = proxy(Faults(busy_rate=1.0))
    with pytest.raises(HttpResponseError) as caught:
        client(base, table_name, agent=USER_AGENT).create_entity(entity("busy"))
    assert caught.value.status_code == 503 and "ServerBusy" in str(caught.value)
    client(base, table_name, agent="document-translation-emulator").create_entity(entity("theirs"))


def test_answers_are_counted_by_user_agent_service_and_method(proxy, table_name):
    base = proxy(Faults())
    app = client(base, table_name, agent=USER_AGENT)
    app.create_entity(entity("a"))
    app.get_entity("p", "a")
    client(base, table_name, agent="someone-else").get_entity("p", "a")
    stats = httpx.get(f"{base}/_proxy/stats", timeout=10).json()
    requests = {(agent, service, method): count for agent, service, method, count in stats["requests"]}
    assert requests[(USER_AGENT, "table", "POST")] == 1
    assert requests[(USER_AGENT, "table", "GET")] == 1
    assert requests[("someone-else", "table", "GET")] == 1
    assert all(size > 0 for *_, size in stats["bytes"]) and stats["faults"] == {}
