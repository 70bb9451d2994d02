"""The templates hold together: every file parses, modules and parameters line up, linter rules are strict."""

from __future__ import annotations

import json
import re

import pytest

from tests.infra.bicep_tree import INFRA, bicep_files, module_params, parse

STRICT_RULES = (
    "outputs-should-not-contain-secrets",
    "no-hardcoded-env-urls",
    "no-unused-params",
    "no-unused-vars",
    "secure-parameter-default",
    "use-secure-value-for-secure-inputs",
    "protect-commandtoexecute-secrets",
    "secure-secrets-in-params",
    "secure-params-in-nested-deploy",
)


def _relative(path) -> str:
    return str(path.relative_to(INFRA))


def test_infra_holds_the_expected_templates():
    present = {_relative(path) for path in bicep_files()}
    assert {
        "main.bicep",
        "eventgrid-subscription.bicep",
        "modules/storage.bicep",
        "modules/translator.bicep",
        "modules/functionapp.bicep",
        "modules/monitoring.bicep",
        "modules/roles.bicep",
        "modules/eventgrid-topic.bicep",
        "modules/network.bicep",
        "modules/private-endpoint.bicep",
        "modules/alerts.bicep",
        "modules/workbook.bicep",
    } <= present


@pytest.mark.parametrize("path", bicep_files(), ids=_relative)
def test_every_bicep_file_parses(path):
    tree = parse(_relative(path))
    assert tree.get("resources") or tree.get("modules"), f"{path.name} declares nothing"


@pytest.mark.parametrize("path", bicep_files(), ids=_relative)
def test_every_parameter_is_described(path):
    tree = parse(_relative(path))
    undocumented = [
        name
        for name, parameter in tree.get("parameters", {}).items()
        if not any(decorator["type"] == "description" for decorator in parameter["decorators"])
    ]
    assert undocumented == []


@pytest.mark.parametrize("path", bicep_files(), ids=_relative)
def test_modules_exist_and_receive_exactly_their_parameters(path):
    tree = parse(_relative(path))
    for symbol, module in tree.get("modules", {}).items():
        module_file = path.parent / module["detail"]["path"]
        assert module_file.is_file(), f"module {symbol} points at missing {module_file}"
        declared = parse(_relative(module_file)).get("parameters", {})
        passed = set(module_params(tree, symbol))
        required = {name for name, parameter in declared.items() if "default" not in parameter}
        assert passed <= set(declared), f"{symbol} passes undeclared parameters {passed - set(declared)}"
        assert required <= passed, f"{symbol} leaves required parameters unset: {required - passed}"


def test_bicepparam_targets_main_and_sets_only_declared_parameters():
    text = (INFRA / "main.bicepparam").read_text()
    using = re.search(r"^using\s+'([^']+)'", text, re.MULTILINE)
    assert using, "main.bicepparam has no using statement"
    assert (INFRA / using.group(1)).resolve() == (INFRA / "main.bicep").resolve()
    assigned = set(re.findall(r"^param\s+(\w+)\s*=", text, re.MULTILINE))
    declared = set(parse("main.bicep")["parameters"])
    assert assigned, "main.bicepparam sets no parameter"
    assert assigned <= declared, f"unknown parameters in main.bicepparam: {assigned - declared}"


def test_main_is_resource_group_scoped_with_few_parameters():
    tree = parse("main.bicep")
    assert tree["globals"]["scope"]["value"] == "resourceGroup"
    assert {"namePrefix", "location", "targetLanguages", "storageAccessMode", "pollSchedule"} <= set(tree["parameters"])
    # A first deployment needs no parameter at all; the rest are documented switches.
    assert [name for name, parameter in tree["parameters"].items() if "default" not in parameter] == []
    # 22: outcomeEvents (the sink of outcome events, which creates the Event Grid topic when asked) and
    # rulesBlob (RULES_BLOB) joined the documented switches. 25: the character budget's three
    # (characterBudgetPerDay, characterBudgetPerMonth, pricePerMillionCharacters).
    assert len(tree["parameters"]) <= 25


def test_bicepparam_reads_every_switch_from_the_environment_with_mains_default():
    text = (INFRA / "main.bicepparam").read_text()
    main = parse("main.bicep")["parameters"]
    for name, env, default in re.findall(
        r"^param (\w+) = (?:\w+\()?readEnvironmentVariable\('(\w+)', '([^']*)'\)", text, re.MULTILINE
    ):
        declared = main[name]["default"]
        if isinstance(declared, bool):
            declared = str(declared).lower()
        elif declared == []:  # a comma-separated list: empty means none
            declared = ""
        assert default == str(declared), f"{env} defaults to {default!r} in main.bicepparam, {declared!r} in main.bicep"
    assigned = set(re.findall(r"^param\s+(\w+)\s*=", text, re.MULTILINE))
    assert set(main) - assigned == {"location", "maximumInstanceCount", "virtualNetworkAddresses"}


def test_bicepconfig_makes_the_security_rules_errors():
    config = json.loads((INFRA / "bicepconfig.json").read_text())
    rules = config["analyzers"]["core"]["rules"]
    assert config["analyzers"]["core"].get("enabled", True) is True
    not_errors = {
        rule: rules.get(rule, {}).get("level") for rule in STRICT_RULES if rules.get(rule, {}).get("level") != "error"
    }
    assert not_errors == {}


def test_names_are_derived_from_the_resource_group_not_from_randomness():
    for path in bicep_files():
        text = path.read_text()
        assert "newGuid(" not in text and "utcNow(" not in text, (
            f"{path.name} would rename resources on every deployment"
        )
    variables = parse("main.bicep")["variables"]
    token = json.dumps(variables["resourceToken"])
    assert "unique_string" in token and "resource_group" in token
