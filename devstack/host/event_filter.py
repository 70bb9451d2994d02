"""The Event Grid subscriptions' filters, as the local stand-in for Event Grid applies them
(infra/eventgrid-subscription.bicep holds the same values; tests/infra/test_event_grid.py keeps the two equal).

Only BlobCreated events of writes that commit a whole blob reach the blob trigger: on an account
with a hierarchical namespace, a file's `CreateFile` raises BlobCreated before its data is flushed,
and translating it then would translate an empty or partial file.

Each blob trigger has a subscription of its own, whose `subjectBeginsWith` is the trigger's container and
the part of its blob path before the first `{parameter}`: `source/{name}` gets
`/blobServices/default/containers/source/blobs/`, `target/.inflight/{name}` gets
`/blobServices/default/containers/target/blobs/.inflight/`. The subscriptions compare subjects
case-sensitively (`isSubjectCaseSensitive`), as blob names are.
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


def blob_subject(container: str, blob_name: str) -> str:
    """The subject of a blob's events, as Storage publishes them."""
    return f"/blobServices/default/containers/{container}/blobs/{blob_name}"


def subject_begins_with(blob_path: str) -> str:
    """The `subjectBeginsWith` of the subscription feeding a blob trigger on `blob_path` (settings resolved)."""
    container, _, name_pattern = blob_path.strip("/").partition("/")
    return blob_subject(container, name_pattern.partition("{")[0])


def passes_subject_filter(subject: str, begins_with: str) -> bool:
    """Whether an event's subject passes a subscription's `subjectBeginsWith` (case-sensitive)."""
    return subject.startswith(begins_with)
