"""The deployment scripts and hooks, run against stand-ins for az, func, curl and sleep that record their calls."""

from __future__ import annotations

import fnmatch
import os
import re
import stat
import subprocess
from pathlib import Path

import pytest

from tests.infra.bicep_tree import REPO_ROOT, parse, single, walk

SCRIPTS = REPO_ROOT / "scripts"
BASH_SCRIPTS = ["deploy.sh", "apply-event-subscription.sh"]
# azd runs posix hooks with sh (dash on Debian and Ubuntu): these must be plain POSIX sh.
POSIX_SCRIPTS = ["azd-postdeploy.sh", "check-parameters.sh"]
PROVIDERS = [
    "Microsoft.Web",
    "Microsoft.App",
    "Microsoft.Storage",
    "Microsoft.CognitiveServices",
    "Microsoft.EventGrid",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.ManagedIdentity",
    "Microsoft.Network",
]

FAKE_AZ = r"""#!/usr/bin/env bash
printf 'az %s\n' "$*" >> "$CALL_LOG"
case "$*" in
  "provider show --namespace "*)
    namespace="${4}"
    case ",${REGISTERED_PROVIDERS:-}," in *",$namespace,"*) echo Registered ;; *) echo NotRegistered ;; esac ;;
  "provider register"*)
    if [[ -n "${REFUSE_REGISTRATION:-}" ]]; then echo "AuthorizationFailed" >&2; exit 1; fi ;;
  "deployment group show"*)
    args="$*"; query="${args##*--query }"; query="${query%% *}"
    name="${query#properties.outputs.}"; echo "fake-${name%.value}" ;;
  "functionapp show"*) echo "fake-app.azurewebsites.net" ;;
  "functionapp keys list"*) echo true ;;
  "deployment group create"*eventgrid-subscription.bicep*)
    count=$(( $(cat "$EVENTS_COUNTER" 2>/dev/null || echo 0) + 1 )); echo "$count" > "$EVENTS_COUNTER"
    if (( count <= ${EVENTS_FAILURES:-0} )); then echo "Webhook validation handshake failed" >&2; exit 1; fi ;;
esac
"""
FAKE_FUNC = """#!/usr/bin/env bash
printf 'func %s (in %s)\\n' "$*" "$PWD" >> "$CALL_LOG"
"""
FAKE_RECORDER = """#!/usr/bin/env bash
printf '%s %s\\n' "$(basename "$0")" "$*" >> "$CALL_LOG"
"""


def _install(directory: Path, name: str, text: str) -> None:
    path = directory / name
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IEXEC)


def _run(
    tmp_path: Path, *args: str, with_tools: bool = True, env: dict[str, str] | None = None, command=None
) -> tuple[subprocess.CompletedProcess[str], list[str]]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    log = tmp_path / "calls.log"
    log.write_text("")
    (tmp_path / "events.count").unlink(missing_ok=True)
    if with_tools:
        _install(bin_dir, "az", FAKE_AZ)
        _install(bin_dir, "func", FAKE_FUNC)
        _install(bin_dir, "curl", FAKE_RECORDER)
    _install(bin_dir, "sleep", FAKE_RECORDER)  # records the back-off instead of waiting
    environment = {
        "PATH": f"{bin_dir}:/usr/bin:/bin",
        "HOME": str(tmp_path),
        "CALL_LOG": str(log),
        "EVENTS_COUNTER": str(tmp_path / "events.count"),
        "REGISTERED_PROVIDERS": ",".join(PROVIDERS),
        **(env or {}),
    }
    completed = subprocess.run(
        command or ["bash", str(SCRIPTS / "deploy.sh"), *args],
        capture_output=True,
        text=True,
        env=environment,
        timeout=60,
        check=False,
    )
    return completed, log.read_text().splitlines()


def _index(calls: list[str], prefix: str, contains: str = "") -> int:
    return next(i for i, call in enumerate(calls) if call.startswith(prefix) and contains in call)


@pytest.mark.parametrize("name", BASH_SCRIPTS)
def test_bash_scripts_are_executable_and_strict(name):
    script = SCRIPTS / name
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/usr/bin/env bash")
    assert "set -euo pipefail" in text
    assert subprocess.run(["bash", "-n", str(script)], capture_output=True, check=False).returncode == 0


@pytest.mark.parametrize("name", POSIX_SCRIPTS)
def test_hook_scripts_are_plain_posix_sh(name):
    script = SCRIPTS / name
    assert os.access(script, os.X_OK)
    text = script.read_text()
    assert text.startswith("#!/bin/sh")
    assert "set -eu" in text
    for bashism in ("[[", "pipefail", "BASH_SOURCE", "local "):
        assert bashism not in text, f"{name} uses {bashism!r}, which dash rejects"
    assert subprocess.run(["dash", "-n", str(script)], capture_output=True, check=False).returncode == 0


def test_deploy_without_arguments_prints_usage_and_fails(tmp_path):
    completed, calls = _run(tmp_path)
    assert completed.returncode == 2
    assert "Usage: scripts/deploy.sh RESOURCE_GROUP LOCATION [NAME_PREFIX]" in completed.stderr
    assert calls == []


def test_deploy_help_succeeds(tmp_path):
    completed, _ = _run(tmp_path, "--help")
    assert completed.returncode == 0
    assert "RESOURCE_GROUP" in completed.stdout and "PRIVATE_NETWORKING" in completed.stdout


def test_deploy_stops_early_without_the_azure_tools(tmp_path):
    completed, _ = _run(tmp_path, "rg-test", "swedencentral", with_tools=False)
    assert completed.returncode == 1
    assert "not on PATH" in completed.stderr


@pytest.mark.parametrize("prefix", ["Dtrans", "1trans", "d", "dtransdtrans", "d-trans", "d_t"])
def test_deploy_refuses_a_name_prefix_azure_would_reject_before_calling_azure(tmp_path, prefix):
    completed, calls = _run(tmp_path, "rg-test", "swedencentral", prefix)
    assert completed.returncode == 2
    assert "NAME_PREFIX" in completed.stderr
    assert calls == []


def test_deploy_refuses_private_networking_with_sas(tmp_path):
    completed, calls = _run(tmp_path, "rg-test", "swedencentral", env={"PRIVATE_NETWORKING": "true"})
    assert completed.returncode == 2
    assert "STORAGE_ACCESS_MODE=managed-identity" in completed.stderr
    assert calls == []
    completed, calls = _run(
        tmp_path,
        "rg-test",
        "swedencentral",
        env={"PRIVATE_NETWORKING": "true", "STORAGE_ACCESS_MODE": "managed-identity"},
    )
    assert completed.returncode == 0, completed.stderr


def test_deploy_refuses_a_non_numeric_retention(tmp_path):
    completed, calls = _run(tmp_path, "rg-test", "swedencentral", env={"DELETE_SOURCES_AFTER_DAYS": "30d"})
    assert completed.returncode == 2 and "DELETE_SOURCES_AFTER_DAYS" in completed.stderr
    assert calls == []


def test_deploy_provisions_publishes_then_subscribes_in_that_order(tmp_path):
    completed, calls = _run(tmp_path, "rg-test", "swedencentral", "demo")
    assert completed.returncode == 0, completed.stderr
    steps = [
        _index(calls, "az group create --name rg-test --location swedencentral"),
        _index(calls, "az deployment group create", "infra/main.bicep"),
        _index(calls, "func azure functionapp publish fake-FUNCTION_APP_NAME --python"),
        _index(calls, "curl", "https://fake-app.azurewebsites.net/"),
        _index(calls, "az functionapp keys list"),
        _index(calls, "az deployment group create", "infra/eventgrid-subscription.bicep"),
    ]
    assert steps == sorted(steps)
    main_deployment = calls[steps[1]]
    assert "--resource-group rg-test" in main_deployment and "infra/main.bicepparam" in main_deployment
    publish = calls[steps[2]]
    assert publish.endswith(f"(in {REPO_ROOT})"), "Core Tools must publish from the repository root"
    subscription = calls[steps[5]]
    for parameter, output in (
        ("functionAppName", "FUNCTION_APP_NAME"),
        ("systemTopicName", "EVENT_GRID_SYSTEM_TOPIC_NAME"),
        ("storageAccountName", "STORAGE_ACCOUNT_NAME"),
        ("sourceContainerName", "SOURCE_CONTAINER"),
        ("targetContainerName", "TARGET_CONTAINER"),
        ("deadLetterContainerName", "DEAD_LETTER_CONTAINER"),
    ):
        assert f"{parameter}=fake-{output}" in subscription


def test_registered_providers_are_left_alone(tmp_path):
    completed, calls = _run(tmp_path, "rg-test", "swedencentral")
    assert completed.returncode == 0, completed.stderr
    assert not [call for call in calls if call.startswith("az provider register")]
    assert {call.split()[4] for call in calls if call.startswith("az provider show")} == set(PROVIDERS)


def test_only_unregistered_providers_are_registered(tmp_path):
    registered = [p for p in PROVIDERS if p not in ("Microsoft.App", "Microsoft.EventGrid")]
    completed, calls = _run(tmp_path, "rg-test", "swedencentral", env={"REGISTERED_PROVIDERS": ",".join(registered)})
    assert completed.returncode == 0, completed.stderr
    registered_now = [call.split()[4] for call in calls if call.startswith("az provider register")]
    assert registered_now == ["Microsoft.App", "Microsoft.EventGrid"]


def test_refused_registration_warns_and_the_deployment_carries_on(tmp_path):
    completed, calls = _run(
        tmp_path,
        "rg-test",
        "swedencentral",
        env={"REGISTERED_PROVIDERS": "", "REFUSE_REGISTRATION": "1"},
    )
    assert completed.returncode == 0, completed.stderr
    assert "warning: could not register Microsoft.Web" in completed.stderr
    assert "az provider register --namespace Microsoft.Web" in completed.stderr  # what to ask an admin
    _index(calls, "az deployment group create", "infra/main.bicep")


def test_the_subscription_is_retried_with_growing_back_off_while_the_handshake_fails(tmp_path):
    completed, calls = _run(
        tmp_path,
        "rg-test",
        "swedencentral",
        env={"EVENTS_FAILURES": "2", "SUBSCRIBE_FIRST_DELAY_SECONDS": "15"},
    )
    assert completed.returncode == 0, completed.stderr
    attempts = [i for i, call in enumerate(calls) if "eventgrid-subscription.bicep" in call]
    assert len(attempts) == 3
    assert [call for call in calls if call.startswith("sleep")] == ["sleep 15", "sleep 30"]
    # The app is woken before every attempt.
    for attempt in attempts:
        assert calls[attempt - 1].startswith("curl")


def test_the_subscription_gives_up_after_its_attempts_with_a_clear_error(tmp_path):
    completed, calls = _run(
        tmp_path,
        "rg-test",
        "swedencentral",
        env={"EVENTS_FAILURES": "99", "SUBSCRIBE_ATTEMPTS": "3", "SUBSCRIBE_FIRST_DELAY_SECONDS": "1"},
    )
    assert completed.returncode == 1
    assert "could not validate the webhook" in completed.stderr
    assert len([call for call in calls if "eventgrid-subscription.bicep" in call]) == 3


def test_deploy_asks_only_for_outputs_main_declares(tmp_path):
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    asked = {m.group(1) for call in calls if (m := re.search(r"--query properties\.outputs\.(\w+)\.value", call))}
    assert asked and asked <= set(parse("main.bicep")["outputs"])


def test_subscription_parameters_are_declared_by_its_template(tmp_path):
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    subscription = next(call for call in calls if "infra/eventgrid-subscription.bicep" in call)
    passed = set(re.findall(r"(\w+)=fake-", subscription))
    assert passed and passed <= set(parse("eventgrid-subscription.bicep")["parameters"])


def _container_parameters() -> set[str]:
    names = {name for name in parse("eventgrid-subscription.bicep")["parameters"] if name.endswith("ContainerName")}
    assert {"sourceContainerName", "targetContainerName", "deadLetterContainerName"} <= names
    return names


def test_every_container_of_the_subscriptions_comes_from_main_s_outputs(tmp_path):
    # A container left to the template's default would silently watch the wrong one if main's name changed.
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    subscription = next(call for call in calls if "infra/eventgrid-subscription.bicep" in call)
    assert _container_parameters() <= set(re.findall(r"(\w+)=fake-", subscription))


def test_the_subscription_script_refuses_a_call_without_the_target_container(tmp_path):
    script = str(SCRIPTS / "apply-event-subscription.sh")
    old_call = ["rg", "app", "topic", "docs", "source", "eventgrid-deadletter"]
    completed, calls = _run(tmp_path, command=["bash", script, *old_call])
    assert completed.returncode == 2 and "TARGET_CONTAINER" in completed.stderr
    assert calls == []
    completed, calls = _run(tmp_path, command=["bash", script, *old_call[:5], "target", old_call[5]])
    assert completed.returncode == 0, completed.stderr
    subscription = next(call for call in calls if "eventgrid-subscription.bicep" in call)
    assert "targetContainerName=target deadLetterContainerName=eventgrid-deadletter" in subscription
    assert "'target/.inflight/'" in completed.stdout


def test_deploying_twice_issues_the_same_commands(tmp_path):
    first = _run(tmp_path, "rg-test", "swedencentral", "demo")[1]
    second = _run(tmp_path, "rg-test", "swedencentral", "demo")[1]
    assert first == second


def test_the_key_check_never_prints_the_key(tmp_path):
    _, calls = _run(tmp_path, "rg-test", "swedencentral")
    key_calls = [call for call in calls if call.startswith("az functionapp keys list")]
    assert key_calls and all("--query systemKeys.blobs_extension != null" in call for call in key_calls)


def test_the_azd_posix_hook_runs_under_dash(tmp_path):
    env = {
        "AZURE_RESOURCE_GROUP": "rg-azd",
        "FUNCTION_APP_NAME": "app-azd",
        "EVENT_GRID_SYSTEM_TOPIC_NAME": "topic-azd",
        "STORAGE_ACCOUNT_NAME": "docsazd",
    }
    completed, calls = _run(tmp_path, env=env, command=["dash", str(SCRIPTS / "azd-postdeploy.sh")])
    assert completed.returncode == 0, completed.stderr
    subscription = next(call for call in calls if "eventgrid-subscription.bicep" in call)
    for expected in (
        "--resource-group rg-azd",
        "functionAppName=app-azd",
        "systemTopicName=topic-azd",
        "storageAccountName=docsazd",
        "sourceContainerName=source",
        "targetContainerName=target",
        "deadLetterContainerName=eventgrid-deadletter",
    ):
        assert expected in subscription
    completed, calls = _run(
        tmp_path,
        env={**env, "TARGET_CONTAINER": "translated", "SOURCE_CONTAINER": "dropped"},
        command=["dash", str(SCRIPTS / "azd-postdeploy.sh")],
    )
    assert completed.returncode == 0, completed.stderr
    subscription = next(call for call in calls if "eventgrid-subscription.bicep" in call)
    assert "sourceContainerName=dropped targetContainerName=translated" in subscription


def test_the_azd_posix_hook_names_a_missing_output(tmp_path):
    completed, calls = _run(
        tmp_path, env={"AZURE_RESOURCE_GROUP": "rg"}, command=["dash", str(SCRIPTS / "azd-postdeploy.sh")]
    )
    assert completed.returncode != 0 and "FUNCTION_APP_NAME" in completed.stderr
    assert calls == []


def _hooks() -> dict[str, dict[str, dict[str, str]]]:
    """hooks.<event>.<platform>.<key> from azure.yaml (a fixed, simple layout)."""
    hooks: dict[str, dict[str, dict[str, str]]] = {}
    text = (REPO_ROOT / "azure.yaml").read_text()
    body = text.split("\nhooks:\n", 1)[1]
    event = platform = None
    for line in body.splitlines():
        if re.match(r"^  \w+:$", line):
            event = line.strip(" :")
            hooks[event] = {}
        elif re.match(r"^    \w+:$", line):
            platform = line.strip(" :")
            hooks[event][platform] = {}
        elif m := re.match(r"^      (\w+): (.+)$", line):
            hooks[event][platform][m.group(1)] = m.group(2)
    return hooks


def test_azd_has_posix_and_windows_hooks_for_each_event():
    hooks = _hooks()
    assert set(hooks) == {"preprovision", "postdeploy"}
    for event, platforms in hooks.items():
        assert set(platforms) == {"posix", "windows"}, event
        assert platforms["posix"]["shell"] == "sh" and platforms["windows"]["shell"] == "pwsh"
        for platform in platforms.values():
            assert (REPO_ROOT / platform["run"]).is_file(), platform["run"]
    assert hooks["postdeploy"]["posix"]["run"] == "./scripts/azd-postdeploy.sh"
    assert hooks["postdeploy"]["windows"]["run"] == "./scripts/azd-postdeploy.ps1"
    assert hooks["preprovision"]["posix"]["run"] == "./scripts/check-parameters.sh"


def test_the_windows_hook_applies_the_same_template_with_the_same_parameters():
    text = (SCRIPTS / "apply-event-subscription.ps1").read_text()
    assert "infra/eventgrid-subscription.bicep" in text
    passed = set(re.findall(r'"(\w+)=\$\w+"', text))
    assert passed == {
        "functionAppName",
        "systemTopicName",
        "storageAccountName",
        "sourceContainerName",
        "targetContainerName",
        "deadLetterContainerName",
    }
    assert passed <= set(parse("eventgrid-subscription.bicep")["parameters"])
    assert _container_parameters() <= passed
    # Same safety as the bash script: only asks whether the key exists, retries with growing back-off.
    assert '--query "systemKeys.blobs_extension != null"' in text
    assert "$delay *= 2" in text and "Invoke-WarmUp" in text
    hook = (SCRIPTS / "azd-postdeploy.ps1").read_text()
    for name in ("AZURE_RESOURCE_GROUP", "FUNCTION_APP_NAME", "EVENT_GRID_SYSTEM_TOPIC_NAME", "STORAGE_ACCOUNT_NAME"):
        assert name in hook
    # The hook hands main's container outputs on, as the posix hook does.
    for output, parameter in (
        ("SOURCE_CONTAINER", "SourceContainer"),
        ("TARGET_CONTAINER", "TargetContainer"),
        ("DEAD_LETTER_CONTAINER", "DeadLetterContainer"),
    ):
        assert f"$env:{output}" in hook and f"-{parameter} $" in hook, output
        assert f"[string]${parameter} = " in text, parameter


def test_both_parameter_checks_enforce_the_same_rules():
    posix = (SCRIPTS / "check-parameters.sh").read_text()
    windows = (SCRIPTS / "check-parameters.ps1").read_text()
    for needle in (
        "NAME_PREFIX",
        "STORAGE_ACCESS_MODE",
        "PRIVATE_NETWORKING",
        "STUCK_JOB_AFTER_MINUTES",
        "LOG_DAILY_CAP_GB",
        "DELETE_SOURCES_AFTER_DAYS",
        "DELETE_TRANSLATIONS_AFTER_DAYS",
        "DELETE_REPORTS_AFTER_DAYS",
        "CHARACTER_BUDGET_PER_DAY",
        "CHARACTER_BUDGET_PER_MONTH",
        "needs STORAGE_ACCESS_MODE=managed-identity",
    ):
        assert needle in posix and needle in windows, needle


def test_azd_runs_the_same_template():
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


def _shipped(patterns: list[str], paths: list[str]) -> list[str]:
    """The paths a .funcignore (gitignore-style: 'dir/' anywhere, globs on names) lets through."""

    def ignored(path: str) -> bool:
        parts = path.split("/")
        for pattern in patterns:
            if pattern.endswith("/"):
                if any(fnmatch.fnmatch(part, pattern[:-1]) for part in parts[:-1]):
                    return True
            elif fnmatch.fnmatch(parts[-1], pattern) or fnmatch.fnmatch(path, pattern):
                return True
        return False

    return [path for path in paths if not ignored(path)]


def test_the_package_holds_the_app_and_nothing_of_the_tooling():
    patterns = [
        line.strip()
        for line in (REPO_ROOT / ".funcignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    candidates = [
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shared/settings.py",
        "shared/storage/clients.py",
        ".pytest_cache/v/cache/nodeids",
        ".ruff_cache/0.8.0/123",
        ".mypy_cache/3.11/x.json",
        ".azure/dtrans/.env",
        ".venv/bin/python",
        ".venv/iac-scan/bin/checkov",
        "tests/infra/test_roles.py",
        "devstack/emulator.py",
        "infra/main.bicep",
        "scripts/deploy.sh",
        "shared/__pycache__/settings.cpython-311.pyc",
        "README.md",
        "local.settings.json",
        "requirements-dev.txt",
        "requirements-dev.lock",
    ]
    assert _shipped(patterns, candidates) == [
        "function_app.py",
        "host.json",
        "requirements.txt",
        "shared/settings.py",
        "shared/storage/clients.py",
    ]
