"""The figures of completion by event (`make bench`, section `events`): files trickling in one by one,
a job whose every document fails (it writes nothing, so only the poll's backstop sees it), and the
target container's events lost altogether (the subscription down), each on the whole local stack
with the default settings (POLL_SCHEDULE included)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.counting import emulator_jobs, reset_emulator, service_calls
from bench.measures import EMULATOR_ARGS, WRITTEN_FUNCTION, file_latencies, stack, text
from devstack.dropping import DroppedFile, wait_for_final_records
from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.record_keys import record_key
from shared.storage.records import FinalRecord

# A text file of blanks: the service fails each of its documents (NoTranslatableText) and writes nothing.
NOTHING_TO_TRANSLATE = b"   \n\n   \n"


@dataclass
class Trickle:
    files: int = 0
    seconds_between: float = 0.0
    calls: dict[str, int] = field(default_factory=dict)  # a plain dict: asdict() garbles a Counter
    jobs: int = 0
    latencies: list[float] = field(default_factory=list)  # job finished -> final record, seconds
    all_failed_files: int = 0
    all_failed_latencies: list[float] = field(default_factory=list)
    all_failed_outcomes: list[str] = field(default_factory=list)

    @property
    def calls_per_file(self) -> float:
        return sum(self.calls.values()) / max(self.files, 1)


@dataclass
class EventsLost:
    files: int = 0
    recorded: int = 0
    latencies: list[float] = field(default_factory=list)
    seconds: float = 0.0


def _drop(settings: Settings, name: str, data: bytes) -> DroppedFile:
    source = StorageClients(settings).container(settings.source_container)
    etag = str(source.get_blob_client(name).upload_blob(data, overwrite=True)["etag"]).strip('"')
    return DroppedFile(name, etag, record_key(settings.source_container, name, etag))


def _latencies(endpoint: str, key: str, records: dict[str, FinalRecord]) -> list[float]:
    return file_latencies(emulator_jobs(endpoint, key), records)


def trickle(workdir: Path, *, files: int, seconds_between: float, all_failed_files: int) -> Trickle:
    """Files dropped one at a time, `seconds_between` apart, at the default settings; then files whose
    every document fails (their jobs write nothing: only the poll's backstop notices them)."""
    result = Trickle(files=files, seconds_between=seconds_between, all_failed_files=all_failed_files)
    with stack(workdir, with_host=True, emulator_args=EMULATOR_ARGS, settings={}) as local:
        settings, endpoint, key = local.settings, local.emulator_endpoint, local.config.emulator_key
        reset_emulator(endpoint, key)
        # A running app: what the service supports is loaded already (once per instance and hour).
        wait_for_final_records(settings, [_drop(settings, "trickle/warm-up.txt", text(19_999))], timeout=120)
        before = service_calls(endpoint, key)
        dropped = []
        for index in range(files):
            dropped.append(_drop(settings, f"trickle/doc{index:03d}.txt", text(20_000 + index)))
            time.sleep(seconds_between)
        records = wait_for_final_records(settings, dropped, timeout=300)
        result.calls = dict(service_calls(endpoint, key) - before)
        result.latencies = _latencies(endpoint, key, records)
        jobs = {record.job_id for record in records.values()}
        result.jobs = len(jobs)
        failing = [
            _drop(settings, f"blank/blank{index}.txt", NOTHING_TO_TRANSLATE) for index in range(all_failed_files)
        ]
        failed = wait_for_final_records(settings, failing, timeout=600)
        result.all_failed_outcomes = sorted(record.outcome for record in failed.values())
        result.all_failed_latencies = _latencies(endpoint, key, failed)
    return result


def events_lost(workdir: Path, *, files: int) -> EventsLost:
    """Every event of the target container lost (its subscription down): the poll's backstop alone."""
    result = EventsLost(files=files)
    host_args = ("--watch-interval", "0.5", "--lose-events", f"{WRITTEN_FUNCTION}=1")
    with stack(workdir, with_host=True, emulator_args=EMULATOR_ARGS, settings={}, host_args=host_args) as local:
        settings, endpoint, key = local.settings, local.emulator_endpoint, local.config.emulator_key
        reset_emulator(endpoint, key)
        started = time.monotonic()
        dropped = [_drop(settings, f"lost/doc{index:03d}.txt", text(30_000 + index)) for index in range(files)]
        records = wait_for_final_records(settings, dropped, timeout=600)
        result.seconds = time.monotonic() - started
        result.recorded = len(records)
        result.latencies = _latencies(endpoint, key, records)
    return result
