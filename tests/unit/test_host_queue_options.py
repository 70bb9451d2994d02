"""The local host reads extensions.queues as the queues extension does, maxPollingInterval included:
an idle listener's polls set how long a message waits for its function, locally as in Azure."""

import json
from pathlib import Path

import pytest

from devstack.host.config import HostConfigError, QueueOptions

ROOT = Path(__file__).resolve().parents[2]


def options(**queues: object) -> QueueOptions:
    return QueueOptions.from_host_json({"extensions": {"queues": queues}})


def test_the_max_polling_interval_is_read_and_defaults_to_the_extension_s_minute():
    assert options(maxPollingInterval="00:00:01").max_polling_interval_seconds == 1.0
    assert options(maxPollingInterval="00:00:00.500").max_polling_interval_seconds == 0.5
    assert options().max_polling_interval_seconds == 60.0


def test_a_polling_interval_under_the_extension_s_floor_is_refused():
    with pytest.raises(HostConfigError, match="maxPollingInterval"):
        options(maxPollingInterval="00:00:00.050")


def test_the_project_polls_its_queues_at_least_once_a_second():
    """Each queue hop of a finished file (a promised look, the record step) waits up to this long."""
    host_json = json.loads((ROOT / "host.json").read_text())
    assert QueueOptions.from_host_json(host_json).max_polling_interval_seconds <= 1.0
