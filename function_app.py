"""The function app: three triggers, each a blueprint in shared/triggers/. No work here."""

import azure.functions as func

from shared.runtime import configure_logging
from shared.triggers import poll_outstanding_jobs, record_outcome, submit_on_drop

configure_logging()

app = func.FunctionApp()
app.register_functions(submit_on_drop.bp)
app.register_functions(poll_outstanding_jobs.bp)
app.register_functions(record_outcome.bp)
