"""Every write the app makes to Table Storage, each able to tell its own change from a rival's.

A write whose answer is lost is ambiguous: it may have been applied. The SDK retries some of them
(a PUT, a DELETE), and the retry then meets 412 or 404 - its own change; it retries none of the
POSTs (an insert, a transaction), which then fail with a transport error after being applied. So
every entity the app writes carries `ChangeId`, a fresh value per write. When a write meets 409,
412 or a transport error, the entity is read back: our ChangeId means the change is ours and it
went through; anything else is a rival's change (a real conflict) or, for a transport error, a
write that never arrived (the error is raised, as before). A file is never parked by its own
lost answer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    IncompleteReadError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
    ServiceResponseError,
)
from azure.data.tables import TableClient, TableEntity, UpdateMode

from shared.storage.table_transactions import (
    MAX_TRANSACTION_OPERATIONS,
    Change,
    Op,
    TransactionRefused,
    TransactionTooLarge,
    send_changes,
)

logger = logging.getLogger(__name__)

CHANGE_ID = "ChangeId"
# A write that never arrived (its answer was cut off, and what is stored is not its change) is sent
# again this many times.
RESENDS = 2
# Transactions sent at once by `write_all` (each one request).
PARALLEL_TRANSACTIONS = 4

T = TypeVar("T")


class WriteConflict(Exception):
    """Someone else changed (or removed, or created) the entity first: their change stands."""


@dataclass(frozen=True)
class Written:
    """What one change came to: its new ETag, or the conflict that kept it out."""

    change: Change
    etag: str | None = None
    conflict: bool = False


def new_change_id() -> str:
    return uuid.uuid4().hex


def _ambiguous(error: BaseException) -> bool:
    """Whether an error leaves the write's fate unknown (it may have been applied): the answer was
    lost or cut off, or storage failed after receiving the request. The error's causes count too:
    azure-data-tables 12.7 turns a cut-off answer into an AttributeError while decoding it."""
    seen: BaseException | None = error
    for _ in range(10):
        if seen is None:
            return False
        if isinstance(seen, ServiceResponseError | IncompleteReadError):
            return True
        if isinstance(seen, HttpResponseError) and (seen.status_code or 0) >= 500:
            return True
        seen = seen.__cause__ or seen.__context__
    return False


class TableWriter:
    """Verified writes on one table. Entities are plain mappings (see entity_codec.py)."""

    def __init__(self, table: TableClient):
        self.table = table

    # --- one entity -----------------------------------------------------------------------
    def read(self, partition: str, row: str) -> TableEntity | None:
        try:
            return self.table.get_entity(partition, row)
        except ResourceNotFoundError:
            return None

    def insert(self, entity: Mapping[str, Any], *, resends: int = RESENDS) -> str:
        """The new ETag; raises WriteConflict when the entity exists (and is not our own write)."""
        stamped = {**entity, CHANGE_ID: new_change_id()}
        try:
            return str(self.table.create_entity(stamped).get("etag"))
        except ResourceExistsError as exc:
            return self._own_or_conflict(stamped, exc)
        except Exception as exc:
            if not _ambiguous(exc):
                raise
            went = self._unanswered(stamped, exc, still_applies=lambda current: current is None)
            if went is not None:
                return went
            if resends <= 0:
                raise
            return self.insert(entity, resends=resends - 1)

    def replace(self, entity: Mapping[str, Any], etag: str | None) -> str:
        """Replaces the entity if unchanged since `etag` (or if it exists, without one)."""
        return self._update(entity, etag, UpdateMode.REPLACE)

    def merge(self, entity: Mapping[str, Any], etag: str | None = None) -> str:
        """Merges the given properties if the entity is unchanged since `etag` (or exists, without one)."""
        return self._update(entity, etag, UpdateMode.MERGE)

    def upsert(self, entity: Mapping[str, Any], *, merge: bool = False, resends: int = RESENDS) -> str:
        stamped = {**entity, CHANGE_ID: new_change_id()}
        try:
            metadata = self.table.upsert_entity(stamped, mode=UpdateMode.MERGE if merge else UpdateMode.REPLACE)
        except Exception as exc:
            # Unconditional: sending it again applies the same change again, which is harmless.
            if not _ambiguous(exc) or resends <= 0:
                raise
            return self.upsert(entity, merge=merge, resends=resends - 1)
        return str(metadata.get("etag"))

    def delete(self, partition: str, row: str, etag: str | None = None, *, resends: int = RESENDS) -> None:
        """Removes the entity (if unchanged since `etag`); an entity already gone is fine."""
        try:
            if etag is None:
                self.table.delete_entity(partition, row)
            else:
                self.table.delete_entity(partition, row, etag=etag, match_condition=MatchConditions.IfNotModified)
        except ResourceNotFoundError:
            return
        except ResourceModifiedError as exc:
            raise WriteConflict(f"{partition}/{row} changed before it could be removed") from exc
        except Exception as exc:
            if not _ambiguous(exc):
                raise
            current = self._read_through(partition, row, exc)
            if current is None:
                return
            if etag is not None and current.metadata.get("etag") != etag:
                raise WriteConflict(f"{partition}/{row} changed before it could be removed") from exc
            if resends <= 0:
                raise
            self.delete(partition, row, etag, resends=resends - 1)

    def _update(self, entity: Mapping[str, Any], etag: str | None, mode: UpdateMode, resends: int = RESENDS) -> str:
        stamped = {**entity, CHANGE_ID: new_change_id()}
        condition = MatchConditions.IfNotModified if etag else MatchConditions.Unconditionally
        try:
            metadata = self.table.update_entity(stamped, mode=mode, etag=etag, match_condition=condition)
            return str(metadata.get("etag"))
        except (ResourceModifiedError, ResourceNotFoundError) as exc:
            return self._own_or_conflict(stamped, exc)
        except Exception as exc:
            if not _ambiguous(exc):
                raise
            went = self._unanswered(
                stamped,
                exc,
                still_applies=lambda current: (
                    current is not None and (etag is None or current.metadata.get("etag") == etag)
                ),
            )
            if went is not None:
                return went
            if resends <= 0:
                raise
            return self._update(entity, etag, mode, resends - 1)

    def _own_or_conflict(self, stamped: Mapping[str, Any], error: Exception) -> str:
        current = self._read_through(str(stamped["PartitionKey"]), str(stamped["RowKey"]), error)
        if current is not None and current.get(CHANGE_ID) == stamped[CHANGE_ID]:
            logger.info("%s/%s: a lost answer's retry met our own change", stamped["PartitionKey"], stamped["RowKey"])
            return str(current.metadata.get("etag"))
        raise WriteConflict(f"{stamped['PartitionKey']}/{stamped['RowKey']} was changed by someone else") from error

    def _unanswered(
        self, stamped: Mapping[str, Any], error: Exception, *, still_applies: Callable[[TableEntity | None], bool]
    ) -> str | None:
        """A write whose answer never came, read back: its new ETag when it went through; None when
        what is stored is still what the write was made against (it never arrived: send it again);
        WriteConflict when someone else's change is there."""
        current = self._read_through(str(stamped["PartitionKey"]), str(stamped["RowKey"]), error)
        if current is not None and current.get(CHANGE_ID) == stamped[CHANGE_ID]:
            logger.info(
                "%s/%s: the answer was lost, the change went through", current["PartitionKey"], current["RowKey"]
            )
            return str(current.metadata.get("etag"))
        if not still_applies(current):
            raise WriteConflict(f"{stamped['PartitionKey']}/{stamped['RowKey']} was changed by someone else") from error
        return None

    def _read_through(self, partition: str, row: str, error: Exception) -> TableEntity | None:
        """Reads back after an ambiguous answer; when even that fails, the original error stands."""
        try:
            return self.read(partition, row)
        except Exception as second:
            raise error from second

    # --- many entities --------------------------------------------------------------------
    def transact(self, changes: Sequence[Change], *, resends: int = RESENDS) -> list[str]:
        """Applies the changes (one partition, at most 100) all or none; the new ETags in order.
        Raises TransactionRefused when one of them cannot apply, TransactionTooLarge without sending."""
        change_id = new_change_id()
        stamped = [
            change
            if change.op is Op.DELETE
            else Change(change.op, {**change.entity, CHANGE_ID: change_id}, change.etag)
            for change in changes
        ]
        try:
            return send_changes(self.table, stamped)
        except TransactionRefused as refused:
            if refused.status in (409, 412, 404) and self._applied(stamped, change_id, refused):
                return self._etags(stamped)
            raise
        except TransactionTooLarge:
            raise
        except Exception as exc:
            if not _ambiguous(exc):
                raise
            if self._applied(stamped, change_id, exc):
                return self._etags(stamped)
            if resends <= 0:
                raise
            # Not applied (all or none): sent again; a precondition that failed fails again, plainly.
            return self.transact(changes, resends=resends - 1)

    def _applied(self, changes: Sequence[Change], change_id: str, error: Exception) -> bool:
        """Whether a transaction whose answer was lost (or whose retry was refused) went through: it
        is all or none, so one written entity carrying its ChangeId, or every deleted one gone, tells."""
        written = next((change for change in changes if change.op is not Op.DELETE), None)
        if written is not None:
            current = self._read_through(written.partition, written.row, error)
            applied = current is not None and current.get(CHANGE_ID) == change_id
        else:
            applied = all(self._read_through(change.partition, change.row, error) is None for change in changes)
        if applied:
            logger.info("a transaction of %d changes went through although its answer was lost", len(changes))
        return applied

    def _etags(self, changes: Sequence[Change]) -> list[str]:
        etags = []
        for change in changes:
            if change.op is Op.DELETE:
                etags.append("")
                continue
            current = self.read(change.partition, change.row)
            etags.append(str(current.metadata.get("etag")) if current is not None else "")
        return etags

    def write_all(self, changes: Sequence[Change]) -> list[Written]:
        """Each change on its own terms, as few requests as possible: grouped into transactions of up to
        100 per partition (a few sent at once); a transaction one change spoils is split, so a conflict
        costs only that change. Results in the order given."""
        by_partition: dict[str, list[int]] = {}
        for index, change in enumerate(changes):
            by_partition.setdefault(change.partition, []).append(index)
        chunks = [
            indexes[start : start + MAX_TRANSACTION_OPERATIONS]
            for indexes in by_partition.values()
            for start in range(0, len(indexes), MAX_TRANSACTION_OPERATIONS)
        ]
        results: list[Written | None] = [None] * len(changes)

        def write(chunk: list[int]) -> None:
            for index, written in zip(chunk, self._write_chunk([changes[i] for i in chunk]), strict=True):
                results[index] = written

        _each(write, chunks)
        return [result for result in results if result is not None]

    def _write_chunk(self, chunk: list[Change]) -> list[Written]:
        if len(chunk) == 1:
            return [self._write_one(chunk[0])]
        try:
            etags = self.transact(chunk)
        except TransactionTooLarge:
            half = len(chunk) // 2
            return self._write_chunk(chunk[:half]) + self._write_chunk(chunk[half:])
        except TransactionRefused as refused:
            logger.info("a transaction of %d changes was refused (%s); writing them one by one", len(chunk), refused)
            return [self._write_one(change) for change in chunk]
        return [Written(change, etag) for change, etag in zip(chunk, etags, strict=True)]

    def _write_one(self, change: Change) -> Written:
        try:
            if change.op is Op.INSERT:
                return Written(change, self.insert(change.entity))
            if change.op is Op.REPLACE:
                return Written(change, self.replace(change.entity, change.etag))
            if change.op is Op.MERGE:
                return Written(change, self.merge(change.entity, change.etag))
            if change.op in (Op.UPSERT, Op.UPSERT_MERGE):
                return Written(change, self.upsert(change.entity, merge=change.op is Op.UPSERT_MERGE))
            self.delete(change.partition, change.row, change.etag)
            return Written(change, "")
        except WriteConflict:
            return Written(change, conflict=True)


def _each(work: Callable[[T], None], items: Sequence[T]) -> None:
    if len(items) <= 1:
        for item in items:
            work(item)
        return
    with ThreadPoolExecutor(max_workers=PARALLEL_TRANSACTIONS, thread_name_prefix="table-batch") as pool:
        list(pool.map(work, items))
