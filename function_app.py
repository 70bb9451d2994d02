"""The function app: one blueprint per trigger, in shared/triggers/. No work here."""

import azure.functions as func

from shared.runtime import configure_logging
from shared.telemetry import configure_telemetry
from shared.triggers import (
    catch_up_missed_drops,
    notice_translation_written,
    poll_outstanding_jobs,
    poll_shard,
    record_outcome,
    record_poisoned_drop,
    record_poisoned_result,
    submit_on_drop,
)

configure_logging()
configure_telemetry()

app = func.FunctionApp()
for trigger in (
    submit_on_drop,
    notice_translation_written,
    poll_outstanding_jobs,
    poll_shard,
    record_outcome,
    record_poisoned_result,
    record_poisoned_drop,
    catch_up_missed_drops,
):
    app.register_functions(trigger.bp)
