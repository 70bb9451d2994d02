"""The outbox of outcome events: what a final record owes downstream, kept until it is sent.

A final record is written together with the intent to publish its event (one transaction on
partition `final`, see RecordTable.put_final). The intent is row `outbox|<record key>` of that
partition: record keys are hex digests, so every intent sorts after every record and the unsent ones
are one narrow range query away (a sent event's row is removed; the range holds only what is owed).
The intent carries the whole envelope, so sending it again needs nothing else, and sends the same
event id each time.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.storage.entity_codec import MAX_TEXT_LENGTH, utc
from shared.storage.record_keys import FINAL_PARTITION

OUTBOX_PREFIX = "outbox|"
OUTBOX_LOW = OUTBOX_PREFIX
OUTBOX_HIGH = "outbox}"  # the character after '|'


def outbox_row_key(record_key: str) -> str:
    return f"{OUTBOX_PREFIX}{record_key}"


def fitting_envelope_text(envelope: dict[str, Any]) -> str:
    """The envelope as one property holds it. Names are bounded (1,024 characters) and reasons cut,
    so it fits; should one not (ten languages of a long name in characters outside the BMP), the
    target paths go (each is `<target>/<language>/<source name>`): a write that cannot fit would
    stop the final record itself."""
    text = json.dumps(envelope, separators=(",", ":"), ensure_ascii=False)
    if len(text) <= MAX_TEXT_LENGTH // 2:  # any text this short fits, whatever its characters
        return text
    if len(text.encode("utf-16-le")) // 2 <= MAX_TEXT_LENGTH:
        return text
    data = dict(envelope.get("data", {}))
    data["languages"] = [{**language, "target_path": None} for language in data.get("languages", [])]
    data["target_paths_left_out"] = True
    return json.dumps({**envelope, "data": data}, separators=(",", ":"), ensure_ascii=False)


@dataclass(frozen=True)
class OutcomeEventIntent:
    """One outcome event not yet published: its record, its CloudEvents envelope, when it was owed."""

    key: str  # the final record's key
    envelope: dict[str, Any]
    owed_at: datetime
    etag: str | None = None  # the row's ETag: marking it sent never removes a newer intent

    @property
    def event_id(self) -> str:
        return str(self.envelope["id"])

    def to_entity(self) -> dict[str, Any]:
        return {
            "PartitionKey": FINAL_PARTITION,
            "RowKey": outbox_row_key(self.key),
            "EventId": self.event_id,
            "Envelope": fitting_envelope_text(self.envelope),
            "OwedAt": self.owed_at,
        }

    @classmethod
    def from_entity(cls, entity: Mapping[str, Any]) -> OutcomeEventIntent:
        metadata = getattr(entity, "metadata", None) or {}
        return cls(
            key=str(entity["RowKey"])[len(OUTBOX_PREFIX) :],
            envelope=json.loads(str(entity["Envelope"])),
            owed_at=utc(entity["OwedAt"]),
            etag=metadata.get("etag"),
        )
