"""The app's own state: small facts it keeps about itself (the catch-up's watermark, a step that
keeps failing), in partition `state` of the records table, away from the records."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient

from shared.storage.entity_codec import utc
from shared.storage.table_writes import TableWriter

STATE_PARTITION = "state"


@dataclass(frozen=True)
class Trouble:
    """A step of the app's own that keeps failing: since when, why, and when it last tried."""

    since: datetime
    reason: str
    last_attempt: datetime


class AppState:
    def __init__(self, table: TableClient, writer: TableWriter):
        self._table = table
        self._writer = writer

    def get_moment(self, name: str) -> datetime | None:
        try:
            value = self._table.get_entity(STATE_PARTITION, name).get("Moment")
        except ResourceNotFoundError:
            return None
        return utc(value) if isinstance(value, datetime) else None

    def set_moment(self, name: str, moment: datetime) -> None:
        self._writer.upsert({"PartitionKey": STATE_PARTITION, "RowKey": name, "Moment": moment})

    def get_trouble(self, name: str) -> Trouble | None:
        entity = self._writer.read(STATE_PARTITION, name)
        if entity is None or not isinstance(entity.get("Since"), datetime):
            return None
        last_attempt = entity.get("LastAttempt")
        return Trouble(
            since=utc(entity["Since"]),
            reason=str(entity.get("Reason") or ""),
            last_attempt=utc(last_attempt) if isinstance(last_attempt, datetime) else utc(entity["Since"]),
        )

    def set_trouble(self, name: str, trouble: Trouble) -> None:
        self._writer.upsert(
            {
                "PartitionKey": STATE_PARTITION,
                "RowKey": name,
                "Since": trouble.since,
                "Reason": trouble.reason,
                "LastAttempt": trouble.last_attempt,
            }
        )

    def clear_trouble(self, name: str) -> None:
        self._writer.delete(STATE_PARTITION, name)
