"""Blob trigger (Event Grid source): a file landed in the source container."""

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared.pipeline.context import get_context
from shared.pipeline.submit import submit_dropped_blob
from shared.settings import STORAGE_CONNECTION

bp = func.Blueprint()


# The SDK-type binding hands us a BlobClient: the document's bytes never reach the worker.
# A failure is retried by the host, then lands in webjobs-blobtrigger-poison (record_poisoned_drop).
@bp.blob_trigger(
    arg_name="source",
    path="%SOURCE_CONTAINER%/{name}",
    connection=STORAGE_CONNECTION,
    source=func.BlobSource.EVENT_GRID,
)
def submit_on_drop(source: blob.BlobClient) -> None:
    submit_dropped_blob(source, get_context())
