"""The `local.settings.json` convention of Functions Core Tools, for the tools that run beside the
app on a developer's machine (the local stack, the operator tool). Never read in Azure, where the
settings are the app's environment.

Its "Values" become environment variables; variables already set win. Without the file, the
sample (`local.settings.sample.json`) is read, so a fresh clone runs.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Mapping, MutableMapping
from pathlib import Path

logger = logging.getLogger(__name__)

LOCAL_SETTINGS_FILES = ("local.settings.json", "local.settings.sample.json")
# The function app's directory: function_app.py and these files sit beside the `shared` package.
APP_DIR = Path(__file__).resolve().parents[1]


class LocalSettingsError(ValueError):
    """local.settings.json cannot be read; the message names the file and what is wrong."""


def load_local_settings(project_dir: Path, environ: MutableMapping[str, str] | None = None) -> Path | None:
    """Copies "Values" of local.settings.json (else the sample) into `environ`; existing variables win.

    Returns the file read, or None when there is neither.
    """
    environ = os.environ if environ is None else environ
    for file_name in LOCAL_SETTINGS_FILES:
        path = project_dir / file_name
        if not path.exists():
            continue
        try:
            document = json.loads(path.read_text(encoding="utf-8"))
        except json.JSONDecodeError as exc:
            raise LocalSettingsError(f"{path} is not valid JSON: {exc}") from exc
        values = document.get("Values") or {}
        if not isinstance(values, dict):
            raise LocalSettingsError(f'{path}: "Values" must be an object of setting names to strings')
        for name, value in values.items():
            if name not in environ:
                environ[name] = "" if value is None else str(value)
        logger.info("loaded %d settings from %s (environment variables take precedence)", len(values), path)
        return path
    logger.warning("neither %s found in %s: settings come from the environment only", LOCAL_SETTINGS_FILES, project_dir)
    return None


def merged_environment(
    overrides: Mapping[str, str], base: Mapping[str, str], project_dir: Path = APP_DIR
) -> dict[str, str]:
    """`base` (the process environment wins, as with Core Tools), then local.settings.json or the
    sample for what `base` lacks, then `overrides`."""
    values = dict(base)
    load_local_settings(project_dir, values)
    values.update(overrides)
    return values
