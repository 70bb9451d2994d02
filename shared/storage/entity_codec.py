"""Dataclasses <-> Table Storage entities.

Each field is a column named in CamelCase (`source_name` -> `SourceName`). Lists, dicts and nested
dataclasses are stored as JSON text, enums as their value, a text longer than a property holds is
cut (saying so), and an integer beyond Int32 is an Edm.Int64. A JSON field that may outgrow one
property (a submission's members) is spread over `Name`, `Name_1`, `Name_2`... Tables store no
nulls: an absent column reads back as the field's default.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import MISSING, asdict, dataclass, field, fields
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any, Generic, TypeVar

from azure.data.tables import EdmType, EntityProperty

from shared.text import cut

# A string property holds at most 64 KiB (32K UTF-16 units); keep a margin for the JSON escaping.
MAX_TEXT_LENGTH = 30_000
R = TypeVar("R")


def column(name: str) -> str:
    return "".join(part.capitalize() for part in name.split("_"))


def json_text(value: Any) -> str:
    return json.dumps(value, default=_json_default, separators=(",", ":"), ensure_ascii=False)


def _json_default(value: Any) -> Any:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"not JSON serialisable: {type(value).__name__}")


def utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


@dataclass(frozen=True)
class Codec(Generic[R]):
    """How one dataclass is stored. `items` rebuilds the elements of a JSON list field (dicts ->
    dataclasses), or a JSON object field as one dataclass; `spread` names JSON fields that may pass
    one property; `former_columns` maps a field to the column an earlier release wrote it under,
    still read (records outlive deployments)."""

    cls: type[R]
    json_fields: frozenset[str] = frozenset()
    enums: Mapping[str, type[StrEnum]] = field(default_factory=dict)
    items: Mapping[str, Callable[[Any], Any]] = field(default_factory=dict)
    spread: frozenset[str] = frozenset()
    former_columns: Mapping[str, str] = field(default_factory=dict)
    # The field the row key holds (not stored again as a column); the caller passes it back.
    row_field: str | None = None
    # Properties computed from the fields, written as columns for the table's readers (queries,
    # scripts) and never read back: a row stored when they were fields reads back the same.
    derived: frozenset[str] = frozenset()

    def column(self, name: str) -> str:
        """The column a field is written under: a hand-made partial write names its columns by
        this, so that renaming the field cannot leave it writing one nobody reads."""
        if name not in {item.name for item in fields(self.cls)}:  # type: ignore[arg-type]
            raise ValueError(f"{self.cls.__name__} has no field {name!r}")
        return column(name)

    @property
    def _skipped(self) -> tuple[str | None, str]:
        return (self.row_field, "etag")

    def to_entity(self, partition: str, row: str, record: R) -> dict[str, Any]:
        entity: dict[str, Any] = {"PartitionKey": partition, "RowKey": row}
        for item in fields(self.cls):  # type: ignore[arg-type]
            if item.name in self._skipped:
                continue
            value = getattr(record, item.name)
            name = column(item.name)
            if item.name in self.json_fields:
                text = json_text(value)
                if item.name in self.spread:
                    for index, start in enumerate(range(0, max(len(text), 1), MAX_TEXT_LENGTH)):
                        entity[name if index == 0 else f"{name}_{index}"] = text[start : start + MAX_TEXT_LENGTH]
                    continue
                value = text
            if value is None:
                continue
            if isinstance(value, StrEnum):
                value = value.value
            if isinstance(value, str):
                value = cut(value, MAX_TEXT_LENGTH)
            elif isinstance(value, int) and not isinstance(value, bool) and not -(2**31) <= value < 2**31:
                # A plain int is an Edm.Int32 to the SDK (it refuses larger ones): a 3 GB drop's length.
                value = EntityProperty(value, EdmType.INT64)
            entity[name] = value
        for name in sorted(self.derived):
            entity[column(name)] = getattr(record, name)
        return entity

    def from_entity(self, entity: Mapping[str, Any], **known: Any) -> R:
        """The dataclass an entity holds; `known` fills fields the keys carry (the record key)."""
        values: dict[str, Any] = dict(known)
        for item in fields(self.cls):  # type: ignore[arg-type]
            if item.name in self._skipped or item.name in values:
                continue
            name = column(item.name)
            if name not in entity and item.name in self.former_columns:
                name = self.former_columns[item.name]
            if name not in entity:
                if item.default is MISSING and item.default_factory is MISSING:
                    values[item.name] = None
                continue
            value = entity[name]
            if isinstance(value, EntityProperty):
                value = value.value
            if item.name in self.spread:
                index = 1
                while f"{name}_{index}" in entity:
                    value += entity[f"{name}_{index}"]
                    index += 1
            if item.name in self.json_fields and isinstance(value, str):
                value = json.loads(value)
                rebuild = self.items.get(item.name)
                if rebuild is not None and isinstance(value, list):
                    value = [rebuild(element) for element in value]
                elif rebuild is not None and isinstance(value, dict):
                    value = rebuild(value)  # one nested dataclass
            elif item.name in self.enums and isinstance(value, str):
                value = self.enums[item.name](value)
            elif isinstance(value, datetime):
                value = utc(value)
            values[item.name] = value
        record = self.cls(**values)
        if hasattr(record, "etag"):
            metadata = getattr(entity, "metadata", None)
            record.etag = metadata.get("etag") if metadata else None
        return record
