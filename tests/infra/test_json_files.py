"""Every JSON file of the project says each key once, and the sample settings are the documented defaults.

`json.loads` keeps the last of two equal keys without a word: a sample settings file that held
`CATCH_UP_SCHEDULE` twice ran the catch-up every 30 s locally while the first line read 10 minutes.
"""

from __future__ import annotations

import json
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from shared.settings import SETTINGS_SPEC
from tests.infra.bicep_tree import INFRA, REPO_ROOT

# The sample points the app at the local stack (Azurite, the emulator) instead of the defaults.
SAMPLE_LOCAL_VALUES = {"TRANSLATOR_ENDPOINT", "TRANSLATOR_KEY"}


class DuplicateKeyError(ValueError):
    pass


def _refuse_duplicates(pairs: list[tuple[str, object]]) -> dict[str, object]:
    twice = sorted(key for key, count in Counter(key for key, _ in pairs).items() if count > 1)
    if twice:
        raise DuplicateKeyError(f"keys given more than once: {', '.join(twice)}")
    return dict(pairs)


def load_strict(text: str) -> object:
    """The document, refusing an object that names a key twice (json.loads keeps the last one silently)."""
    return json.loads(text, object_pairs_hook=_refuse_duplicates)


def _project_files(*patterns: str) -> list[Path]:
    """Tracked files, and new ones not yet added (not those .gitignore leaves out, e.g. node_modules/)."""
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z", "--", *patterns],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return sorted(REPO_ROOT / name for name in listed.split("\0") if name and "node_modules/" not in name)


JSON_FILES = _project_files("*.json")


def test_the_listing_finds_the_projects_json_files():
    names = {path.relative_to(REPO_ROOT).as_posix() for path in JSON_FILES}
    expected = {"host.json", "local.settings.sample.json", "package-lock.json", "infra/bicepconfig.json"}
    assert expected <= names
    assert "infra/workbooks/translation.workbook.json" in names


@pytest.mark.parametrize("path", JSON_FILES, ids=lambda path: path.relative_to(REPO_ROOT).as_posix())
def test_json_file_names_each_key_once(path: Path):
    try:
        load_strict(path.read_text(encoding="utf-8"))
    except DuplicateKeyError as error:
        pytest.fail(f"{path.relative_to(REPO_ROOT)}: {error}")


def test_duplicate_keys_are_refused_at_any_depth():
    with pytest.raises(DuplicateKeyError, match="CATCH_UP_SCHEDULE"):
        load_strict('{"Values": {"CATCH_UP_SCHEDULE": "0 */10 * * * *", "CATCH_UP_SCHEDULE": "*/30 * * * * *"}}')
    assert load_strict('[{"a": 1}, {"a": 2}]') == [{"a": 1}, {"a": 2}]


def test_each_bicepparam_file_assigns_each_parameter_once():
    for path in _project_files("*.bicepparam"):
        names = re.findall(r"^param\s+(\w+)", path.read_text(), flags=re.MULTILINE)
        assert names, f"{path.relative_to(REPO_ROOT)} assigns no parameter"
        twice = sorted(name for name, count in Counter(names).items() if count > 1)
        assert twice == [], f"{path.relative_to(REPO_ROOT)} assigns these more than once"
    assert (INFRA / "main.bicepparam") in _project_files("*.bicepparam")


def test_the_sample_settings_are_the_documented_defaults():
    """The README's settings table and SETTINGS_SPEC give the defaults; the sample runs with them locally."""
    sample = load_strict((REPO_ROOT / "local.settings.sample.json").read_text())
    assert isinstance(sample, dict)
    values = sample["Values"]
    differing = {
        spec.name: (values.get(spec.name), spec.default)
        for spec in SETTINGS_SPEC
        if spec.default is not None and spec.name not in SAMPLE_LOCAL_VALUES and values.get(spec.name) != spec.default
    }
    assert differing == {}, "sample value, default"
