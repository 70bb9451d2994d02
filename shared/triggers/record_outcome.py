"""Queue trigger: write the final record and report of a record whose outcome is decided."""

import azure.functions as func

from shared.pipeline.context import get_context
from shared.pipeline.record import record_outcome as record
from shared.settings import STORAGE_CONNECTION

bp = func.Blueprint()


@bp.queue_trigger(arg_name="message", queue_name="%RESULTS_QUEUE%", connection=STORAGE_CONNECTION)
def record_outcome(message: func.QueueMessage) -> None:
    # A failure is retried by the host, then lands in the poison queue (record_poisoned_result).
    record(message.get_body().decode("utf-8", errors="replace"), get_context())
