"""Reading the first entities of a range query, page by page, without reading past what is asked."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from azure.data.tables import TableClient

T = TypeVar("T")

# A query page holds at most this many entities (SERVICE_NOTES.md).
MAX_PAGE = 1000


def first_of(table: TableClient, query: str, limit: int | None, decode: Callable[[Any], T]) -> list[T]:
    """At most `limit` (None: all) entities the query returns, in its order, decoded; pages sized to
    the limit."""
    found: list[T] = []
    for entity in table.query_entities(query, results_per_page=min(limit or MAX_PAGE, MAX_PAGE)):
        found.append(decode(entity))
        if limit is not None and len(found) >= limit:
            break
    return found
