"""Queue trigger: write the final record and report of a finished job or a rejection."""

import logging

import azure.functions as func

from shared.pipeline.context import get_context
from shared.pipeline.record import mark_needs_attention
from shared.pipeline.record import record_outcome as record
from shared.runtime import max_dequeue_count
from shared.settings import STORAGE_CONNECTION

logger = logging.getLogger(__name__)

bp = func.Blueprint()


@bp.queue_trigger(arg_name="message", queue_name="%RESULTS_QUEUE%", connection=STORAGE_CONNECTION)
def record_outcome(message: func.QueueMessage) -> None:
    text = message.get_body().decode("utf-8", errors="replace")
    context = get_context()
    try:
        record(text, context)
    except Exception as exc:
        # The host moves the message to the poison queue after this failure: say so on the record.
        if (message.dequeue_count or 0) >= max_dequeue_count():
            mark_needs_attention(text, exc, context)
        raise
