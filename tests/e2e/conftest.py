"""The whole local stack - Azurite, the emulator and the local functions host, each its own
process - shared by the end-to-end tests of a module."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from devstack.stack import LocalStack, StackConfig


@contextmanager
def running_stack(folder: Path, settings: dict[str, str], host_args: list[str]) -> Iterator[LocalStack]:
    """A local stack on free ports, its settings overridden, stopped however the tests end."""
    config = StackConfig.on_free_ports(folder, settings_overrides=settings, host_args=host_args)
    running = LocalStack(config).start()
    try:
        yield running
    finally:
        running.stop()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    settings = {
        "POLL_SCHEDULE": "*/1 * * * * *",
        "SUBMIT_RECONCILE_AFTER_SECONDS": "6",
        "TRANSLATOR_TIMEOUT_SECONDS": "2",
        "TARGET_LANGUAGES": "fr,de",
    }
    # Event Grid delivers at least once: here every event arrives three times, concurrently.
    host_args = ["--watch-interval", "0.3", "--event-deliveries", "3", "--concurrent-deliveries"]
    with running_stack(Path(tmp_path_factory.mktemp("stack")), settings, host_args) as running:
        yield running


def start_batch_counts(stack: LocalStack) -> Counter[str]:
    """Source blob path -> how many batches the emulator created for it."""
    response = httpx.get(
        f"{stack.emulator_endpoint}/_emulator/stats",
        headers={"Ocp-Apim-Subscription-Key": stack.config.emulator_key},
        timeout=10,
    )
    response.raise_for_status()
    counts: Counter[str] = Counter()
    for batch in response.json()["batches"]:
        for url in batch["sourceUrls"]:
            counts[unquote(urlsplit(url).path).split("/", 3)[-1]] += 1
    return counts
