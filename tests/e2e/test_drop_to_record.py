"""Drop files into Azurite and find translations and records, with nothing else done by hand."""

from __future__ import annotations

import time

import pytest

from devstack.dropping import DroppedFile, drop_files, wait_for_final_records
from shared.storage.clients import StorageClients
from shared.storage.record_table import RecordTable
from shared.storage.records import State
from tests.e2e.conftest import start_batch_counts

pytestmark = pytest.mark.e2e

TEXTS = {
    "notes.txt": b"Hello world.\nSecond line.\n",
    "readme.md": b"# Title\n\nSome *markdown* text.\n",
    "page.html": b"<html><body><h1>Hello</h1><p>World</p></body></html>",
    "table.csv": b"a,b\nhello,world\n",
}


def write_files(tmp_path, prefix: str, files: dict[str, bytes]):
    folder = tmp_path / prefix
    folder.mkdir()
    paths = []
    for name, data in files.items():
        path = folder / name
        path.write_bytes(data)
        paths.append(path)
    return paths


def test_every_dropped_file_ends_with_one_record_and_one_batch(stack, tmp_path):
    settings = stack.settings
    clients = StorageClients(settings)
    target = clients.container(settings.target_container)
    # A file nobody translated already sits where the German translation must go.
    target.upload_blob("de/run1/taken.txt", b"someone else's file")
    files = {**TEXTS, "taken.txt": b"Taken target", "archive.zip": b"PK\x03\x04", "empty.txt": b""}
    dropped = drop_files(settings, write_files(tmp_path, "run1", files), prefix="run1/")

    records = wait_for_final_records(settings, dropped, timeout=120)
    assert len(records) == len(dropped), f"missing records; logs in {stack.logs}"
    by_name = {item.name: records[item.key] for item in dropped}

    for name in TEXTS:
        record = by_name[f"run1/{name}"]
        assert record.outcome == "Succeeded", (name, record)
        assert {outcome.language for outcome in record.language_outcomes} == {"fr", "de"}
        for outcome in record.language_outcomes:
            assert outcome.published
            translated = target.download_blob(f"{outcome.language}/run1/{name}").readall()
            assert translated and translated != TEXTS[name]  # the emulator's marked pseudo-translation

    taken = by_name["run1/taken.txt"]
    assert taken.outcome == "PartiallySucceeded"
    assert {o.language: o.error_code for o in taken.language_outcomes} == {"fr": None, "de": "TargetFileAlreadyExists"}
    assert target.download_blob("de/run1/taken.txt").readall() == b"someone else's file"

    assert (by_name["run1/archive.zip"].outcome, by_name["run1/archive.zip"].reason_code) == (
        "Rejected",
        "UnsupportedFormat",
    )
    assert (by_name["run1/empty.txt"].outcome, by_name["run1/empty.txt"].reason_code) == ("Rejected", "EmptyDocument")

    # Each event arrived three times, concurrently: still exactly one batch per submitted file.
    counts = start_batch_counts(stack)
    submitted = [name for name in files if name not in ("archive.zip", "empty.txt")]
    assert {name: counts[f"run1/{name}"] for name in submitted} == dict.fromkeys(submitted, 1)
    assert counts["run1/archive.zip"] == counts["run1/empty.txt"] == 0

    reports = clients.container(settings.reports_container)
    assert {blob.name for blob in reports.list_blobs(name_starts_with="run1/")} == {
        f"run1/{name}.json" for name in files
    }


def test_a_new_version_replaces_the_translation(stack, tmp_path):
    settings = stack.settings
    [first] = drop_files(settings, write_files(tmp_path, "v1", {"letter.txt": b"First version"}), prefix="run2/")
    assert wait_for_final_records(settings, [first], timeout=60)[first.key].outcome == "Succeeded"
    [second] = drop_files(settings, write_files(tmp_path, "v2", {"letter.txt": b"Second version"}), prefix="run2/")
    record = wait_for_final_records(settings, [second], timeout=60)[second.key]
    assert record.outcome == "Succeeded"
    target = StorageClients(settings).container(settings.target_container)
    assert b"Second version" in target.download_blob("fr/run2/letter.txt").readall().replace(b"[fr] ", b"")


def test_a_host_killed_mid_run_loses_nothing_and_submits_nothing_twice(stack, tmp_path):
    settings = stack.settings
    records = RecordTable(StorageClients(settings).records_table)
    names = {f"doc{index}.txt": f"Document number {index}.".encode() for index in range(8)}
    dropped: list[DroppedFile] = drop_files(settings, write_files(tmp_path, "before", names), prefix="run3/")

    # Kill the host as soon as the first submissions are on record, before the work is done.
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if any((record := records.get_open(item.key)) and record.state == State.GROUPED for item in dropped):
            break
        time.sleep(0.1)
    stack.stop_host(kill=True)
    outstanding = [item.name for item in dropped if records.get_open(item.key) is not None]
    assert outstanding, "the host died after every file was recorded: this test proved nothing"
    # Files dropped while no host runs are not lost either.
    later = {f"late{index}.txt": f"Late document {index}.".encode() for index in range(3)}
    dropped += drop_files(settings, write_files(tmp_path, "during", later), prefix="run3/")
    time.sleep(1)
    stack.start_host()

    records = wait_for_final_records(settings, dropped, timeout=120)
    assert len(records) == len(dropped), f"missing records; logs in {stack.logs}"
    assert {record.outcome for record in records.values()} == {"Succeeded"}
    counts = start_batch_counts(stack)
    assert {item.name: counts[item.name] for item in dropped} == {item.name: 1 for item in dropped}
