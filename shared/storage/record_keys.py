"""How records are keyed, so that every look-up is a point read or a narrow range.

The row key of one source version is `<path digest>-<version digest>`: Table keys forbid '/', '#',
'?' and more, so the path is hashed, and the path digest first lets one range query find every
version of a file. Open records are spread over 16 partitions (`open-0` ... `open-f`) by the first
digit of that digest, so a burst of claims and hand-overs meets sixteen partitions' throughput,
not one's (Table Storage serves about 2,000 entities a second per partition); every version of a
file lands in the same one.
"""

from __future__ import annotations

import hashlib

OPEN_PARTITION_PREFIX = "open-"
# The single partition of open records before they were spread (read by the operator's tool only).
FORMER_OPEN_PARTITION = "open"
FINAL_PARTITION = "final"
OPEN_PARTITIONS = tuple(f"{OPEN_PARTITION_PREFIX}{digit}" for digit in "0123456789abcdef")
_DIGEST_LENGTH = 20


def path_digest(container: str, name: str) -> str:
    return hashlib.sha256(f"{container}\n{name}".encode()).hexdigest()[:_DIGEST_LENGTH]


def unquoted_etag(etag: object) -> str:
    """A blob's ETag as records and stamps keep it: storage sends it quoted (`"0x8D..."`), events
    and the SDK's listings do not always. The one place the quotes are stripped."""
    return str(etag).strip('"')


def record_key(container: str, name: str, etag: str) -> str:
    """The row key of one source version."""
    version = unquoted_etag(etag)
    version_digest = hashlib.sha256(f"{container}\n{name}\n{version}".encode()).hexdigest()[:_DIGEST_LENGTH]
    return f"{path_digest(container, name)}-{version_digest}"


def open_partition(key: str) -> str:
    """The partition of an open record: the first digit of its path digest."""
    return f"{OPEN_PARTITION_PREFIX}{key[0]}"


def versions_range(container: str, name: str) -> tuple[str, str]:
    """Row keys of every version of one file lie in [low, high)."""
    prefix = path_digest(container, name)
    return f"{prefix}-", f"{prefix}."
