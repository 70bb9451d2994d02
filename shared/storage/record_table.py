"""The records in Table Storage: point reads and narrow ranges only, every write verified
(table_writes.py), so nothing here grows with the number of records outstanding or kept.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.data.tables import TableClient

from shared.storage.app_state import AppState
from shared.storage.outcome_outbox import OUTBOX_HIGH, OUTBOX_LOW, OutcomeEventIntent, outbox_row_key
from shared.storage.record_keys import FINAL_PARTITION, OPEN_PARTITIONS, open_partition, path_digest, versions_range
from shared.storage.records import (
    FINAL_CODEC,
    OPEN_CODEC,
    REUSE_CODEC,
    FinalRecord,
    OpenRecord,
    ReuseEntry,
    reuse_row_key,
    version_order,
)
from shared.storage.table_queries import first_of
from shared.storage.table_transactions import Change, Op
from shared.storage.table_writes import TableWriter, WriteConflict

logger = logging.getLogger(__name__)

REUSE_PARTITION = "reuse"


class RecordTable:
    def __init__(self, table: TableClient):
        self._table = table
        self.writer = TableWriter(table)
        # The app's own small facts share the table (one table to provision), not the records' code.
        self.state = AppState(table, self.writer)

    # --- open records -------------------------------------------------------------------
    def claim(self, record: OpenRecord) -> OpenRecord | None:
        """Insert the open record; None when this source version is already claimed."""
        try:
            etag = self.writer.insert(self.open_entity(record))
        except WriteConflict:
            return None
        return replace(record, etag=etag)

    def get_open(self, key: str) -> OpenRecord | None:
        entity = self.writer.read(open_partition(key), key)
        return None if entity is None else OPEN_CODEC.from_entity(entity)

    def open_versions(self, container: str, name: str) -> list[OpenRecord]:
        """Every open version of one file, oldest first (one range query on its partition)."""
        low, high = versions_range(container, name)
        partition = open_partition(path_digest(container, name))
        query = f"PartitionKey eq '{partition}' and RowKey ge '{low}' and RowKey lt '{high}'"
        found = [OPEN_CODEC.from_entity(entity) for entity in self._table.query_entities(query)]
        found = [record for record in found if (record.source_container, record.source_name) == (container, name)]
        return sorted(found, key=lambda record: record.version_order)

    def outstanding(self) -> Iterator[OpenRecord]:
        """Every open record, partition by partition: for operators' reports, never on a hot path."""
        for partition in OPEN_PARTITIONS:
            for entity in self._table.query_entities(f"PartitionKey eq '{partition}'"):
                yield OPEN_CODEC.from_entity(entity)

    def update(self, record: OpenRecord) -> OpenRecord | None:
        """Replace the open record if nobody changed it since it was read; None on a lost race."""
        try:
            etag = self.writer.replace(self.open_entity(record), record.etag)
        except WriteConflict:
            logger.info("open record %s changed or vanished meanwhile; leaving it to its new owner", record.key)
            return None
        return replace(record, etag=etag)

    def update_many(self, records: Iterable[OpenRecord]) -> list[OpenRecord | None]:
        """`update` for many records, in transactions of up to 100 per partition (one request each,
        a few at a time). A transaction that loses a race on any record is retried record by record,
        so one conflict costs only itself."""
        pending = list(records)
        written = self.writer.write_all(
            [Change(Op.REPLACE, self.open_entity(record), record.etag) for record in pending]
        )
        return [
            None if result.conflict else replace(record, etag=result.etag)
            for record, result in zip(pending, written, strict=True)
        ]

    def delete_open(self, key: str, etag: str | None = None) -> None:
        try:
            self.writer.delete(open_partition(key), key, etag)
        except WriteConflict:
            logger.info("open record %s changed before it could be removed; left to its new owner", key)

    @staticmethod
    def open_entity(record: OpenRecord) -> dict[str, Any]:
        return OPEN_CODEC.to_entity(open_partition(record.key), record.key, record)

    # --- final records ------------------------------------------------------------------
    def get_final(self, key: str) -> FinalRecord | None:
        entity = self.writer.read(FINAL_PARTITION, key)
        return None if entity is None else FINAL_CODEC.from_entity(entity, key=key)

    def put_final(self, record: FinalRecord, event: OutcomeEventIntent | None = None) -> OutcomeEventIntent | None:
        """Writes the final record; with `event`, its outcome event's intent in the same transaction
        (both in partition `final`), so a record is never there without the event it owes. Returns
        the intent as written (with its row's ETag)."""
        final = FINAL_CODEC.to_entity(FINAL_PARTITION, record.key, record)
        if event is None:
            self.writer.upsert(final)
            return None
        etags = self.writer.transact([Change(Op.UPSERT, final), Change(Op.UPSERT, event.to_entity())])
        return replace(event, etag=etags[1] or None)

    # --- outcome events not yet published (rows `outbox|<key>` of partition `final`) ----------
    def get_unsent_event(self, key: str) -> OutcomeEventIntent | None:
        entity = self.writer.read(FINAL_PARTITION, outbox_row_key(key))
        return None if entity is None else OutcomeEventIntent.from_entity(entity)

    def unsent_events(self, *, limit: int) -> list[OutcomeEventIntent]:
        """The oldest-keyed intents still unsent, at most `limit`: one range query on the outbox rows,
        which are only the events not yet through (a sent one's row is removed)."""
        query = f"PartitionKey eq '{FINAL_PARTITION}' and RowKey ge '{OUTBOX_LOW}' and RowKey lt '{OUTBOX_HIGH}'"
        return first_of(self._table, query, limit, OutcomeEventIntent.from_entity)

    def event_sent(self, intent: OutcomeEventIntent) -> bool:
        """Marks the event sent (its intent row removed) unless a newer intent replaced it (the version
        recorded again meanwhile: that one is still owed). False when it was replaced."""
        try:
            self.writer.delete(FINAL_PARTITION, outbox_row_key(intent.key), intent.etag)
        except WriteConflict:
            logger.info("the outcome event of %s was replaced by a newer one; that one is still owed", intent.key)
            return False
        return True

    def final_versions(self, container: str, name: str) -> list[FinalRecord]:
        """Every recorded version of one file, oldest first."""
        low, high = versions_range(container, name)
        query = f"PartitionKey eq '{FINAL_PARTITION}' and RowKey ge '{low}' and RowKey lt '{high}'"
        found = [FINAL_CODEC.from_entity(entity, key=entity["RowKey"]) for entity in self._table.query_entities(query)]
        found = [record for record in found if (record.source_container, record.source_name) == (container, name)]
        return sorted(found, key=lambda record: version_order(record.source_modified, record.claimed_at))

    def finals(self, *, since: datetime | None = None) -> Iterator[FinalRecord]:
        """Final records (all, or finished since a moment): for operators' reports, never on a hot path."""
        # (The outbox rows sort after every record key: hex digests.)
        query = f"PartitionKey eq '{FINAL_PARTITION}' and RowKey lt '{OUTBOX_LOW}'"
        parameters: dict[str, Any] = {}
        if since is not None:
            query += " and FinishedAt ge @since"
            parameters["since"] = since
        for entity in self._table.query_entities(query, parameters=parameters):
            yield FINAL_CODEC.from_entity(entity, key=entity["RowKey"])

    # --- translations to reuse (partition `reuse`): bytes + plan -> where they are published --
    def get_reuse(self, plan: str, content_hash: str) -> ReuseEntry | None:
        entity = self.writer.read(REUSE_PARTITION, reuse_row_key(plan, content_hash))
        return None if entity is None else REUSE_CODEC.from_entity(entity)

    def put_reuse(self, entry: ReuseEntry) -> None:
        self.writer.upsert(REUSE_CODEC.to_entity(REUSE_PARTITION, entry.row_key, entry))

    def forget_reuse(self, plan: str, content_hash: str, record_key: str) -> None:
        """Removes the entry of these bytes and plan if it still points at `record_key` (its
        translations are gone or changed); a newer entry that replaced it stays."""
        current = self.get_reuse(plan, content_hash)
        if current is None or current.record_key != record_key:
            return
        try:
            self.writer.delete(REUSE_PARTITION, current.row_key)
        except WriteConflict:
            pass
