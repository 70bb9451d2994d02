"""Read the functions an app object declares, as the Functions worker does when it indexes.

`FunctionApp.get_functions()` refuses to run twice on one app object (the second indexing
sees its own functions as duplicates), so everything that reads an app - the local host, the
tests, the infra checks - reads it through here.
"""

from __future__ import annotations

import json
import weakref
from typing import Any

_INDEX: weakref.WeakKeyDictionary[Any, list[Any]] = weakref.WeakKeyDictionary()


def declared_functions(app: Any) -> list[Any]:
    if app not in _INDEX:
        _INDEX[app] = list(app.get_functions())
    return _INDEX[app]


def function_bindings(app: Any) -> dict[str, list[dict[str, Any]]]:
    """Function name -> its bindings, exactly as the function JSON gives them."""
    return {fn.get_function_name(): json.loads(fn.get_function_json())["bindings"] for fn in declared_functions(app)}
