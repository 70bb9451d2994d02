"""Timer trigger: follow outstanding jobs, recover interrupted submissions."""

import azure.functions as func

from shared.pipeline.context import get_context
from shared.pipeline.poll import poll_outstanding_jobs as poll

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%POLL_SCHEDULE%", run_on_startup=False)
def poll_outstanding_jobs(timer: func.TimerRequest) -> None:
    poll(get_context())
