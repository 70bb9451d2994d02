"""List semantics of `GET batches` and `GET batches/{id}/documents`, as the reference pages word them.

Filters (`ids`, `statuses`, `createdDateTimeUtcStart`/`End`), order (`$orderBy`, default
`createdDateTimeUtc desc`), then `$skip` before `$top` (a total across pages), served in pages
of `$maxpagesize` (default 50, 1..100). Every paging parameter is accepted with and without `$`.
The next link carries the remaining `$top` and the advanced `$skip`, so following it continues.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

from devstack.emulator.state import canonical_status

DEFAULT_PAGE_SIZE = 50
MAX_PAGE_SIZE = 100
ORDER_FIELDS = {"createddatetimeutc": "createdDateTimeUtc", "lastactiondatetimeutc": "lastActionDateTimeUtc"}
_PAGING_NAMES = {"top", "skip", "maxpagesize", "orderby"}


class InvalidListQuery(ValueError):
    def __init__(self, parameter: str, message: str):
        super().__init__(message)
        self.parameter = parameter


@dataclass(frozen=True)
class ListQuery:
    top: int | None = None
    skip: int = 0
    page_size: int = DEFAULT_PAGE_SIZE
    order_field: str = "createdDateTimeUtc"
    descending: bool = True
    ids: frozenset[str] | None = None
    statuses: frozenset[str] | None = None
    created_start: datetime | None = None
    created_end: datetime | None = None
    # The spelling the caller used (`$top` or `top`), kept in the next link.
    dollar_prefix: bool = True

    @classmethod
    def parse(cls, params: Sequence[tuple[str, str]]) -> ListQuery:
        values: dict[str, list[str]] = {}
        dollar_prefix = True
        for raw_name, value in params:
            name = raw_name.lower()
            bare = name.lstrip("$")
            if bare in _PAGING_NAMES and not name.startswith("$"):
                dollar_prefix = False
            values.setdefault(bare, []).append(value)
        fields: dict[str, Any] = {"dollar_prefix": dollar_prefix}
        if "top" in values:
            fields["top"] = _non_negative_int("$top", values["top"][-1])
        if "skip" in values:
            fields["skip"] = _non_negative_int("$skip", values["skip"][-1])
        if "maxpagesize" in values:
            page_size = _non_negative_int("$maxpagesize", values["maxpagesize"][-1])
            if not 1 <= page_size <= MAX_PAGE_SIZE:
                raise InvalidListQuery("$maxpagesize", f"$maxpagesize must be between 1 and {MAX_PAGE_SIZE}.")
            fields["page_size"] = page_size
        if "orderby" in values:
            fields["order_field"], fields["descending"] = _order_by(values["orderby"][-1])
        if "ids" in values:
            fields["ids"] = frozenset(item.lower() for item in _split(values["ids"]))
        if "statuses" in values:
            statuses = set()
            for item in _split(values["statuses"]):
                status = canonical_status(item)
                if status is None:
                    raise InvalidListQuery("statuses", f"Unknown status '{item}'.")
                statuses.add(status)
            fields["statuses"] = frozenset(statuses)
        if "createddatetimeutcstart" in values:
            fields["created_start"] = _timestamp("createdDateTimeUtcStart", values["createddatetimeutcstart"][-1])
        if "createddatetimeutcend" in values:
            fields["created_end"] = _timestamp("createdDateTimeUtcEnd", values["createddatetimeutcend"][-1])
        return cls(**fields)

    def select(self, items: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Filtered and ordered, `$skip` applied, then `$top`: every item the pages will hold."""
        chosen = [item for item in items if self._matches(item)]
        # Timestamps are fixed-width UTC strings, so they sort as text; id breaks ties stably.
        chosen.sort(key=lambda item: (item[self.order_field], item["id"]), reverse=self.descending)
        chosen = chosen[self.skip :]
        return chosen if self.top is None else chosen[: self.top]

    def _matches(self, item: dict[str, Any]) -> bool:
        if self.ids is not None and item["id"].lower() not in self.ids:
            return False
        if self.statuses is not None and item["status"] not in self.statuses:
            return False
        if self.created_start is not None or self.created_end is not None:
            created = datetime.fromisoformat(item["createdDateTimeUtc"])
            if self.created_start is not None and created < self.created_start:
                return False
            if self.created_end is not None and created > self.created_end:
                return False
        return True

    def page(
        self, items: list[dict[str, Any]], url_without_query: str, params: Sequence[tuple[str, str]], link_field: str
    ) -> dict[str, Any]:
        """The first page of `items` (already filtered and sliced) and the link to the rest."""
        selected = self.select(items)
        page = selected[: self.page_size]
        body: dict[str, Any] = {"value": page}
        if len(selected) > len(page):
            body[link_field] = self._next_link(url_without_query, params, len(page))
        return body

    def _next_link(self, url_without_query: str, params: Sequence[tuple[str, str]], served: int) -> str:
        kept = [(name, value) for name, value in params if name.lower().lstrip("$") not in ("top", "skip")]
        prefix = "$" if self.dollar_prefix else ""
        kept.append((prefix + "skip", str(self.skip + served)))
        if self.top is not None:
            kept.append((prefix + "top", str(self.top - served)))
        query = "&".join(f"{quote(name, safe='$')}={quote(value, safe=',:')}" for name, value in kept)
        return f"{url_without_query}?{query}"


def _split(values: list[str]) -> list[str]:
    """`a,b` and repeated parameters alike."""
    return [item.strip() for value in values for item in value.split(",") if item.strip()]


def _non_negative_int(name: str, value: str) -> int:
    try:
        number = int(value.strip())
    except ValueError as exc:
        raise InvalidListQuery(name, f"{name} must be an integer, got '{value}'.") from exc
    if number < 0:
        raise InvalidListQuery(name, f"{name} cannot be negative.")
    if number > 2**31 - 1:
        raise InvalidListQuery(name, f"{name} is out of range.")
    return number


def _order_by(value: str) -> tuple[str, bool]:
    words = value.split()
    if not words or len(words) > 2 or words[0].lower() not in ORDER_FIELDS:
        raise InvalidListQuery(
            "$orderBy", "$orderBy must be 'createdDateTimeUtc asc|desc' or 'lastActionDateTimeUtc asc|desc'."
        )
    direction = words[1].lower() if len(words) == 2 else "desc"
    if direction not in ("asc", "desc"):
        raise InvalidListQuery("$orderBy", f"Unknown sort direction '{words[1]}'.")
    return ORDER_FIELDS[words[0].lower()], direction == "desc"


def _timestamp(name: str, value: str) -> datetime:
    # An unencoded `+00:00` arrives as ` 00:00` (form decoding); put the plus back.
    text = value.strip().replace(" ", "+")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError as exc:
        raise InvalidListQuery(name, f"{name} must be an ISO 8601 date-time, got '{value}'.") from exc
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
