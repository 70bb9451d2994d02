"""Lists a container on Azurite past the names Azurite cannot list.

Azurite writes blob names into its List Blobs XML unescaped, so a page that would hold a name with a
character XML forbids ('\\x00'-'\\x08', '\\x0b', '\\x0c', '\\x0e'-'\\x1f', '\\ufffe', '\\uffff') fails
with HTTP 500, and so does any request whose marker or prefix holds one. (Azure returns such a name
with Encoded="true" and the SDK decodes it: this is Azurite's limitation only.) Its marker is a plain
blob name; a listing from marker M returns the names after M in UTF-16 code-unit order.

So when a page fails with a server error, `Listing` reads it again in halves down to single names,
up to the last readable name L before the unreadable one. It then finds that name's readable start P
character by character: "a one-name listing from marker X fails" holds for markers between L and the
unreadable name, so a search over the characters allowed in a marker (galloping up from L's, then
halving) gives each character of P in about 15 calls. Every name beginning with P and a forbidden
character is unreadable; the listing goes on from the marker just past them (P and the next allowed
character, that name itself looked up with a prefix listing since a marker is exclusive) and warns
once. The skip is remembered: later listings read up to L with a page sized to the names known
before it, check with one call that L's next name still fails, and jump, so a skip costs three calls
per listing rather than a new search. A page that fails where no known skip applies is searched anew.

Limit: the search trusts that a failing one-name listing means "before the first unreadable name";
readable names lying between two unreadable ones that share a long prefix can fool it, and are then
skipped with them (the warning names the span). A server that fails whatever the marker is not
searched: the listing stops there and says so, with what it read.
"""

from __future__ import annotations

import bisect
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field

from azure.core.exceptions import HttpResponseError
from azure.storage.blob import BlobProperties, ContainerClient

logger = logging.getLogger(__name__)

# The SDK warns "Unexpected return type <class 'str'>..." for each refused page (Azurite's 500 has no
# XML error body): quiet while this module lists, as it expects the refusals.
_listing_here = threading.local()


def _not_while_listing(record: logging.LogRecord) -> bool:
    return not getattr(_listing_here, "active", False)


logging.getLogger("azure.storage.blob._shared.response_handlers").addFilter(_not_while_listing)

PAGE_SIZE = 5000
# Blob names are at most 1,024 characters; a search longer than this is not a name's fault.
MAX_NAME_LENGTH = 1024
MAX_PROBES = 4000

# Characters a marker may hold (what XML 1.0 allows), in Azurite's sort order: UTF-16 code units,
# so the characters past U+FFFF (surrogate pairs) come between U+D7FF and U+E000.
_SEGMENTS = ((0x09, 0x0A), (0x0D, 0x0D), (0x20, 0xD7FF), (0x10000, 0x10FFFF), (0xE000, 0xFFFD))
_ALPHABET_SIZE = sum(last - first + 1 for first, last in _SEGMENTS)
# The forbidden characters, by the allowed character they follow (None: before the first).
_FORBIDDEN_AFTER: dict[int | None, tuple[int, int]] = {
    None: (0x00, 0x08),
    0x0A: (0x0B, 0x0C),
    0x0D: (0x0E, 0x1F),
    0xFFFD: (0xFFFE, 0xFFFF),
}


def sort_key(name: str) -> bytes:
    """Azurite's order of blob names (UTF-16 code units, as JavaScript compares strings)."""
    return name.encode("utf-16-be", "surrogatepass")


def _char_at(index: int) -> str:
    for first, last in _SEGMENTS:
        if index <= last - first:
            return chr(first + index)
        index -= last - first + 1
    raise IndexError(index)


def _index_of(char: str) -> int:
    code, index = ord(char), 0
    for first, last in _SEGMENTS:
        if first <= code <= last:
            return index + code - first
        index += last - first + 1
    raise ValueError(f"{char!r} cannot be in a marker")


def _successor(prefix: str) -> str | None:
    """The smallest marker after every name that starts with `prefix` (None: there is none)."""
    while prefix:
        index = _index_of(prefix[-1]) + 1
        if index < _ALPHABET_SIZE:
            return prefix[:-1] + _char_at(index)
        prefix = prefix[:-1]
    return None


def _is_server_error(exc: Exception) -> bool:
    return isinstance(exc, HttpResponseError) and (exc.status_code or 0) >= 500


@dataclass(frozen=True)
class Skip:
    """Names Azurite cannot list: after `after`, those starting with `prefix` + a forbidden character."""

    after: str
    prefix: str
    forbidden: tuple[int, int]
    resume: str | None  # the marker past them; None when they run to the end of the container

    def describe(self) -> str:
        first, last = (repr(chr(code)) for code in self.forbidden)
        return f"the names starting with {self.prefix!r} followed by a character from {first} to {last}"


@dataclass
class Listed:
    blobs: list[BlobProperties] = field(default_factory=list)
    # Why the listing stopped short of the container's end; None when every readable name was read.
    incomplete: str | None = None
    calls: int = 0


class _GiveUp(Exception):
    pass


class Listing:
    """Lists one container (with metadata) again and again, remembering where Azurite cannot list."""

    def __init__(self, container: ContainerClient, *, page_size: int = PAGE_SIZE, prefix: str = ""):
        self._container = container
        self._page_size = page_size
        self._prefix = prefix  # only names under it (a trigger watching one folder lists that folder)
        self._skips: dict[str, Skip] = {}
        self._warned: set[tuple[str, str | None]] = set()
        self._known: list[bytes] = []  # sort keys of the names the last listing read
        self._calls = 0
        self._probes = 0

    @property
    def skips(self) -> list[Skip]:
        return sorted(self._skips.values(), key=lambda skip: sort_key(skip.after))

    def read(self) -> Listed:
        """Every readable blob, in order. Errors other than a server's refusal of a page propagate."""
        self._calls = 0
        listed = Listed()
        used: dict[str, Skip] = {}
        marker = ""
        try:
            while True:
                skip = self._next_skip(marker)
                if skip is not None and skip.after == marker:
                    if self._fails(marker):
                        used[skip.after] = skip
                        next_marker = self._past(skip, listed.blobs)
                        if next_marker is None:
                            break
                        marker = next_marker
                        continue
                    del self._skips[skip.after]  # its names are gone, or a readable one came first
                    logger.info("container %s: %s list again", self._container.container_name, skip.describe())
                    skip = None
                size = self._page_size
                if skip is not None:
                    before = self._known_between(marker, skip.after)
                    if before:
                        size = min(size, before)
                try:
                    page, more = self._page(marker, size)
                except HttpResponseError as exc:
                    if not _is_server_error(exc):
                        raise
                    stuck = self._read_up_to_failure(marker, size, listed.blobs)
                    if stuck is None:
                        break  # the refusal passed
                    skip = self._skips.get(stuck) or self._search(stuck, exc)
                    used[skip.after] = skip
                    next_marker = self._past(skip, listed.blobs)
                    if next_marker is None:
                        break
                    marker = next_marker
                    continue
                listed.blobs.extend(page)
                if not more or not page:
                    break
                marker = page[-1].name
        except _GiveUp as exc:
            listed.incomplete = str(exc)
        else:
            self._skips = used
        self._known = sorted(sort_key(blob.name) for blob in listed.blobs)
        listed.calls = self._calls
        return listed

    def _next_skip(self, marker: str) -> Skip | None:
        key = sort_key(marker)
        later = [skip for skip in self._skips.values() if sort_key(skip.after) >= key]
        return min(later, key=lambda skip: sort_key(skip.after), default=None)

    def _known_between(self, marker: str, after: str) -> int:
        """How many names of the last listing lay after `marker`, up to `after` included."""
        return bisect.bisect_right(self._known, sort_key(after)) - bisect.bisect_right(self._known, sort_key(marker))

    def _page(self, marker: str, size: int, prefix: str | None = None) -> tuple[list[BlobProperties], bool]:
        self._calls += 1
        _listing_here.active = True
        try:
            return self._request(marker, size, prefix)
        finally:
            _listing_here.active = False

    def _request(self, marker: str, size: int, prefix: str | None) -> tuple[list[BlobProperties], bool]:
        # No retries: a refused page is read again in halves at once, and the watcher polls anyway.
        pages: Iterator[Iterator[BlobProperties]] = self._container.list_blobs(
            name_starts_with=prefix or self._prefix or None, include=["metadata"], results_per_page=size, retry_total=0
        ).by_page(continuation_token=marker or None)
        page = list(next(pages))
        return page, getattr(pages, "continuation_token", None) is not None

    def _fails(self, marker: str, prefix: str | None = None) -> bool:
        """Whether the one-name listing from `marker` (within `prefix`) is refused by the server."""
        try:
            self._page(marker, 1, prefix)
        except HttpResponseError as exc:
            if not _is_server_error(exc):
                raise
            return True
        return False

    def _read_up_to_failure(self, marker: str, size: int, blobs: list[BlobProperties]) -> str | None:
        """Reads in ever smaller pages from `marker`; the marker whose next name fails, or None."""
        size = max(1, size // 2)
        while True:
            try:
                page, more = self._page(marker, size)
            except HttpResponseError as exc:
                if not _is_server_error(exc):
                    raise
                if size == 1:
                    return marker
                size //= 2
                continue
            blobs.extend(page)
            if not more or not page:
                return None
            marker = page[-1].name

    def _probe(self, marker: str, prefix: str | None = None) -> bool:
        self._probes += 1
        if self._probes > MAX_PROBES:
            raise _GiveUp(f"no way found past the name after {marker!r} in {MAX_PROBES} probes")
        return self._fails(marker, prefix)

    def _search(self, after: str, refusal: HttpResponseError) -> Skip:
        """Finds the readable start of the name after `after` and the marker past such names."""
        container = self._container.container_name
        self._probes = 0
        if self._probe(_char_at(_ALPHABET_SIZE - 1)):
            # Even past nearly every name the server refuses: not a name's fault.
            raise _GiveUp(f"the server refuses every listing ({type(refusal).__name__}: {refusal.status_code})")
        prefix = ""
        while len(prefix) < MAX_NAME_LENGTH:
            depth = len(prefix)
            # Index of the largest allowed character c with "the next name after prefix + c fails";
            # -1 when even the smallest allowed one is past the unreadable name.
            low = _index_of(after[depth]) if after.startswith(prefix) and len(after) > depth else -1
            high, step = _ALPHABET_SIZE, 1
            while low + step < high:
                if self._probe(prefix + _char_at(low + step)):
                    low += step
                    step *= 2
                else:
                    high = low + step
                    break
            while high - low > 1:
                middle = (low + high) // 2
                if self._probe(prefix + _char_at(middle)):
                    low = middle
                else:
                    high = middle
            char = _char_at(low) if low >= 0 else None
            gap = _FORBIDDEN_AFTER.get(ord(char) if char is not None else None)
            if char is not None and gap is not None:
                # The name has `char` here, or the forbidden characters after it: a prefix listing tells.
                within = prefix + char
                if self._probe(after if after.startswith(within) else "", within):
                    prefix = within
                    continue
            elif char is not None:
                prefix += char
                continue
            assert gap is not None
            resume = prefix + _char_at(low + 1) if low + 1 < _ALPHABET_SIZE else _successor(prefix)
            skip = Skip(after=after, prefix=prefix, forbidden=gap, resume=resume)
            self._skips[after] = skip
            if (prefix, resume) not in self._warned:
                self._warned.add((prefix, resume))
                logger.warning(
                    "container %s: Azurite cannot list %s (after %r; Azure would list them encoded); "
                    "listing the rest %s. Such names raise no local event",
                    container,
                    skip.describe(),
                    after,
                    f"from {resume!r}" if resume is not None else "up to them",
                )
            return skip
        raise _GiveUp(f"no end found to the readable start of the name after {after!r}")

    def _past(self, skip: Skip, blobs: list[BlobProperties]) -> str | None:
        """The marker to go on from after `skip`, having read the name equal to that marker if any."""
        if skip.resume is None:
            return None
        try:
            page, _ = self._page("", 1, skip.resume)
        except HttpResponseError as exc:
            if not _is_server_error(exc):
                raise
            page = []  # the first name starting with the marker is unreadable: the marker is no name
        blobs.extend(blob for blob in page if blob.name == skip.resume)
        return skip.resume
