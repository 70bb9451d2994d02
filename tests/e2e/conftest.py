"""The whole local stack - Azurite, the emulator and the local functions host, each its own
process - shared by the end-to-end tests of a module."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from urllib.parse import unquote, urlsplit

import httpx
import pytest

from devstack.stack import LocalStack, StackConfig


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory):
    config = StackConfig.on_free_ports(
        Path(tmp_path_factory.mktemp("stack")),
        settings_overrides={
            "POLL_SCHEDULE": "*/1 * * * * *",
            "SUBMIT_RECONCILE_AFTER_SECONDS": "6",
            "TRANSLATOR_TIMEOUT_SECONDS": "2",
            "TARGET_LANGUAGES": "fr,de",
        },
        # Event Grid delivers at least once: here every event arrives three times, concurrently.
        host_args=["--watch-interval", "0.3", "--event-deliveries", "3", "--concurrent-deliveries"],
    )
    running = LocalStack(config).start()
    try:
        yield running
    finally:
        running.stop()


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
