"""The deployment docs agree with the templates and the code: one truth for defaults and access."""

from __future__ import annotations

import re

import pytest

from shared.settings import SETTINGS_SPEC
from tests.infra.bicep_tree import INFRA, REPO_ROOT, parse

DEFAULTS = {spec.name: spec.default for spec in SETTINGS_SPEC}


def _deploying_section() -> str:
    readme = (REPO_ROOT / "README.md").read_text()
    return readme[readme.index("## Deploying to Azure") :]


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text)


def test_main_points_to_a_deployment_guide_that_exists():
    assert "docs/deployment.md" in (INFRA / "main.bicep").read_text()
    assert (REPO_ROOT / "docs" / "deployment.md").is_file()


def test_the_deployment_guide_documents_every_parameter():
    guide = (REPO_ROOT / "docs" / "deployment.md").read_text()
    for name in parse("main.bicep")["parameters"]:
        assert f"`{name}`" in guide, f"parameter {name} is not in docs/deployment.md"


def test_storage_access_mode_has_one_default_everywhere():
    assert DEFAULTS["STORAGE_ACCESS_MODE"] == "sas"
    assert parse("main.bicep")["parameters"]["storageAccessMode"]["default"] == "sas"
    assert "readEnvironmentVariable('STORAGE_ACCESS_MODE', 'sas')" in (INFRA / "main.bicepparam").read_text()
    section = _flat(_deploying_section())
    assert "`STORAGE_ACCESS_MODE=sas` is the default in the code, in `infra/main.bicep` and here" in section
    assert "managed-identity (default)" not in section and "(the default here)" not in section


def test_sas_permissions_are_stated_one_way_as_the_code_signs_them():
    readme = _flat((REPO_ROOT / "README.md").read_text())
    code = _flat((REPO_ROOT / "shared" / "storage" / "service_access.py").read_text())
    assert "read on the source blob, write+list on the target container, read+list on the glossary container" in code
    wording = "source blob: read; target container: write+list; glossary container: read+list"
    assert readme.count(wording) == 2  # the architecture notes and the deployment section
    assert "read+list on source" not in readme


def test_the_role_table_names_every_role_the_templates_assign():
    section = _deploying_section()
    for role in (
        "Storage Blob Data Owner",
        "Storage Blob Data Reader",
        "Storage Blob Data Contributor",
        "Storage Blob Delegator",
        "Storage Queue Data Contributor",
        "Storage Table Data Contributor",
        "Cognitive Services User",
        "Monitoring Metrics Publisher",
    ):
        assert f"| {role} |" in section, role
    owner_rows = [line for line in section.splitlines() if "| Storage Blob Data Owner |" in line]
    assert owner_rows and all("| host account |" in row for row in owner_rows)


def test_the_readme_states_what_is_unverified_and_what_options_cost():
    section = _deploying_section()
    assert "### Unverified against a live deployment" in section
    assert "### Private networking (option)" in section and "What stays public" in section
    assert "### Cost drivers" in section and "Private networking" in section.split("### Cost drivers")[1]


def test_the_readme_states_how_language_lists_are_separated_as_the_code_parses_them():
    from shared.settings import parse_languages

    readme = _flat((REPO_ROOT / "README.md").read_text())
    assert "separated by `,` or `;` (`fr;de` is `fr,de`)" in readme
    assert parse_languages("fr;de") == parse_languages("fr,de") == parse_languages(" fr , ;de;fr")
    assert "a space alone does not separate (`fr de` is `InvalidTargetLanguages`)" in readme
    with pytest.raises(ValueError):
        parse_languages("fr de")
