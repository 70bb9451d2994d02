"""Queue trigger on the blob trigger's poison queue: a drop whose submission failed until its
retries ran out, perhaps before its record existed."""

import azure.functions as func

from shared.pipeline.context import get_context
from shared.pipeline.poison import record_poisoned_drop as record
from shared.settings import STORAGE_CONNECTION
from shared.storage.clients import BLOB_TRIGGER_POISON_QUEUE

bp = func.Blueprint()


@bp.queue_trigger(arg_name="message", queue_name=BLOB_TRIGGER_POISON_QUEUE, connection=STORAGE_CONNECTION)
def record_poisoned_drop(message: func.QueueMessage) -> None:
    record(message.get_body().decode("utf-8", errors="replace"), get_context())
