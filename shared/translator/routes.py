"""URLs and query strings of the three route flavours the service answers on.

- "2026-03-01" (current) and "2024-05-01" (GA 2024): `{endpoint}/translator/document/...?api-version=V`,
  list queries without `$` (top, skip, maxpagesize, orderby), next page in `nextLink`.
- "v1.1" (legacy): `{endpoint}/translator/text/batch/v1.1/...`, no api-version, list queries with `$`
  ($top, $skip, $maxpagesize, $orderBy), next page in `@nextLink`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypedDict
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

DEFAULT_API_VERSION = "2026-03-01"
LEGACY_API_VERSION = "v1.1"
API_VERSIONS = ("2026-03-01", "2024-05-01", LEGACY_API_VERSION)

# Both spellings are read whatever the flavour: servers (and the emulator) differ.
NEXT_LINK_FIELDS = ("nextLink", "@nextLink", "@odata.nextLink")

ORDER_FIELD = "createdDateTimeUtc"

Query = list[tuple[str, str]]


def format_datetime(value: datetime) -> str:
    """ISO 8601 in UTC with a `Z`; a naive datetime is taken as UTC already."""
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


def order_by_value(order_by: str) -> str:
    """ "asc"/"desc" (or a full "createdDateTimeUtc desc") as the service's orderBy value."""
    text = " ".join(order_by.split())
    if text.lower() in ("asc", "desc"):
        return f"{ORDER_FIELD} {text.lower()}"
    field, _, direction = text.partition(" ")
    if field.lower() in (ORDER_FIELD.lower(), "lastactiondatetimeutc") and direction.lower() in ("", "asc", "desc"):
        return text
    raise ValueError(f"order_by must be 'asc' or 'desc' (or 'createdDateTimeUtc asc|desc'), got {order_by!r}")


def next_link_of(body: Mapping[str, Any]) -> str | None:
    for name in NEXT_LINK_FIELDS:
        link = body.get(name)
        if isinstance(link, str) and link.strip():
            return link.strip()
    return None


class ListFilters(TypedDict, total=False):
    """ListQuery's fields as keyword arguments of the list calls (a test keeps the two in step)."""

    ids: Sequence[str] | None
    statuses: Sequence[str] | None
    created_after: datetime | None
    created_before: datetime | None
    order_by: str | None  # "asc" / "desc", or "createdDateTimeUtc asc"
    top: int | None
    skip: int | None
    max_page_size: int | None


@dataclass(frozen=True)
class ListQuery:
    """Filters and paging of a list call, independent of the flavour's spelling."""

    ids: Sequence[str] | None = None
    statuses: Sequence[str] | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    order_by: str | None = None
    top: int | None = None
    skip: int | None = None
    max_page_size: int | None = None

    def __post_init__(self) -> None:
        for name in ("top", "skip"):
            value = getattr(self, name)
            if value is not None and value < 0:
                raise ValueError(f"{name} must be 0 or more, got {value}")
        if self.max_page_size is not None and not 1 <= self.max_page_size <= 100:
            raise ValueError(f"max_page_size must be between 1 and 100, got {self.max_page_size}")
        if self.order_by is not None:
            order_by_value(self.order_by)


@dataclass(frozen=True)
class Routes:
    endpoint: str
    api_version: str = DEFAULT_API_VERSION

    def __post_init__(self) -> None:
        if self.api_version not in API_VERSIONS:
            raise ValueError(f"api_version must be one of {', '.join(API_VERSIONS)}, got {self.api_version!r}")
        if not self.endpoint.startswith(("https://", "http://")):
            raise ValueError(f"endpoint must be an http(s) URL, got {self.endpoint!r}")
        object.__setattr__(self, "endpoint", self.endpoint.rstrip("/"))

    @property
    def is_legacy(self) -> bool:
        return self.api_version == LEGACY_API_VERSION

    @property
    def _base(self) -> str:
        if self.is_legacy:
            return f"{self.endpoint}/translator/text/batch/{self.api_version}"
        return f"{self.endpoint}/translator/document"

    def _url(self, path: str, query: Query | None = None) -> str:
        pairs: Query = [] if self.is_legacy else [("api-version", self.api_version)]
        pairs.extend(query or ())
        url = f"{self._base}{path}"
        # `$` and `,` stay readable: both are legal in a query and servers match them literally.
        return f"{url}?{urlencode(pairs, safe='$,:', quote_via=quote)}" if pairs else url

    def batches(self, query: ListQuery | None = None) -> str:
        return self._url("/batches", self.list_params(query) if query else None)

    def batch(self, job_id: str) -> str:
        return self._url(f"/batches/{_segment(job_id)}")

    def documents(self, job_id: str, query: ListQuery | None = None) -> str:
        return self._url(f"/batches/{_segment(job_id)}/documents", self.list_params(query) if query else None)

    def document(self, job_id: str, document_id: str) -> str:
        return self._url(f"/batches/{_segment(job_id)}/documents/{_segment(document_id)}")

    def formats(self, kind: str) -> str:
        if kind not in ("document", "glossary"):
            raise ValueError(f"kind must be 'document' or 'glossary', got {kind!r}")
        if self.is_legacy:
            return self._url("/documents/formats" if kind == "document" else "/glossaries/formats")
        return self._url("/formats", [("type", kind)])

    def languages(self) -> str:
        """The text API's language list on the same resource; one route whatever the document API version."""
        return f"{self.endpoint}/translator/text/v3.0/languages?api-version=3.0&scope=translation"

    def list_params(self, query: ListQuery) -> Query:
        dollar = "$" if self.is_legacy else ""
        order_name = "$orderBy" if self.is_legacy else "orderby"
        params: Query = []
        if query.top is not None:
            params.append((f"{dollar}top", str(query.top)))
        if query.skip is not None:
            params.append((f"{dollar}skip", str(query.skip)))
        if query.max_page_size is not None:
            params.append((f"{dollar}maxpagesize", str(query.max_page_size)))
        if query.ids:
            params.append(("ids", ",".join(query.ids)))
        if query.statuses:
            params.append(("statuses", ",".join(query.statuses)))
        if query.created_after is not None:
            params.append(("createdDateTimeUtcStart", format_datetime(query.created_after)))
        if query.created_before is not None:
            params.append(("createdDateTimeUtcEnd", format_datetime(query.created_before)))
        if query.order_by is not None:
            params.append((order_name, order_by_value(query.order_by)))
        return params

    def follow(self, next_link: str) -> str:
        """The URL to fetch for a server's next link: as given, plus api-version when a 2024+ link lacks it."""
        link = next_link.strip()
        if link.startswith("/"):  # tolerate a relative link
            link = urlunsplit((*urlsplit(self.endpoint)[:2], link.split("?", 1)[0], urlsplit(link).query, ""))
        if self.is_legacy:
            return link
        parts = urlsplit(link)
        names = {name.lower() for name, _ in parse_qsl(parts.query, keep_blank_values=True)}
        if "api-version" in names:
            return link
        extra = urlencode([("api-version", self.api_version)])
        return urlunsplit(parts._replace(query=f"{parts.query}&{extra}" if parts.query else extra))


def _segment(value: str) -> str:
    if not value or not value.strip():
        raise ValueError("an id is required")
    # Quote everything, so an id can never add a path segment or a query of its own.
    return quote(value.strip(), safe="")
