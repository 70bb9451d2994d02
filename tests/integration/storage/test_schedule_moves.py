"""Moving many entries of the schedule at once (a busy tick moves hundreds) on Azurite: as few
transactions as they fit, each move all or none, one moved first by another look left out while
the others are made, and never one entity twice in one transaction."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from azure.data.tables import TableClient, TableServiceClient

from devstack.azurite import Azurite
from shared.storage.schedule_table import DueEntry, DueKind, Move, Plan, ScheduleTable, Submission, SubmissionState

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)


@pytest.fixture
def table(azurite: Azurite) -> Iterator[TableClient]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_table(f"moves{uuid.uuid4().hex[:12]}")
    yield client
    service.delete_table(client.table_name)


@pytest.fixture
def schedule(table: TableClient) -> ScheduleTable:
    return ScheduleTable(table)


def count_transactions(schedule: ScheduleTable, monkeypatch) -> list[int]:
    sizes: list[int] = []
    transact = schedule.writer.transact

    def counted(changes, **kwargs):
        sizes.append(len(changes))
        return transact(changes, **kwargs)

    monkeypatch.setattr(schedule.writer, "transact", counted)
    return sizes


def record_entries(schedule: ScheduleTable, count: int) -> list[DueEntry]:
    return [schedule.put_due(DueEntry(NOW, DueKind.RECORD, f"record-{index:04d}")) for index in range(count)]


def later(entry: DueEntry) -> DueEntry:
    return replace(entry, at=entry.at + timedelta(minutes=1), etag=None)


def test_many_moves_go_in_as_few_transactions_as_they_fit(schedule, monkeypatch):
    entries = record_entries(schedule, 120)
    sizes = count_transactions(schedule, monkeypatch)
    assert schedule.reschedule_all([Move(entry, later(entry)) for entry in entries]) == [True] * 120
    assert sizes == [100, 100, 40]  # a delete and an insert each, 100 operations a transaction
    assert schedule.due(NOW) == []
    assert len(schedule.due(NOW + timedelta(minutes=1))) == 120


def test_a_move_another_look_made_first_is_left_out_and_the_others_are_made(schedule):
    entries = record_entries(schedule, 10)
    schedule.reschedule(entries[3], later(entries[3]))  # another look moved it first
    made = schedule.reschedule_all(
        [Move(entry, replace(later(entry), at=NOW + timedelta(hours=1))) for entry in entries]
    )
    assert made == [True] * 3 + [False] + [True] * 6
    assert [entry.target for entry in schedule.due(NOW + timedelta(minutes=1))] == ["record-0003"]
    assert len(schedule.due(NOW + timedelta(hours=1))) == 10  # its own move, and the nine others


def test_two_moves_of_one_submission_never_share_a_transaction(schedule, monkeypatch):
    submission = Submission(
        id="s1",
        container="source",
        plan=Plan(("fr",)).digest,
        languages=["fr"],
        glossaries={},
        category=None,
        source_language=None,
        members=[],
        state=SubmissionState.SUBMITTED,
        created_at=NOW,
    )
    own = DueEntry(NOW, DueKind.SUBMISSION, "s1", state="Submitted", job_id="job-1")
    assert schedule.create(submission, own) is not None
    # An entry of an earlier release's crash between two writes: both record their look on "s1".
    stray = schedule.put_due(replace(own, at=NOW - timedelta(seconds=1)))
    [stray, own] = schedule.due(NOW)
    sizes = count_transactions(schedule, monkeypatch)
    moves = [
        Move(own, replace(own, at=NOW + timedelta(minutes=1), etag=None), {"DocumentsDone": 3}),
        Move(stray, replace(stray, at=NOW + timedelta(minutes=2), etag=None)),
    ]
    assert schedule.reschedule_all(moves) == [True, True]
    assert sizes == [3, 3]  # each with its merge of the submission, in a transaction of its own
