"""What a character budget's windows have spent: rows `spend|<window>|<shard>` of the schedule
partition (budget.py). A window is `day-2026-12-02` or `month-2026-12` (UTC). Each window has up to
16 shards, one per hex digit, so that record steps finishing files at once rarely write the same
row; an increment is ETag-guarded (read, then replace only if unchanged, else read again), so none
is lost. A window's spend is one range query of at most 16 rows.
"""

from __future__ import annotations

import logging

from azure.data.tables import EdmType, EntityProperty, TableClient

from shared.storage.schedule_table import SCHEDULE_PARTITION
from shared.storage.table_writes import TableWriter, WriteConflict

logger = logging.getLogger(__name__)

SPEND_PREFIX = "spend|"
SHARDS = "0123456789abcdef"
CHARACTERS_COLUMN = "Characters"
MAX_TRIES = 50


def shard_of(key: str) -> str:
    """A record key's shard: its first hex digit (any other character maps onto one too)."""
    first = key[:1].lower()
    return first if first in SHARDS else SHARDS[ord(first or "0") % len(SHARDS)]


class SpendCounters:
    def __init__(self, table: TableClient):
        self._table = table
        self.writer = TableWriter(table)

    @staticmethod
    def _row(window: str, shard: str) -> str:
        return f"{SPEND_PREFIX}{window}|{shard}"

    def spent(self, windows: tuple[str, ...]) -> dict[str, int]:
        """Window -> characters spent in it (0 for one with no row yet): one query for all of them."""
        spent = dict.fromkeys(windows, 0)
        if not windows:
            return spent
        ranges = " or ".join(
            f"(RowKey ge '{SPEND_PREFIX}{window}|' and RowKey lt '{SPEND_PREFIX}{window}|~')" for window in windows
        )
        query = f"PartitionKey eq '{SCHEDULE_PARTITION}' and ({ranges})"
        for entity in self._table.query_entities(query):
            window = str(entity["RowKey"])[len(SPEND_PREFIX) :].rsplit("|", 1)[0]
            value = entity.get(CHARACTERS_COLUMN, 0)
            spent[window] = spent.get(window, 0) + int(value.value if isinstance(value, EntityProperty) else value)
        return spent

    def add(self, window: str, shard: str, characters: int) -> None:
        """Adds `characters` (negative: takes them back) to one shard of a window, exactly once."""
        row = self._row(window, shard)
        for _ in range(MAX_TRIES):
            current = self.writer.read(SCHEDULE_PARTITION, row)
            try:
                if current is None:
                    self.writer.insert(self._entity(row, characters))
                else:
                    value = current.get(CHARACTERS_COLUMN, 0)
                    total = int(value.value if isinstance(value, EntityProperty) else value) + characters
                    self.writer.replace(self._entity(row, total), current.metadata.get("etag"))
                return
            except WriteConflict:
                continue  # someone else added first: read their total and add to it
        raise RuntimeError(f"could not add {characters} characters to {row} after {MAX_TRIES} tries")

    @staticmethod
    def _entity(row: str, characters: int) -> dict[str, object]:
        return {
            "PartitionKey": SCHEDULE_PARTITION,
            "RowKey": row,
            CHARACTERS_COLUMN: EntityProperty(characters, EdmType.INT64),
        }
