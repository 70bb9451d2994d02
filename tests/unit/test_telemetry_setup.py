"""Telemetry is set up exactly once, whether the Functions worker configured the distro before it
imported the app (PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true) or not. Each case runs in a
fresh interpreter: OpenTelemetry's providers are process-wide and can be set only once."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).parents[2]
# Points nowhere reachable: nothing leaves the machine.
CONNECTION_STRING = "InstrumentationKey=00000000-0000-0000-0000-000000000000;IngestionEndpoint=http://127.0.0.1:9/"


def calls_to_the_distro(worker_configures_first: bool) -> int:
    script = textwrap.dedent(
        f"""
        import json, os
        import azure.monitor.opentelemetry as distro
        calls = []
        real = distro.configure_azure_monitor
        def counting(**options):
            calls.append(options)
            real(**options)
        distro.configure_azure_monitor = counting
        os.environ["APPLICATIONINSIGHTS_CONNECTION_STRING"] = {CONNECTION_STRING!r}
        if {worker_configures_first!r}:
            # What the worker does at its init request when PYTHON_APPLICATIONINSIGHTS_ENABLE_TELEMETRY=true,
            # before it indexes (imports) function_app.py.
            distro.configure_azure_monitor(logger_name="")
        import function_app  # noqa: F401  (the app's own set-up runs at import)
        from shared.telemetry import configure_telemetry
        configure_telemetry()  # a second call (another import path) changes nothing
        print(json.dumps(len(calls)))
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120, check=True
    )
    return int(json.loads(done.stdout.strip().splitlines()[-1]))


def test_the_worker_set_up_telemetry_and_the_app_leaves_it_be():
    assert calls_to_the_distro(worker_configures_first=True) == 1


def test_without_the_worker_the_app_sets_telemetry_up_once():
    assert calls_to_the_distro(worker_configures_first=False) == 1
