"""Our `$batch` encoding against Azurite: what it writes reads back as what the SDK writes, the
ETags it returns are the table's, and a changed or vanished entity makes it write nothing."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.data.tables import EdmType, EntityProperty, TableClient, TableServiceClient, UpdateMode

from devstack.azurite import Azurite
from shared.storage.record_table import OpenRecord, RecordTable, State
from shared.storage.table_transactions import (
    MAX_TRANSACTION_BYTES,
    TransactionRefused,
    edm_json,
    replace_if_unchanged,
)

pytestmark = pytest.mark.integration


@pytest.fixture
def table(azurite: Azurite) -> Iterator[TableClient]:
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    client = service.create_table(f"tx{uuid.uuid4().hex[:12]}")
    yield client
    service.delete_table(client.table_name)


def _stored(table: TableClient, partition: str, row: str) -> dict:
    return dict(table.get_entity(partition, row))


def _created(table: TableClient, count: int, partition: str = "p") -> list[tuple[dict, str]]:
    made = []
    for index in range(count):
        entity = {"PartitionKey": partition, "RowKey": f"r{index:03d}", "Value": index}
        made.append((entity, table.create_entity(entity)["etag"]))
    return made


def _open(name: str, size: int = 1) -> OpenRecord:
    now = datetime.now(UTC)
    return OpenRecord.new("source", name, "0x1", modified=now, size=size, state=State.SUBMITTED, at=now)


def test_a_hundred_replaces_in_one_request_return_the_etags_the_table_reads(table: TableClient) -> None:
    made = _created(table, 100)
    changed = [({**entity, "Value": entity["Value"] + 1000, "Note": "changed"}, etag) for entity, etag in made]

    etags = replace_if_unchanged(table, changed)

    assert len(etags) == 100
    for (entity, _), etag in zip(changed, etags, strict=True):
        stored = table.get_entity(entity["PartitionKey"], entity["RowKey"])
        assert stored["Value"] == entity["Value"] and stored["Note"] == "changed"
        assert stored.metadata["etag"] == etag


def test_every_value_reads_back_as_what_the_sdk_writes(table: TableClient) -> None:
    moment = datetime(2026, 11, 24, 6, 30, 1, 123456, tzinfo=UTC)
    values = {
        "Text": "é 日本語 \"quoted\" 'single'\r\n--changeset_not_a_boundary\r\nContent-Type: application/http",
        "Small": -(2**31),
        "Large": EntityProperty(3 * 2**30, EdmType.INT64),
        "Ratio": 1.0,
        "Flag": False,
        "Moment": moment,
        "LocalMoment": moment.astimezone(timezone(timedelta(hours=2))),
    }
    # Keys with the characters OData and URLs escape.
    keys = {"PartitionKey": "it's é 日本", "RowKey": "o'brien %20 & + = 'x'"}
    table.create_entity({**keys, "Old": 1})
    table.upsert_entity({"PartitionKey": "sdk", "RowKey": "sdk", **values}, mode=UpdateMode.REPLACE)
    etag = table.get_entity(keys["PartitionKey"], keys["RowKey"]).metadata["etag"]

    replace_if_unchanged(table, [({**keys, **values}, etag)])

    ours = _stored(table, keys["PartitionKey"], keys["RowKey"])
    sdks = _stored(table, "sdk", "sdk")
    assert "Old" not in ours, "a replace drops the properties it does not send"
    for name in values:
        assert ours[name] == sdks[name], name
        assert type(ours[name]) is type(sdks[name]), name
    assert ours["Large"].value == 3 * 2**30


def test_a_changed_entity_makes_the_transaction_write_nothing(table: TableClient) -> None:
    made = _created(table, 3)
    sneaky, _ = made[1]
    table.update_entity({**sneaky, "Value": -1}, mode=UpdateMode.REPLACE)

    with pytest.raises(TransactionRefused) as refused:
        replace_if_unchanged(table, [({**entity, "Value": 99}, etag) for entity, etag in made])

    assert refused.value.status == 412
    assert refused.value.index == 1
    assert [_stored(table, "p", entity["RowKey"])["Value"] for entity, _ in made] == [0, -1, 2]


def test_a_vanished_entity_makes_the_transaction_write_nothing(table: TableClient) -> None:
    made = _created(table, 2)
    table.delete_entity("p", "r001")

    with pytest.raises(TransactionRefused) as refused:
        replace_if_unchanged(table, [({**entity, "Value": 99}, etag) for entity, etag in made])

    assert refused.value.status == 404
    assert _stored(table, "p", "r000")["Value"] == 0


def test_values_without_a_table_type_are_refused_before_sending() -> None:
    with pytest.raises(TypeError, match=r"Edm\.Int32"):
        edm_json({"Large": 2**31})
    with pytest.raises(TypeError, match="no Table type"):
        edm_json({"Items": [1, 2]})


def test_update_many_writes_the_others_when_one_record_lost_a_race(table: TableClient) -> None:
    records = RecordTable(table)
    claimed = [
        # A 3 GB drop: beyond Edm.Int32, stored as Edm.Int64.
        records.claim(_open(f"race/{index}.txt", size=3 * 2**30 + index))
        for index in range(150)
    ]
    assert all(record is not None for record in claimed)
    fresh = [record for record in claimed if record is not None]
    # Somebody else writes record 120 (in the second transaction) first.
    assert records.update(replace(fresh[120], service_status="Running")) is not None

    written = records.update_many([replace(record, service_status="Succeeded") for record in fresh])

    assert written[120] is None
    assert all(result is not None for index, result in enumerate(written) if index != 120)
    assert records.get_open(fresh[120].key).service_status == "Running"  # type: ignore[union-attr]
    for result in (written[0], written[149]):
        assert result is not None
        stored = records.get_open(result.key)
        assert stored is not None
        assert stored.service_status == "Succeeded" and stored.etag == result.etag
        assert stored.content_length == result.content_length > 2**31
    assert {record.key for record in records.outstanding()} == {record.key for record in fresh}


def test_records_too_large_for_one_transaction_go_in_several(table: TableClient, monkeypatch) -> None:
    records = RecordTable(table)
    fresh = [records.claim(_open(f"long/{index}.txt")) for index in range(100)]
    sent: list[int] = []
    send = table._client.send_request

    def measured(request, **kwargs):
        sent.append(len(request.content))
        return send(request, **kwargs)

    monkeypatch.setattr(table._client, "send_request", measured)
    # 100 records of about 60 KB each: 6 MB, over the 4 MiB a transaction may carry.
    changed = [replace(record, last_error="é" * 28_000) for record in fresh if record is not None]

    written = records.update_many(changed)

    assert all(result is not None for result in written)
    assert len(sent) >= 2 and max(sent) <= MAX_TRANSACTION_BYTES
    assert records.get_open(changed[99].key).last_error == "é" * 28_000  # type: ignore[union-attr]
