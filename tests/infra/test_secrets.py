"""No key, SAS or connection string with a key is written into a template's inputs or outputs."""

from __future__ import annotations

import re

import pytest

from tests.infra.bicep_tree import INFRA, bicep_files, parse, strings, walk

SECRET_WORDS = re.compile(r"key|secret|password|token|sig=|AccountKey|SharedAccessSignature", re.IGNORECASE)
# Hosts that differ per cloud (the no-hardcoded-env-urls rule's list, abridged).
CLOUD_HOSTS = (
    "core.windows.net",
    "management.azure.com",
    "login.microsoftonline.com",
    "vault.azure.net",
    "graph.windows.net",
)


def _relative(path) -> str:
    return str(path.relative_to(INFRA))


def _uses_list_function(node) -> bool:
    return any(isinstance(value, dict) and value.get("type") == "list_func" for value in walk(node))


@pytest.mark.parametrize("path", bicep_files(), ids=_relative)
def test_outputs_carry_no_secret(path):
    for name, output in parse(_relative(path)).get("outputs", {}).items():
        assert not _uses_list_function(output["value"]), f"output {name} calls a list* function"
        assert not SECRET_WORDS.search(name), f"output {name} is named like a secret"
        assert not any("AccountKey" in text or "sig=" in text for text in strings(output["value"]))


@pytest.mark.parametrize("path", bicep_files(), ids=_relative)
def test_parameters_have_no_secret_defaults(path):
    for name, parameter in parse(_relative(path)).get("parameters", {}).items():
        default = parameter.get("default")
        assert not _uses_list_function(default), f"parameter {name} defaults to a list* call"
        assert not SECRET_WORDS.search(name), f"parameter {name} looks like a secret: keep secrets out of parameters"
        assert not any(SECRET_WORDS.search(text) for text in strings(default)), f"parameter {name} default looks secret"


def test_list_keys_is_used_only_for_the_webhook_key():
    users = [_relative(path) for path in bicep_files() if _uses_list_function(parse(_relative(path)))]
    assert users == ["eventgrid-subscription.bicep"]


@pytest.mark.parametrize("path", [*bicep_files(), INFRA / "main.bicepparam"], ids=_relative)
def test_no_connection_string_with_a_key_or_cloud_specific_host(path):
    text = path.read_text()
    assert "AccountKey=" not in text and "SharedAccessSignature=" not in text
    assert not any(host in text for host in CLOUD_HOSTS), "use environment() or resource properties for cloud hosts"
