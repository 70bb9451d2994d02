"""What a record says about its source version cannot drift from it: the key and the ETag."""

from dataclasses import replace
from datetime import UTC, datetime
from types import SimpleNamespace

from shared.storage.record_keys import record_key, unquoted_etag
from shared.storage.records import OpenRecord, SourceVersion, State

NOW = datetime(2026, 11, 23, tzinfo=UTC)


def test_a_record_given_another_etag_is_keyed_by_that_version():
    record = OpenRecord.new(SourceVersion("source", "a.txt", "0x1", NOW, 5), state=State.FINISHING, at=NOW)
    other = replace(record, source_etag="0x2")
    assert other.key == record_key("source", "a.txt", "0x2") and other.key != record.key


def test_an_etag_loses_its_quotes_in_one_place_whoever_reads_it():
    properties = SimpleNamespace(etag='"0x8D1"', last_modified=NOW, size=3, content_settings=None)
    assert SourceVersion.of("source", "a.txt", properties).etag == unquoted_etag('"0x8D1"') == "0x8D1"
    assert unquoted_etag("0x8D1") == "0x8D1"
