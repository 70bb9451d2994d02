"""The functions function_app.py declares, with their bindings, as the Functions host indexes them."""

from __future__ import annotations

from typing import Any

from devstack.app_index import function_bindings


def declared_functions() -> dict[str, list[dict[str, Any]]]:
    import function_app

    return function_bindings(function_app.app)
