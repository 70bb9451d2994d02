"""Blob trigger (Event Grid source): a file landed in the source container."""

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared.pipeline.context import get_context
from shared.pipeline.submit import submit_dropped_blob
from shared.settings import STORAGE_CONNECTION
from shared.triggers.bound_blob import take_bound_blob

bp = func.Blueprint()


# The SDK-type binding hands us a BlobClient, so the document's bytes never reach the worker; only
# its name is taken (bound_blob.py says why), the work uses the app's pooled clients.
# A failure is retried by the host, then lands in webjobs-blobtrigger-poison (record_poisoned_drop).
@bp.blob_trigger(
    arg_name="source",
    path="%SOURCE_CONTAINER%/{name}",
    connection=STORAGE_CONNECTION,
    source=func.BlobSource.EVENT_GRID,
)
def submit_on_drop(source: blob.BlobClient) -> None:
    ctx = get_context()
    container, name = take_bound_blob(source)
    submit_dropped_blob(ctx.storage.container(container).get_blob_client(name), ctx)
