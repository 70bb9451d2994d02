"""Type-checks resource bodies of parsed Bicep against the Azure type definitions, as the compiler does.

The definitions (tests/infra/azure_types/, see its README) are the bicep-types-az format: a JSON array
per namespace and api-version whose elements refer to each other by index. For every declared
resource the checker reports: an unknown type or api-version, a property the body's type does not
declare (free-form objects and discriminated unions respected), a literal that does not fit its
declared type (string literal unions, string length and pattern, integer ranges, booleans, arrays;
stricter than the compiler, a literal in an extensible enum must be one of its listed values),
a read-only property that is set, and a required property that is missing. A value that is an
expression (a parameter, a variable, a function call other than union/concat, a reference) ends the
check of that value: its type is only known when Azure evaluates it.

pycep renders a symbol reference and a string literal alike (`location` and `'location'` both become
"location"), so a string that names a declared symbol or loop variable counts as an expression.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

TYPES_DIR = Path(__file__).resolve().parent / "azure_types"

REQUIRED, READ_ONLY = 1, 2
RESOURCE_GROUP_SCOPE, EXTENSION_SCOPE = 8, 16
# Keys Bicep adds to a resource body; the compiler handles them before the body reaches its type.
BICEP_KEYWORDS = {"parent", "scope", "dependsOn"}


@dataclass(frozen=True)
class Problem:
    where: str
    message: str

    def __str__(self) -> str:
        return f"{self.where}: {self.message}"


class TypeLibrary:
    """Every types.json under a folder, indexed by lower-case 'namespace/type@api-version'."""

    def __init__(self, root: Path = TYPES_DIR):
        self._resources: dict[str, tuple[list[dict[str, Any]], dict[str, Any]]] = {}
        for path in sorted(root.rglob("types.json")):
            elements = json.loads(path.read_text())
            for element in elements:
                if element.get("$type") == "ResourceType":
                    self._resources[element["name"].lower()] = (elements, element)

    def resource(self, resource_type: str, api_version: str) -> tuple[list[dict[str, Any]], dict[str, Any]] | None:
        return self._resources.get(f"{resource_type}@{api_version}".lower())

    def api_versions(self, resource_type: str) -> list[str]:
        prefix = f"{resource_type.lower()}@"
        return sorted(name.split("@", 1)[1] for name in self._resources if name.startswith(prefix))


@cache
def library() -> TypeLibrary:
    return TypeLibrary()


def _symbols(tree: dict[str, Any]) -> frozenset[str]:
    names: set[str] = set()
    for section in ("parameters", "variables", "resources", "modules", "outputs"):
        names.update(tree.get(section, {}))
    for node in _walk(tree):
        if isinstance(node, dict) and isinstance(node.get("loop_type"), dict):
            detail = node["loop_type"].get("detail") or {}
            names.update(value for value in detail.values() if isinstance(value, str))
    # pycep names a nested resource a::b as a__b.
    names.update(name.split("__")[0] for name in tree.get("resources", {}))
    return frozenset(names)


def _expression_node(value: dict[str, Any]) -> str | None:
    """'operator' or 'function' when pycep's dict is an expression node, not an object literal."""
    if len(value) == 1:
        ((key, inner),) = value.items()
        if key in ("operator", "function") and isinstance(inner, dict) and "type" in inner:
            return key
    return None


def _walk(node: Any) -> Iterator[Any]:
    yield node
    if isinstance(node, dict):
        for value in node.values():
            yield from _walk(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk(value)


class _Checker:
    def __init__(self, elements: list[dict[str, Any]], symbols: frozenset[str]):
        self._elements = elements
        self._symbols = symbols

    def type_of(self, reference: dict[str, str]) -> dict[str, Any]:
        return self._elements[int(reference["$ref"].removeprefix("#/"))]

    def _is_expression_string(self, value: str) -> bool:
        return "${" in value or value in self._symbols

    def check(self, value: Any, type_ref: dict[str, str], where: str, *, partial: bool = False) -> list[Problem]:
        expected = self.type_of(type_ref)
        kind = expected["$type"]
        if kind == "AnyType" or value is None:
            return []
        if isinstance(value, dict):
            if "loop_type" in value and "config" in value:  # [for x in xs: item]
                if kind != "ArrayType":
                    return [Problem(where, f"a for-expression (array) where {_describe(self, expected)} is expected")]
                return self.check(value["config"], expected["itemType"], f"{where}[*]")
            node = _expression_node(value)
            if node == "operator":
                return self._check_operator(value["operator"], type_ref, where, partial=partial)
            if node == "function":
                return self._check_function(value["function"], type_ref, where)
        if kind == "UnionType":
            return self._check_union(value, expected, where, partial=partial)
        if kind == "StringLiteralType":
            if isinstance(value, str) and self._is_expression_string(value):
                return []
            if value != expected["value"]:
                return [Problem(where, f"{value!r} is not {expected['value']!r}")]
            return []
        if kind == "StringType":
            return self._check_string(value, expected, where)
        if kind == "IntegerType":
            return self._check_integer(value, expected, where)
        if kind == "BooleanType":
            if isinstance(value, bool) or (isinstance(value, str) and self._is_expression_string(value)):
                return []
            return [Problem(where, f"{value!r} is not a boolean")]
        if kind == "ArrayType":
            return self._check_array(value, expected, where)
        if kind == "ObjectType":
            return self._check_object(value, expected, where, partial=partial)
        if kind == "DiscriminatedObjectType":
            return self._check_discriminated(value, expected, where, partial=partial)
        return []  # ResourceFunctionType and anything newer: nothing literal to check

    def _check_operator(self, operator: dict[str, Any], type_ref, where: str, *, partial: bool) -> list[Problem]:
        operands = operator.get("operands") or {}
        if operator.get("type") == "conditional":  # a ? b : c -- both branches must fit
            return self.check(operands.get("true_value"), type_ref, where, partial=partial) + self.check(
                operands.get("false_value"), type_ref, where, partial=partial
            )
        if operator.get("type") == "minus" and isinstance(operands.get("integer_value"), int):
            return self.check(-operands["integer_value"], type_ref, where, partial=partial)
        return []

    def _check_function(self, function: dict[str, Any], type_ref, where: str) -> list[Problem]:
        # union() of objects and concat() of arrays: each literal argument is part of the value.
        arguments = list((function.get("parameters") or {}).values())
        if function.get("type") == "union":
            return [
                problem
                for argument in arguments
                if isinstance(argument, dict) and _expression_node(argument) is None
                for problem in self.check(argument, type_ref, where, partial=True)
            ]
        if function.get("type") == "concat":
            return [
                problem
                for argument in arguments
                if isinstance(argument, list)
                for problem in self.check(argument, type_ref, where)
            ]
        return []

    def _check_union(self, value: Any, expected: dict[str, Any], where: str, *, partial: bool) -> list[Problem]:
        if isinstance(value, str) and self._is_expression_string(value):
            return []
        literals = [
            self.type_of(element)["value"]
            for element in expected["elements"]
            if self.type_of(element)["$type"] == "StringLiteralType"
        ]
        # Stricter than the compiler: an extensible enum (literals | string) still takes only its
        # listed values from a literal, so a misspelled SKU or mode is caught before Azure sees it.
        if literals and isinstance(value, str):
            return [] if value in literals else [Problem(where, f"{value!r} is not one of {literals}")]
        options = [self.check(value, element, where, partial=partial) for element in expected["elements"]]
        if any(not problems for problems in options):
            return []
        return min(options, key=len)

    def _check_string(self, value: Any, expected: dict[str, Any], where: str) -> list[Problem]:
        if not isinstance(value, str):
            return [Problem(where, f"{value!r} is not a string")]
        if self._is_expression_string(value):
            return []
        problems = []
        if "minLength" in expected and len(value) < expected["minLength"]:
            problems.append(Problem(where, f"{value!r} is shorter than {expected['minLength']}"))
        if "maxLength" in expected and len(value) > expected["maxLength"]:
            problems.append(Problem(where, f"{value!r} is longer than {expected['maxLength']}"))
        pattern = expected.get("pattern")
        if pattern:
            try:
                compiled = re.compile(pattern)
            except re.error:  # a .NET-only construct: the compiler's job, not ours
                compiled = None
            if compiled is not None and not compiled.search(value):
                problems.append(Problem(where, f"{value!r} does not match {pattern!r}"))
        return problems

    def _check_integer(self, value: Any, expected: dict[str, Any], where: str) -> list[Problem]:
        if isinstance(value, str) and self._is_expression_string(value):
            return []
        if isinstance(value, bool) or not isinstance(value, int):
            return [Problem(where, f"{value!r} is not an integer")]
        if "minValue" in expected and value < expected["minValue"]:
            return [Problem(where, f"{value} is below the minimum {expected['minValue']}")]
        if "maxValue" in expected and value > expected["maxValue"]:
            return [Problem(where, f"{value} is above the maximum {expected['maxValue']}")]
        return []

    def _check_array(self, value: Any, expected: dict[str, Any], where: str) -> list[Problem]:
        if isinstance(value, str) and self._is_expression_string(value):
            return []
        if not isinstance(value, list):
            return [Problem(where, f"{value!r} is not an array")]
        problems = []
        if "minLength" in expected and len(value) < expected["minLength"]:
            problems.append(Problem(where, f"needs at least {expected['minLength']} items"))
        if "maxLength" in expected and len(value) > expected["maxLength"]:
            problems.append(Problem(where, f"allows at most {expected['maxLength']} items"))
        for index, item in enumerate(value):
            problems += self.check(item, expected["itemType"], f"{where}[{index}]")
        return problems

    def _check_properties(
        self,
        value: dict[str, Any],
        properties: dict[str, Any],
        additional: dict[str, str] | None,
        where: str,
        *,
        partial: bool,
        skip: set[str] = frozenset(),  # type: ignore[assignment]
    ) -> list[Problem]:
        problems = []
        present = set()
        for raw_key, item in value.items():
            key = raw_key.strip("'")
            if key in skip:
                continue
            present.add(key)
            if "${" in key:  # a computed key: only a free-form object can take it
                if additional is not None:
                    problems += self.check(item, additional, f"{where}[{key}]")
                continue
            declared = properties.get(key)
            if declared is None:
                if additional is not None:
                    problems += self.check(item, additional, f"{where}.{key}")
                    continue
                near = [name for name in properties if name.lower() == key.lower()]
                hint = f" (the type spells it {near[0]!r})" if near else ""
                problems.append(Problem(f"{where}.{key}", f"no such property{hint}; known: {sorted(properties)}"))
                continue
            if declared.get("flags", 0) & READ_ONLY:
                problems.append(Problem(f"{where}.{key}", "is read-only: Azure sets it, a template cannot"))
                continue
            problems += self.check(item, declared["type"], f"{where}.{key}")
        if not partial:
            for name, declared in properties.items():
                flags = declared.get("flags", 0)
                if flags & REQUIRED and not flags & READ_ONLY and name not in present:
                    problems.append(Problem(f"{where}.{name}", "is required and missing"))
        return problems

    def _check_object(self, value: Any, expected: dict[str, Any], where: str, *, partial: bool) -> list[Problem]:
        if isinstance(value, str) and self._is_expression_string(value):
            return []
        if not isinstance(value, dict):
            return [Problem(where, f"{value!r} is not an object")]
        return self._check_properties(
            value, expected.get("properties", {}), expected.get("additionalProperties"), where, partial=partial
        )

    def _check_discriminated(self, value: Any, expected: dict[str, Any], where: str, *, partial: bool) -> list[Problem]:
        if isinstance(value, str) and self._is_expression_string(value):
            return []
        if not isinstance(value, dict):
            return [Problem(where, f"{value!r} is not an object")]
        discriminator = expected["discriminator"]
        chosen = next((item for key, item in value.items() if key.strip("'") == discriminator), None)
        base = dict(expected.get("baseProperties", {}))
        elements = expected["elements"]
        if isinstance(chosen, str) and not self._is_expression_string(chosen):
            if chosen not in elements:
                return [Problem(f"{where}.{discriminator}", f"{chosen!r} is not one of {sorted(elements)}")]
            variant = self.type_of(elements[chosen])
            properties = {**base, **variant.get("properties", {})}
            return self._check_properties(
                value, properties, variant.get("additionalProperties"), where, partial=partial
            )
        # The variant is only known at deployment: a key must exist in some variant.
        properties = dict(base)
        for element in elements.values():
            properties.update(self.type_of(element).get("properties", {}))
        return self._check_properties(value, properties, None, where, partial=True)


def check_resources(tree: dict[str, Any], resources: list[Any], types: TypeLibrary | None = None) -> list[Problem]:
    """Problems of the given resources (bicep_tree.Resource) of one parsed template."""
    types = types or library()
    symbols = _symbols(tree)
    problems: list[Problem] = []
    for resource in resources:
        where = f"{resource.symbol} ({resource.type}@{resource.api_version})"
        found = types.resource(resource.type, resource.api_version)
        if found is None:
            known = types.api_versions(resource.type)
            problems.append(
                Problem(where, f"no such resource type at this api-version (known here: {known or 'none'})")
            )
            continue
        elements, declaration = found
        if resource.existing:
            if not declaration.get("readableScopes"):
                problems.append(Problem(where, "cannot be read as an existing resource"))
            continue
        scopes = declaration.get("writableScopes", 0)
        needed = EXTENSION_SCOPE if "scope" in resource.body else RESOURCE_GROUP_SCOPE
        if not scopes & needed:
            problems.append(Problem(where, "cannot be deployed at this scope"))
        checker = _Checker(elements, symbols)
        body_type = declaration["body"]
        problems += _check_body(checker, resource.body, body_type, where)
    return problems


def _check_body(checker: _Checker, body: dict[str, Any], body_type, where: str) -> list[Problem]:
    expected = checker.type_of(body_type)
    if expected["$type"] == "DiscriminatedObjectType":
        trimmed = {key: value for key, value in body.items() if key not in BICEP_KEYWORDS}
        return checker.check(trimmed, body_type, where)
    return checker._check_properties(
        body,
        expected.get("properties", {}),
        expected.get("additionalProperties"),
        where,
        partial=False,
        skip=BICEP_KEYWORDS,
    )


def _describe(checker: _Checker, expected: dict[str, Any]) -> str:
    return expected.get("name") or expected["$type"]
