"""The Event Grid subscription's filter, as the local stand-in for Event Grid applies it
(infra/eventgrid-subscription.bicep holds the same values; a test keeps the two equal).

Only BlobCreated events of writes that commit a whole blob reach the blob trigger: on an account
with a hierarchical namespace, a file's `CreateFile` raises BlobCreated before its data is flushed,
and translating it then would translate an empty or partial file.
"""

from __future__ import annotations

from typing import Any

BLOB_CREATED = "Microsoft.Storage.BlobCreated"
# Storage's guidance for BlobCreated: the REST calls after which a block blob is complete.
BLOB_COMMITTING_APIS = ("PutBlob", "PutBlockList", "CopyBlob", "FlushWithClose")


def passes_subscription_filter(event: dict[str, Any]) -> bool:
    data = event.get("data")
    api = data.get("api") if isinstance(data, dict) else None
    return event.get("eventType") == BLOB_CREATED and api in BLOB_COMMITTING_APIS
