"""host.json and the sample local settings pass the schemas the Functions tooling publishes (SchemaStore's)."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from tests.infra.bicep_tree import REPO_ROOT

SCHEMAS = Path(__file__).parent / "schemas"


def _schema(name: str) -> dict[str, Any]:
    return json.loads((SCHEMAS / name).read_text())


def _validator(name: str) -> jsonschema.protocols.Validator:
    schema = _schema(name)
    validator_class = jsonschema.validators.validator_for(schema)
    validator_class.check_schema(schema)
    return validator_class(schema, format_checker=validator_class.FORMAT_CHECKER)


def _errors(schema_name: str, document: object) -> list[str]:
    """One line per error; for "not valid under any of" (host.json is version 1 or 2), the deepest branch error.

    The branch that fits the file's version gets furthest into it before it fails, so its error names the key.
    """
    lines = []
    for error in _validator(schema_name).iter_errors(document):
        cause = max(error.context, key=lambda branch: len(branch.absolute_path)) if error.context else error
        lines.append(f"{'/'.join(map(str, cause.absolute_path)) or '(root)'}: {cause.message}")
    return lines


def _host_json() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "host.json").read_text())


def _sample_settings() -> dict[str, Any]:
    return json.loads((REPO_ROOT / "local.settings.sample.json").read_text())


def test_host_json_passes_the_host_json_schema():
    assert _errors("host.schema.json", _host_json()) == []


def test_the_host_json_schema_refuses_what_the_host_would_misread():
    """The copy is the strict one: a misspelt queue setting, a string count or an unknown mode fails it."""
    for path, value in (
        (("extensions", "queues", "maxDequeuCount"), 5),
        (("extensions", "queues", "batchSize"), "8"),
        (("extensions", "queues", "visibilityTimeout"), "30s"),
        (("telemetryMode",), "OTel"),
        (("functionTimeout",), "10 minutes"),
    ):
        broken = copy.deepcopy(_host_json())
        target = broken
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
        assert _errors("host.schema.json", broken) != [], f"{'.'.join(path)}={value!r} passed the schema"


def test_the_sample_settings_pass_the_local_settings_schema():
    assert _errors("local.settings.schema.json", _sample_settings()) == []


def test_every_sample_setting_is_a_string():
    """The schema says so in words only: `Values` are strings, never JSON numbers, booleans or objects."""
    values = _sample_settings()["Values"]
    assert {name: value for name, value in values.items() if not isinstance(value, str)} == {}
    assert [name for name in values if ":" in name] == [], "a colon is reserved by the host's configuration"


@pytest.mark.parametrize("name", ["host.schema.json", "local.settings.schema.json"])
def test_the_copied_schemas_are_self_contained(name: str):
    """Validation never reaches for the network: every $ref points inside the file."""

    def refs(node: object) -> list[str]:
        if isinstance(node, dict):
            own = [node["$ref"]] if isinstance(node.get("$ref"), str) else []
            return own + [ref for value in node.values() for ref in refs(value)]
        if isinstance(node, list):
            return [ref for value in node for ref in refs(value)]
        return []

    found = refs(_schema(name))
    assert [ref for ref in found if not ref.startswith("#")] == []
    assert name != "host.schema.json" or found, "host.json's schema is built from definitions it refers to"
