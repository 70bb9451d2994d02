"""Every resource of every template type-checks against the Azure type definitions the Bicep compiler uses.

No Bicep compiler can be installed here, so tests/infra/type_check.py does its resource-body part:
the type at its api-version, property names, literal values, read-only and required properties.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pycep import BicepParser

from tests.infra.bicep_tree import INFRA, bicep_files, parse, resources
from tests.infra.type_check import TYPES_DIR, check_resources, library


def _cases():
    for path in bicep_files():
        relative = str(path.relative_to(INFRA))
        for resource in resources(parse(relative), existing=None):
            yield pytest.param(relative, resource.symbol, id=f"{relative}:{resource.symbol}")


@pytest.mark.parametrize(("template", "symbol"), list(_cases()))
def test_resource_body_fits_its_azure_type(template, symbol):
    tree = parse(template)
    resource = next(r for r in resources(tree, existing=None) if r.symbol == symbol)
    assert [str(problem) for problem in check_resources(tree, [resource])] == []


def test_the_type_files_are_licensed_and_cover_only_what_infra_uses():
    assert "MIT License" in (TYPES_DIR / "LICENSE").read_text()
    used = {
        f"{r.type}@{r.api_version}".lower()
        for path in bicep_files()
        for r in resources(parse(str(path.relative_to(INFRA))), existing=None)
    }
    needed_files = set()
    for name in used:
        elements, _ = library().resource(*name.split("@"))
        needed_files.add(id(elements))
    shipped = list(TYPES_DIR.rglob("types.json"))
    assert len(shipped) == len(needed_files), "a types.json under tests/infra/azure_types is not used by infra/"


def _problems(tmp_path: Path, body: str) -> list[str]:
    path = tmp_path / "snippet.bicep"
    path.write_text(body)
    tree = BicepParser().parse(file_path=path)
    return [str(problem) for problem in check_resources(tree, resources(tree, existing=None))]


STORAGE = """param location string
resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {{
  name: 'docs'
  location: location
  kind: 'StorageV2'
  sku: {{
    name: 'Standard_LRS'
  }}
  properties: {{
    {line}
  }}
}}
"""


def test_a_correct_body_has_no_problem(tmp_path):
    assert _problems(tmp_path, STORAGE.format(line="minimumTlsVersion: 'TLS1_2'")) == []


def test_a_misspelled_property_is_caught(tmp_path):
    problems = _problems(tmp_path, STORAGE.format(line="minimumTlsVersoin: 'TLS1_2'"))
    assert len(problems) == 1 and "properties.minimumTlsVersoin: no such property" in problems[0]


def test_a_property_in_the_wrong_case_is_caught_with_the_right_spelling(tmp_path):
    problems = _problems(tmp_path, STORAGE.format(line="MinimumTlsVersion: 'TLS1_2'"))
    assert len(problems) == 1 and "the type spells it 'minimumTlsVersion'" in problems[0]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("accessTier: 'Warm'", "'Warm' is not one of ['Hot', 'Cool', 'Premium', 'Cold']"),  # closed enum
        ("minimumTlsVersion: 'TLS1_4'", "'TLS1_4' is not one of"),  # extensible enum, literal checked
        ("publicNetworkAccess: 'disabled'", "'disabled' is not one of"),
    ],
)
def test_a_wrong_enum_value_is_caught(tmp_path, line, expected):
    problems = _problems(tmp_path, STORAGE.format(line=line))
    assert len(problems) == 1 and expected in problems[0]


def test_a_read_only_property_is_caught(tmp_path):
    problems = _problems(tmp_path, STORAGE.format(line="provisioningState: 'Succeeded'"))
    assert len(problems) == 1 and "properties.provisioningState: is read-only" in problems[0]


def test_a_wrong_literal_type_and_a_missing_required_property_are_caught(tmp_path):
    problems = _problems(tmp_path, STORAGE.format(line="allowSharedKeyAccess: 'no'\n    networkAcls: {}"))
    assert any("allowSharedKeyAccess: 'no' is not a boolean" in problem for problem in problems)
    assert any("networkAcls.defaultAction: is required and missing" in problem for problem in problems)


def test_an_integer_out_of_range_and_an_unknown_api_version_are_caught(tmp_path):
    problems = _problems(
        tmp_path,
        """resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  name: 'default'
  properties: {
    deleteRetentionPolicy: {
      enabled: true
      days: 400
    }
  }
}
resource future 'Microsoft.Storage/storageAccounts@2099-01-01' = {
  name: 'x'
}
""",
    )
    assert any("days: 400 is above the maximum 365" in problem for problem in problems)
    assert any("@2099-01-01): no such resource type at this api-version" in problem for problem in problems)


def test_discriminated_bodies_are_checked_against_their_variant(tmp_path):
    body = """resource site 'Microsoft.Web/sites@2024-04-01' existing = {{
  name: 'app'
}}
resource settings 'Microsoft.Web/sites/config@2024-04-01' = {{
  parent: site
  name: '{name}'
  properties: {{
    {line}
  }}
}}
"""
    assert _problems(tmp_path, body.format(name="appsettings", line="ANY_SETTING: 'free-form'")) == []
    assert _problems(tmp_path, body.format(name="web", line="minTlsVersion: '1.2'")) == []
    problems = _problems(tmp_path, body.format(name="web", line="minTlsVersoin: '1.2'"))
    assert len(problems) == 1 and "minTlsVersoin: no such property" in problems[0]
    problems = _problems(tmp_path, body.format(name="appsetings", line="A: 'b'"))
    assert len(problems) == 1 and "'appsetings' is not one of" in problems[0]


def test_expressions_end_the_check_and_both_branches_of_a_condition_are_checked(tmp_path):
    body = STORAGE.replace("param location string", "param location string\nparam tier string\nparam cold bool")
    assert _problems(tmp_path, body.format(line="accessTier: tier")) == []
    problems = _problems(tmp_path, body.format(line="accessTier: cold ? 'Cold' : 'Warm'"))
    assert len(problems) == 1 and "'Warm' is not one of" in problems[0]
