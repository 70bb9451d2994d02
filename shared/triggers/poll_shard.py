"""Queue trigger: a shard of the work a busy poll found due, or a look at one job that its written
translations promised (shared/pipeline/translation_written.py), on whichever instance takes it."""

import azure.functions as func

from shared.pipeline.context import get_context
from shared.pipeline.poll import poll_shard as poll
from shared.settings import STORAGE_CONNECTION

bp = func.Blueprint()


@bp.queue_trigger(arg_name="message", queue_name="%POLL_SHARDS_QUEUE%", connection=STORAGE_CONNECTION)
def poll_shard(message: func.QueueMessage) -> None:
    # Never raises for one entry's failure: it stays due, and the next tick takes it up.
    poll(get_context(), message.get_body().decode("utf-8", errors="replace"))
