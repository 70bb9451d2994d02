"""Timer trigger: submit source blobs whose Event Grid event never arrived."""

import azure.functions as func

from shared.pipeline.catch_up import catch_up_missed_drops as catch_up
from shared.pipeline.context import get_context

bp = func.Blueprint()


@bp.timer_trigger(arg_name="timer", schedule="%CATCH_UP_SCHEDULE%", run_on_startup=False)
def catch_up_missed_drops(timer: func.TimerRequest) -> None:
    catch_up(get_context())
