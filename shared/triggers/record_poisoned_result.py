"""Queue trigger on the results poison queue: recording failed until its retries ran out."""

import azure.functions as func

from shared.pipeline.context import get_context
from shared.pipeline.poison import record_poisoned_result as record
from shared.settings import POISON_SUFFIX, STORAGE_CONNECTION

bp = func.Blueprint()


@bp.queue_trigger(arg_name="message", queue_name=f"%RESULTS_QUEUE%{POISON_SUFFIX}", connection=STORAGE_CONNECTION)
def record_poisoned_result(message: func.QueueMessage) -> None:
    record(message.get_body().decode("utf-8", errors="replace"), get_context())
