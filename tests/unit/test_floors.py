"""Which part of the code may import which: the floors do not lean on each other."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]


def imported_modules(path: Path) -> set[str]:
    """Every module a file imports, at run time or for type checking alone."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def files(folder: str) -> list[Path]:
    return sorted((ROOT / folder).rglob("*.py"))


@pytest.mark.parametrize(
    ("folder", "forbidden"),
    [
        ("translation_ops", "devstack"),
        ("devstack", "translation_ops"),
        ("shared", "devstack"),
        ("shared", "translation_ops"),
    ],
)
def test_a_floor_does_not_import_another_tool(folder, forbidden):
    leaning = {
        str(path.relative_to(ROOT)): sorted(name for name in imported_modules(path) if name.split(".")[0] == forbidden)
        for path in files(folder)
    }
    assert {path: names for path, names in leaning.items() if names} == {}


def test_the_translator_client_depends_on_nothing_else_of_the_app_but_redaction():
    allowed = ("shared.translator", "shared.redaction")
    leaning = {
        str(path.relative_to(ROOT)): sorted(
            name
            for name in imported_modules(path)
            if name.startswith("shared") and not name.startswith(allowed) and name != "shared"
        )
        for path in files("shared/translator")
    }
    assert {path: names for path, names in leaning.items() if names} == {}


def test_the_settings_use_only_the_translator_package_surface():
    names = imported_modules(ROOT / "shared" / "settings.py")
    assert not {name for name in names if name.startswith("shared.translator.")} - {"shared.translator.API_VERSIONS"}
