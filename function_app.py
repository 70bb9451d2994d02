"""The function app: three triggers, each a blueprint in shared/triggers/. No work here."""

import logging

import azure.functions as func

from shared.redaction import install_log_redaction
from shared.triggers import poll_outstanding_jobs, record_outcome, submit_on_drop

install_log_redaction()
# The storage SDKs log every HTTP exchange at INFO: operators want the app's own lines.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)

app = func.FunctionApp()
app.register_functions(submit_on_drop.bp)
app.register_functions(poll_outstanding_jobs.bp)
app.register_functions(record_outcome.bp)
