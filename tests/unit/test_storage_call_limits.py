"""The operator tool's storage clients give up quickly; the Functions app's keep the SDK retries."""

from __future__ import annotations

from shared.storage.clients import (
    CONNECTION_TIMEOUT_SECONDS,
    READ_TIMEOUT_SECONDS,
    STORAGE_RETRIES,
    StorageClients,
)
from translation_ops.connection import OPERATOR_CALL_LIMITS, Target


def retries_of(pipeline) -> int:
    [retries] = [policy.total_retries for policy in pipeline._impl_policies if hasattr(policy, "total_retries")]
    return int(retries)


def retries_of_each(storage: StorageClients) -> list[int]:
    return [
        retries_of(storage.blob_service._pipeline),
        retries_of(storage.records_table._client._client._pipeline),
        retries_of(storage.results_queue._pipeline),
    ]


def test_the_tools_storage_calls_are_tried_twice_with_short_timeouts_the_apps_keep_theirs():
    ctx = Target().context()
    assert ctx.storage.limits == OPERATOR_CALL_LIMITS
    assert retries_of_each(ctx.storage) == [1, 1, 1]
    connection = ctx.storage.transport.connection_config
    assert (connection.timeout, connection.read_timeout) == (2, 10)
    # The Functions app's clients are as they were.
    app = StorageClients(ctx.settings)
    assert retries_of_each(app) == [STORAGE_RETRIES] * 3
    assert app.transport is StorageClients(ctx.settings).transport


def test_the_apps_storage_calls_time_out_as_configured_on_the_pooled_transport():
    # A client given a transport ignores its own timeout options: the transport carries them.
    app = StorageClients(Target().context().settings)
    connection = app.transport.connection_config
    assert (connection.timeout, connection.read_timeout) == (CONNECTION_TIMEOUT_SECONDS, READ_TIMEOUT_SECONDS)
    assert app.blob_service._pipeline._transport is app.transport
