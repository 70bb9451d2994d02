"""An operator's attention on a record or a submission.

`needs_attention` and `attention_reason` are set and cleared here, together, so that no row says
it needs attention without saying why, or gives a reason while saying all is well. Each function
returns the two fields for `dataclasses.replace`.
"""

from __future__ import annotations

from typing import Any, Protocol

from shared.redaction import redact
from shared.text import cut


class Flaggable(Protocol):
    needs_attention: bool
    attention_reason: str | None


CLEARED: dict[str, Any] = {"needs_attention": False, "attention_reason": None}


def flagged(reason: str) -> dict[str, Any]:
    """Flagged for `reason`, which may carry a service's text: redacted and cut to fit a column."""
    return {"needs_attention": True, "attention_reason": cut(redact(reason))}


def flagged_if(item: Flaggable, reason: str | None) -> dict[str, Any]:
    """Flagged for `reason` when there is one, else as the item already was (a flag stays until a
    transition that knows its cause has passed clears it)."""
    return flagged(reason) if reason is not None else kept(item)


def kept(item: Flaggable) -> dict[str, Any]:
    """The item's flag carried on unchanged (to the final record or to another row)."""
    return {"needs_attention": item.needs_attention, "attention_reason": item.attention_reason}
