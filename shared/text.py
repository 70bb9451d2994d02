"""Text cut to fit: records, reports and log lines keep a message, never an unbounded one."""

from __future__ import annotations

# Messages from the service or an exception are cut to this in records (reports keep more).
MAX_REASON_LENGTH = 2_000


def cut(text: str | None, limit: int = MAX_REASON_LENGTH) -> str | None:
    """`text` cut to `limit` characters, saying so."""
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 30] + f"... [{len(text) - limit + 30} more characters]"
