"""The deployment scripts, run against stand-ins for az and func that record what they are asked."""

from __future__ import annotations

import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.infra.bicep_tree import REPO_ROOT, parse, single, walk

SCRIPTS = sorted((REPO_ROOT / "scripts").glob("*.sh"))

FAKE_AZ = r"""#!/usr/bin/env bash
printf 'az %s\n' "$*" >> "$CALL_LOG"
case "$*" in
  "deployment group show"*)
    args="$*"; query="${args##*--query }"; query="${query%% *}"
    name="${query#properties.outputs.}"; echo "fake-${name%.value}" ;;
  "functionapp keys list"*) echo true ;;
esac
"""
FAKE_FUNC = """#!/usr/bin/env bash
printf 'func %s (in %s)\\n' "$*" "$PWD" >> "$CALL_LOG"
"""


def _install(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _run(tmp_path: Path, *args: str, with_tools: bool = True) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    log.write_text("")
    if with_tools:
        _install(bin_dir, "az", FAKE_AZ)
        _install(bin_dir, "func", FAKE_FUNC)
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CALL_LOG": str(log),
        "KEY_WAIT_DELAY_SECONDS": "0",
    }
    completed = subprocess.run(
        ["bash", str(REPO_ROOT / "scripts" / "deploy.sh"), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    return completed, log.read_text().splitlines()


@pytest.mark.parametrize("script", SCRIPTS, ids=lambda path: path.name)
def test_scripts_are_executable_strict_bash(script):
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, check=False).returncode == 0


def test_deploy_without_arguments_prints_usage_and_fails(tmp_path):
    completed, calls = _run(tmp_path)
    assert completed.returncode == 2
    assert "Usage: scripts/deploy.sh RESOURCE_GROUP LOCATION [NAME_PREFIX]" in completed.stderr
    assert calls == []


def test_deploy_help_succeeds(tmp_path):
    completed, _ = _run(tmp_path, "--help")
    assert completed.returncode == 0
    assert "RESOURCE_GROUP" in completed.stdout


def test_deploy_stops_early_without_the_azure_tools(tmp_path):
    completed, _ = _run(tmp_path, "rg-test", "swedencentral", with_tools=False)
    assert completed.returncode == 1
    assert "not on PATH" in completed.stderr


def test_deploy_provisions_publishes_then_subscribes_in_that_order(tmp_path):
    completed, calls = _run(tmp_path, "rg-test", "swedencentral", "demo")
    assert completed.returncode == 0, completed.stderr
    steps = [
        next(
            i
            for i, call in enumerate(calls)
            if call.startswith("az group create --name rg-test --location swedencentral")
        ),
        next(
            i
            for i, call in enumerate(calls)
            if "infra/main.bicep" in call and call.startswith("az deployment group create")
        ),
        next(
            i
            for i, call in enumerate(calls)
            if call.startswith("func azure functionapp publish fake-FUNCTION_APP_NAME --python")
        ),
        next(i for i, call in enumerate(calls) if call.startswith("az functionapp keys list")),
        next(i for i, call in enumerate(calls) if "infra/eventgrid-subscription.bicep" in call),
    ]
    assert steps == sorted(steps)
    main_deployment = calls[steps[1]]
    assert "--resource-group rg-test" in main_deployment and "infra/main.bicepparam" in main_deployment
    publish = calls[steps[2]]
    assert publish.endswith(f"(in {REPO_ROOT})"), "Core Tools must publish from the repository root"
    subscription = calls[steps[4]]
    for parameter, output in (
        ("functionAppName", "FUNCTION_APP_NAME"),
        ("systemTopicName", "EVENT_GRID_SYSTEM_TOPIC_NAME"),
        ("storageAccountName", "STORAGE_ACCOUNT_NAME"),
        ("sourceContainerName", "SOURCE_CONTAINER"),
        ("deadLetterContainerName", "DEAD_LETTER_CONTAINER"),
    ):
        assert f"{parameter}=fake-{output}" in subscription


def test_deploy_asks_only_for_outputs_main_declares(tmp_path):
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    asked = {m.group(1) for call in calls if (m := re.search(r"--query properties\.outputs\.(\w+)\.value", call))}
    assert asked and asked <= set(parse("main.bicep")["outputs"])


def test_subscription_parameters_are_declared_by_its_template(tmp_path):
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    subscription = next(call for call in calls if "infra/eventgrid-subscription.bicep" in call)
    passed = set(re.findall(r"(\w+)=fake-", subscription))
    assert passed and passed <= set(parse("eventgrid-subscription.bicep")["parameters"])


def test_deploying_twice_issues_the_same_commands(tmp_path):
    first = _run(tmp_path, "rg-test", "swedencentral", "demo")[1]
    second = _run(tmp_path, "rg-test", "swedencentral", "demo")[1]
    assert first == second


def test_the_key_check_never_prints_the_key(tmp_path):
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    key_calls = [call for call in calls if call.startswith("az functionapp keys list")]
    assert key_calls and all("--query systemKeys.blobs_extension != null" in call for call in key_calls)


def test_azd_runs_the_same_template_and_hook():
    text = (REPO_ROOT / "azure.yaml").read_text()
    assert re.search(r"^infra:\s*\n(\s+.*\n)*?\s+path: infra\s*$", text, re.MULTILINE)
    service = re.search(r"^services:\s*\n\s+(\w+):\s*\n((?:\s{4,}.*\n)+)", text, re.MULTILINE)
    assert service, "azure.yaml declares no service"
    name, body = service.groups()
    assert "project: ." in body and "language: python" in body and "host: function" in body
    site = single(parse("modules/functionapp.bicep"), "Microsoft.Web/sites").body
    service_tags = [
        value
        for node in walk(site["tags"])
        if isinstance(node, dict)
        for key, value in node.items()
        if key.strip("'") == "azd-service-name"
    ]
    assert service_tags == [name], "azd finds the app to publish by this tag"
    hook = re.search(r"postdeploy:(?:\s*\n\s+.*)*?\s+run: (\S+)", text)
    assert hook and (REPO_ROOT / hook.group(1)).resolve() == REPO_ROOT / "scripts" / "azd-postdeploy.sh"
