"""Fixtures shared by every test folder. Each concern keeps its fixtures in tests/fixtures/."""

pytest_plugins = [
    "tests.fixtures.azurite",
]
