"""Blob trigger (Event Grid source): the service wrote a translation to its staging name in the
target container. The job it belongs to is looked at (at most about once a second), so a job is
recorded when its last document is written instead of at the next poll."""

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

from shared.pipeline.context import get_context
from shared.pipeline.translation_written import notice_translation_written as notice
from shared.settings import STORAGE_CONNECTION
from shared.storage.blob_names import STAGING_FOLDER
from shared.triggers.bound_blob import take_bound_blob

bp = func.Blueprint()


# The SDK-type binding hands us a BlobClient: only its name is taken (bound_blob.py says why), the
# translation is never read.
# A failure is retried by the host, then lands in webjobs-blobtrigger-poison (record_poisoned_drop),
# and the poll's backstop looks at the job anyway.
@bp.blob_trigger(
    arg_name="translation",
    path=f"%TARGET_CONTAINER%/{STAGING_FOLDER}/{{name}}",
    connection=STORAGE_CONNECTION,
    source=func.BlobSource.EVENT_GRID,
)
def notice_translation_written(translation: blob.BlobClient) -> None:
    _container, name = take_bound_blob(translation)
    notice(get_context(), name)
