"""Fixtures shared by every test folder. Each concern keeps its fixtures in tests/fixtures/."""

from shared.runtime import configure_logging

pytest_plugins = [
    "tests.fixtures.azurite",
    "tests.fixtures.emulator",
]

configure_logging()
