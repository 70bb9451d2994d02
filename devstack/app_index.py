"""Read the functions an app object declares, as the Functions worker does when it indexes.

`FunctionApp.get_functions()` refuses to run twice on one app object (it takes the second
indexing for duplicate names), so everything that reads an app - the local host, the tests,
the infra checks - reads it through here.
"""

from __future__ import annotations

import json
from typing import Any

import azure.functions as func

_INDEX_ATTRIBUTE = "_devstack_indexed_functions"


def declared_functions(app: func.FunctionApp) -> list[Any]:
    functions = getattr(app, _INDEX_ATTRIBUTE, None)
    if functions is None:
        functions = app.get_functions()
        setattr(app, _INDEX_ATTRIBUTE, functions)
    return functions


def function_bindings(app: func.FunctionApp) -> dict[str, list[dict[str, Any]]]:
    """Function name -> its bindings, exactly as the function JSON gives them."""
    return {fn.get_function_name(): json.loads(fn.get_function_json())["bindings"] for fn in declared_functions(app)}
