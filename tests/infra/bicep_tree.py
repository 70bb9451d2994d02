"""Reading parsed Bicep (pycep-parser's JSON tree) the way a reviewer reads the templates.

pycep renders a symbol reference and a string literal alike (`location` and `'location'` both
become "location"), so `resolve` treats a string that names a declared symbol as a reference.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

from pycep import BicepParser

REPO_ROOT = Path(__file__).resolve().parents[2]
INFRA = REPO_ROOT / "infra"

_INTERPOLATION = re.compile(r"\$\{([^}]*)\}")


@cache
def parse(relative_path: str) -> dict[str, Any]:
    """The parsed template at infra/<relative_path>."""
    return BicepParser().parse(file_path=INFRA / relative_path)


def bicep_files() -> list[Path]:
    return sorted(INFRA.rglob("*.bicep"))


@dataclass(frozen=True)
class Resource:
    symbol: str
    type: str
    api_version: str
    existing: bool
    body: dict[str, Any]  # the object after any loop or condition
    condition: Any  # the `if (...)` expression, None when unconditional
    loop: dict[str, Any] | None  # pycep's loop_type, None when not a loop


def _unwrap(config: dict[str, Any]) -> tuple[dict[str, Any], Any, dict[str, Any] | None]:
    condition = None
    loop = None
    while isinstance(config, dict) and "config" in config and ("loop_type" in config or "condition" in config):
        if config.get("loop_type") is not None:
            loop = config["loop_type"]
        if config.get("condition") is not None:
            condition = config["condition"]
        config = config["config"]
    return config, condition, loop


def resources(
    tree: dict[str, Any], resource_type: str | None = None, *, existing: bool | None = False
) -> list[Resource]:
    """Resources declared in a template, optionally of one type; `existing=None` includes both kinds."""
    found = []
    for symbol, resource in tree.get("resources", {}).items():
        if resource_type is not None and resource["type"].lower() != resource_type.lower():
            continue
        if existing is not None and resource["existing"] != existing:
            continue
        body, condition, loop = _unwrap(resource["config"])
        found.append(
            Resource(symbol, resource["type"], resource["api_version"], resource["existing"], body, condition, loop)
        )
    return found


def single(tree: dict[str, Any], resource_type: str) -> Resource:
    matches = resources(tree, resource_type)
    assert len(matches) == 1, f"expected exactly one {resource_type}, found {[m.symbol for m in matches]}"
    return matches[0]


def module_params(tree: dict[str, Any], symbol: str) -> dict[str, Any]:
    config, _, _ = _unwrap(tree["modules"][symbol]["config"])
    return config.get("params", {})


def dotted(expression: Any) -> str | None:
    """`a.b.c` / `a::b.c` for property and nested-resource accessors; the name for a bare reference."""
    if isinstance(expression, str):
        return expression
    operator = expression.get("operator") if isinstance(expression, dict) else None
    if not operator or operator["type"] not in ("property_accessor", "nested_resource_accessor"):
        return None
    left = dotted(operator["operands"]["operand_1"])
    right = dotted(operator["operands"]["operand_2"])
    if left is None or right is None:
        return None
    joiner = "." if operator["type"] == "property_accessor" else "::"
    return f"{left}{joiner}{right}"


def function_call(expression: Any, name: str) -> dict[str, Any] | None:
    """The parameters of a call to pycep function type `name` (e.g. 'guid', 'union'), else None."""
    if isinstance(expression, dict) and isinstance(expression.get("function"), dict):
        if expression["function"]["type"] == name:
            return expression["function"]["parameters"]
    return None


@dataclass(frozen=True)
class ParamRef:
    name: str


def resolve(tree: dict[str, Any], expression: Any) -> Any:
    """Follows variable references and `${...}` interpolations to literals where the template fixes them.

    A template parameter comes back as ParamRef; anything else unresolvable comes back unchanged.
    """
    variables = tree.get("variables", {})
    parameters = tree.get("parameters", {})
    if isinstance(expression, list):
        return [resolve(tree, item) for item in expression]
    path = dotted(expression)
    if path is None:
        return expression
    if "${" in path:

        def substitute(match: re.Match[str]) -> str:
            value = resolve(tree, match.group(1))
            return value if isinstance(value, str) else match.group(0)

        return _INTERPOLATION.sub(substitute, path)
    head, _, rest = path.partition(".")
    if head in variables:
        value = variables[head]["value"]
        for key in rest.split(".") if rest else []:
            if not isinstance(value, dict) or key not in value:
                return expression
            value = value[key]
        return resolve(tree, value)
    if head in parameters and not rest:
        return ParamRef(head)
    return expression


def walk(node: Any):
    """Every nested value of a parsed tree, depth first."""
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from walk(value)


def strings(node: Any) -> list[str]:
    return [value for value in walk(node) if isinstance(value, str)]
