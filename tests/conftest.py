"""Fixtures shared by every test folder. Each concern keeps its fixtures in tests/fixtures/."""

import logging

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.emulator",
]

# The storage SDKs log every HTTP exchange at INFO; tests want the app's own lines.
logging.getLogger("azure.core.pipeline.policies.http_logging_policy").setLevel(logging.WARNING)
