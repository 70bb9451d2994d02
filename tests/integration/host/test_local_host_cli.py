"""`host` CLI: settings from local.settings.json, what it prints, graceful stop on SIGTERM."""

from __future__ import annotations

import json
import os
import queue
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path

import httpx
import pytest

from devstack.azurite import Azurite
from tests.integration.host.hostkit import unique_name

pytestmark = pytest.mark.integration

REPO_ROOT = Path(__file__).resolve().parents[3]


def _project(tmp_path: Path, azurite: Azurite, queue_name: str) -> Path:
    (tmp_path / "function_app.py").write_text("from tests.integration.host.toy_app import app  # noqa: F401\n")
    (tmp_path / "host.json").write_text(json.dumps({"version": "2.0", "extensions": {"queues": {"batchSize": 2}}}))
    (tmp_path / "local.settings.json").write_text(
        json.dumps(
            {
                "IsEncrypted": False,
                "Values": {
                    "TOY_CONTAINER": unique_name("cli"),
                    "TOY_QUEUE": "from-the-settings-file",
                    "TOY_SCHEDULE": "0 0 3 * * *",
                    "TRANSLATION_STORAGE": azurite.connection_string,
                },
            }
        )
    )
    return tmp_path


def _host_command(project: Path, *options: str) -> list[str]:
    """`python -m devstack host` on a free port, unbuffered so its lines arrive as they are printed."""
    return [sys.executable, "-u", "-m", "devstack", "host", "--project-dir", str(project), "--port", "0", *options]


def _read_lines(stream, lines: queue.Queue[str]) -> None:
    for line in stream:
        lines.put(line)


def test_cli_serves_the_app_and_stops_on_sigterm(tmp_path, azurite):
    queue_name = unique_name("cli-results")
    project = _project(tmp_path, azurite, queue_name)
    # An environment variable wins over local.settings.json, as with Core Tools.
    env = {**os.environ, "TOY_QUEUE": queue_name, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(
        _host_command(project, "--no-watch"),
        cwd=REPO_ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=_read_lines, args=(process.stdout, lines), daemon=True).start()
    output = []
    try:
        while not any("Press Ctrl+C" in line for line in output):
            output.append(lines.get(timeout=60))
        printed = "".join(output)
        assert f"queue={queue_name}" in printed
        assert "schedule='0 0 3 * * *'" in printed
        webhook = re.search(r"POST (http://\S+functionName=Host.Functions.on_blob)", printed).group(1)

        response = httpx.post(
            webhook,
            headers={"aeg-event-type": "SubscriptionValidation"},
            json=[{"eventType": "Microsoft.EventGrid.SubscriptionValidationEvent", "data": {"validationCode": "v1"}}],
        )
        assert response.json() == {"validationResponse": "v1"}

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()


def test_cli_reports_a_missing_setting_and_exits_2(tmp_path, azurite):
    project = _project(tmp_path, azurite, unique_name("cli-results"))
    settings = json.loads((project / "local.settings.json").read_text())
    del settings["Values"]["TOY_SCHEDULE"]
    (project / "local.settings.json").write_text(json.dumps(settings))
    env = {key: value for key, value in os.environ.items() if not key.startswith("TOY_")}

    result = subprocess.run(
        _host_command(project),
        cwd=REPO_ROOT,
        env={**env, "PYTHONPATH": str(REPO_ROOT)},
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 2
    assert "TOY_SCHEDULE is not set" in result.stderr


def test_the_host_refuses_impossible_app_settings_at_once_naming_each(tmp_path, azurite):
    env = {
        **os.environ,
        "PYTHONPATH": str(REPO_ROOT),
        "TRANSLATION_STORAGE": azurite.connection_string,
        "TRANSLATOR_ENDPOINT": "my-translator",
        "TARGET_LANGUAGES": "fr,not a code",
    }
    done = subprocess.run(
        _host_command(REPO_ROOT, "--no-watch"),
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert done.returncode == 2
    assert "TRANSLATOR_ENDPOINT" in done.stderr and "TARGET_LANGUAGES" in done.stderr
