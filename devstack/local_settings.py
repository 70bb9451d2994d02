"""The app settings the local stack runs with, read the way the local host reads them."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from devstack.azurite import PROJECT_ROOT
from devstack.host.config import load_local_settings


def merged_environment(
    overrides: Mapping[str, str], base: Mapping[str, str], project_dir: Path = PROJECT_ROOT
) -> dict[str, str]:
    """`base` (the process environment wins, as with Core Tools), then local.settings.json or the
    sample for what `base` lacks, then `overrides`."""
    values = dict(base)
    load_local_settings(project_dir, values)
    values.update(overrides)
    return values
