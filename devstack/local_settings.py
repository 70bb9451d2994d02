"""The app settings the local stack runs with: local.settings.json, else the committed sample."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent


def settings_file(project_dir: Path = PROJECT_ROOT) -> Path:
    own = project_dir / "local.settings.json"
    return own if own.exists() else project_dir / "local.settings.sample.json"


def load_values(project_dir: Path = PROJECT_ROOT) -> dict[str, str]:
    """The `Values` of the settings file, as strings."""
    path = settings_file(project_dir)
    data = json.loads(path.read_text(encoding="utf-8"))
    return {str(name): "" if value is None else str(value) for name, value in data.get("Values", {}).items()}


def merged_environment(
    overrides: Mapping[str, str], base: Mapping[str, str], project_dir: Path = PROJECT_ROOT
) -> dict[str, str]:
    """Settings file values, then `base` (the process environment wins, as with Core Tools), then overrides."""
    values = load_values(project_dir)
    values.update(base)
    values.update(overrides)
    return values
