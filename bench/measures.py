"""Each figure of `make bench`, measured on real parts: Azurite, the emulator and the local functions
host run as their own processes; the app's code runs in the host, or (for the figures of one step)
in this process against the other two."""

from __future__ import annotations

import itertools
import os
import random
import re
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import requests
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient
from azure.storage.blob import ContainerClient

from bench.counting import azurite_requests, emulator_jobs, reset_emulator, service_calls, storage_calls
from bench.sdk_baseline import run_sdk
from devstack.dropping import DroppedFile, wait_for_final_records
from devstack.host.webhook import FUNCTION_NAME_PREFIX, WEBHOOK_PATH, blob_created_event
from devstack.stack import LocalStack, StackConfig
from devstack.storage_proxy import Faults
from shared.pipeline.context import PipelineContext
from shared.pipeline.poll import poll_outstanding_jobs, poll_shard
from shared.pipeline.record import record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.blob_names import staging_owner
from shared.storage.clients import StorageClients
from shared.storage.record_keys import FINAL_PARTITION, record_key
from shared.storage.record_table import RecordTable
from shared.storage.records import FinalRecord, OpenRecord, SourceVersion, State

LANGUAGES = ("fr", "de")
WORDS = "the quick brown fox jumps over the lazy dog while translators translate every single line".split()
# Bench-wide settings of the emulator: the same for our app and for the SDK baseline.
# The blob trigger declared in function_app.py (shared/triggers/submit_on_drop.py).
SUBMIT_FUNCTION = "submit_on_drop"
# The blob trigger on the target container's staging writes (shared/triggers/notice_translation_written.py).
WRITTEN_FUNCTION = "notice_translation_written"
EMULATOR_ARGS = ["--document-seconds", "0.5", "--workers", "8"]


def text(seed: int, characters: int = 400) -> bytes:
    chooser = random.Random(seed)
    words: list[str] = []
    while sum(len(word) + 1 for word in words) < characters:
        words.append(chooser.choice(WORDS))
    return (" ".join(words)[:characters] + "\n").encode()


@contextmanager
def stack(
    workdir: Path,
    *,
    with_host: bool,
    emulator_args: list[str],
    settings: dict[str, str],
    host_args: tuple[str, ...] = ("--watch-interval", "0.5"),
    azurite_debug_log: Path | None = None,
    host_instances: int = 1,
    storage_faults: Faults | None = None,
    announce_writes: bool = False,
) -> Iterator[LocalStack]:
    """The local stack. `announce_writes`: the emulator POSTs each written translation's event to the
    host's webhook itself, as Event Grid would, for a host that lists no container (`--no-watch`)."""
    config = StackConfig.on_free_ports(
        workdir,
        azurite_debug_log=azurite_debug_log,
        settings_overrides={"TARGET_LANGUAGES": ",".join(LANGUAGES), **settings},
        emulator_args=emulator_args,
        host_args=list(host_args),
        host_instances=host_instances,
        storage_faults=storage_faults,
    )
    if announce_writes:
        webhook = (
            f"http://127.0.0.1:{config.host_port}{WEBHOOK_PATH}?functionName={FUNCTION_NAME_PREFIX}{WRITTEN_FUNCTION}"
        )
        config.emulator_args = [*config.emulator_args, "--announce-writes", webhook]
    config.with_host = with_host
    running = LocalStack(config).start()
    try:
        yield running
    finally:
        running.stop()


def parse_time(value: str) -> datetime:
    return datetime.fromisoformat(value)


def file_latencies(jobs: list[dict[str, Any]], records: Mapping[str, FinalRecord]) -> list[float]:
    """Seconds from the moment the service finished each file (its last document, as the emulator
    says) to its final record: what a user waits once the translation is done, whatever else its job
    still translates."""
    finished: dict[str, datetime] = {}
    for job in jobs:
        for document in job.get("documents", []):
            owner = staging_owner(f"/{document['target']}")
            if owner is not None:
                at = parse_time(document["lastActionDateTimeUtc"])
                finished[owner[0]] = max(finished.get(owner[0], at), at)
    return [(record.finished_at - finished[key]).total_seconds() for key, record in records.items() if key in finished]


# --- end to end ---------------------------------------------------------------------------------


@dataclass
class EndToEnd:
    ours_files: int = 0
    ours_seconds: float = 0.0
    ours_calls: dict[str, int] = field(default_factory=dict)  # a plain dict: asdict() garbles a Counter
    ours_latencies: list[float] = field(default_factory=list)
    ours_jobs: int = 0
    sdk_files: int = 0
    sdk_seconds: float = 0.0
    sdk_calls: dict[str, int] = field(default_factory=dict)  # a plain dict: asdict() garbles a Counter
    sdk_latencies: list[float] = field(default_factory=list)
    sdk_threaded_files: int = 0
    sdk_threaded_seconds: float = 0.0
    sdk_threaded_calls: dict[str, int] = field(default_factory=dict)  # a plain dict: asdict() garbles a Counter
    sdk_threaded_latencies: list[float] = field(default_factory=list)

    @property
    def ours_calls_per_file(self) -> float:
        return sum(self.ours_calls.values()) / max(self.ours_files, 1)

    @property
    def sdk_calls_per_file(self) -> float:
        return sum(self.sdk_calls.values()) / max(self.sdk_files, 1)

    @property
    def sdk_threaded_calls_per_file(self) -> float:
        return sum(self.sdk_threaded_calls.values()) / max(self.sdk_threaded_files, 1)


def end_to_end(workdir: Path, *, files: int, sdk_files: int, sdk_threaded_files: int) -> EndToEnd:
    """Our app with its default schedule (the host polls every 5 s, each job when due), then the SDK."""
    result = EndToEnd()
    with stack(workdir, with_host=True, emulator_args=EMULATOR_ARGS, settings={}) as local:
        settings = local.settings
        endpoint, key = local.emulator_endpoint, local.config.emulator_key
        source = StorageClients(settings).container(settings.source_container)
        reset_emulator(endpoint, key)
        before = service_calls(endpoint, key)
        started = time.monotonic()
        dropped = []
        for index in range(files):
            name = f"e2e/doc{index:04d}.txt"
            etag = str(source.get_blob_client(name).upload_blob(text(index), overwrite=True)["etag"]).strip('"')
            dropped.append(DroppedFile(name, etag, record_key(settings.source_container, name, etag)))
        records = wait_for_final_records(settings, dropped, timeout=600)
        result.ours_seconds = time.monotonic() - started
        result.ours_files = len(records)
        result.ours_calls = dict(service_calls(endpoint, key) - before)
        jobs = emulator_jobs(endpoint, key)
        result.ours_jobs = len(jobs)
        result.ours_latencies = file_latencies(jobs, records)

        # The same emulator, the same settings, for the baseline.
        ctx = PipelineContext(settings)
        for threads, count in ((1, sdk_files), (8, sdk_threaded_files)):
            names = [f"sdk{threads}/doc{index:04d}.txt" for index in range(count)]
            for index, name in enumerate(names):
                source.upload_blob(name, text(10_000 + index), overwrite=True)
            reset_emulator(endpoint, key)
            run = run_sdk(ctx, endpoint, key, names, LANGUAGES, threads)
            calls = dict(service_calls(endpoint, key))
            if threads == 1:
                result.sdk_files, result.sdk_seconds, result.sdk_calls = count, run.seconds, calls
                result.sdk_latencies = run.finished_to_result
            else:
                result.sdk_threaded_files, result.sdk_threaded_seconds = count, run.seconds
                result.sdk_threaded_calls, result.sdk_threaded_latencies = calls, run.finished_to_result
    return result


# --- the submit and record steps, in this process ---------------------------------------------------


@dataclass
class SubmitPath:
    files: int = 0
    seconds: list[float] = field(default_factory=list)
    storage_by_method: dict[str, int] = field(default_factory=dict)  # a plain dict: asdict() garbles a Counter
    storage_calls_per_file: float = 0.0
    record_storage_calls_per_file: float = 0.0


def submit_path(workdir: Path, *, files: int) -> SubmitPath:
    result = SubmitPath(files=files)
    with stack(workdir, with_host=False, emulator_args=["--document-seconds", "0"], settings={}) as local:
        ctx = PipelineContext(local.settings)
        source = ctx.storage.container(ctx.settings.source_container)
        # The first submission of a process asks the service what it supports: not counted.
        submit_dropped_blob(source.upload_blob("warm.txt", text(0), overwrite=True), ctx)
        blobs = []
        for index in range(files):
            source.upload_blob(f"submit/doc{index:04d}.txt", text(index), overwrite=True)
            blobs.append(source.get_blob_client(f"submit/doc{index:04d}.txt"))
        with storage_calls() as counts:
            for blob in blobs:
                started = time.perf_counter()
                submit_dropped_blob(blob, ctx)
                result.seconds.append(time.perf_counter() - started)
        result.storage_by_method = dict(counts)
        result.storage_calls_per_file = sum(counts.values()) / files
        # Let the jobs finish, hand them over, and count the record step's storage calls.
        time.sleep(2)
        poll_outstanding_jobs(_later(ctx, timedelta(seconds=30)))
        messages = []
        queue = ctx.storage.results_queue
        while batch := list(queue.receive_messages(max_messages=32)):
            for message in batch:
                messages.append(message.content)
                queue.delete_message(message)
        with storage_calls() as counts:
            for message in messages:
                record_outcome(message, ctx)
        result.record_storage_calls_per_file = sum(counts.values()) / max(len(messages), 1)
    return result


# --- the poller -------------------------------------------------------------------------------------


@dataclass
class PollCost:
    list_calls: dict[int, int] = field(default_factory=dict)
    list_calls_with_history: dict[int, int] = field(default_factory=dict)
    seconds: dict[int, float] = field(default_factory=dict)
    idle_table_requests: int = 0
    idle_service_calls: int = 0
    batched_write_seconds: float = 0.0
    batched_write_requests: int = 0
    single_write_seconds: float = 0.0


def poll_cost(workdir: Path, *, sizes: tuple[int, ...], history: int) -> PollCost:
    result = PollCost()
    # Jobs that stay outstanding for the whole measurement.
    emulator_args = ["--document-seconds", "3600", "--workers", "1"]
    settings = {"STUCK_JOB_AFTER_MINUTES": "200", "SAS_EXPIRY_MINUTES": "240"}
    with stack(workdir, with_host=False, emulator_args=emulator_args, settings=settings) as local:
        endpoint, key = local.emulator_endpoint, local.config.emulator_key
        base = PipelineContext(local.settings)
        source = base.storage.container(base.settings.source_container)
        submitted = 0
        offset = timedelta(hours=1)
        for size in sizes:

            def upload_one(index: int) -> None:
                source.upload_blob(f"poll/doc{index:05d}.txt", text(index), overwrite=True)

            with ThreadPoolExecutor(max_workers=8) as pool:
                list(pool.map(upload_one, range(submitted, size)))
            # One at a time, each its own job: files submitted together would share one.
            for index in range(submitted, size):
                submit_dropped_blob(source.get_blob_client(f"poll/doc{index:05d}.txt"), base)
            submitted = size
            for with_history in (False, True):
                offset += timedelta(minutes=5)
                ctx = _later(base, offset)
                before = service_calls(endpoint, key)["GET /batches"]
                polled, seconds = poll_all(ctx)
                calls = service_calls(endpoint, key)["GET /batches"] - before
                assert polled == size, f"polled {polled} of {size}"
                if with_history:
                    result.list_calls_with_history[size] = calls
                else:
                    result.list_calls[size] = calls
                    result.seconds[size] = seconds
            if size == sizes[0]:
                _write_history(base, history)
        # A tick right after: nothing is due.
        ctx = _later(base, offset)
        before = sum(service_calls(endpoint, key).values())
        with storage_calls() as counts:
            poll_outstanding_jobs(ctx)
        result.idle_table_requests = sum(counts.values())
        result.idle_service_calls = sum(service_calls(endpoint, key).values()) - before
        # 1,000 records changed at once (or all there are).
        records = list(itertools.islice(base.records.outstanding(), 1000))
        if len(records) < 1000:
            _ensure_open(base, 1000)
            records = list(itertools.islice(base.records.outstanding(), 1000))
        changed = [replace(record, last_error="looked at") for record in records]
        with storage_calls() as counts:
            started = time.perf_counter()
            written = base.records.update_many(changed)
            result.batched_write_seconds = time.perf_counter() - started
        result.batched_write_requests = sum(counts.values())
        again = [replace(record, last_error="looked at again") for record in written if record is not None]
        started = time.perf_counter()
        for record in again:
            base.records.update(record)
        result.single_write_seconds = time.perf_counter() - started
    return result


def poll_all(ctx: PipelineContext) -> tuple[int, float]:
    """One tick, and the shards it handed out (run here one after another; on Azure each on any
    instance): the jobs looked at, and the seconds it all took."""
    started = time.perf_counter()
    summary = poll_outstanding_jobs(ctx)
    polled = summary.polled
    queue = ctx.storage.poll_shards_queue
    while messages := list(queue.receive_messages(max_messages=32)):
        for message in messages:
            polled += poll_shard(ctx, message.content).polled
            queue.delete_message(message)
    return polled, time.perf_counter() - started


def _later(ctx: PipelineContext, offset: timedelta) -> PipelineContext:
    later = PipelineContext(ctx.settings, storage=ctx.storage, now=lambda: datetime.now(UTC) + offset)
    later._translator = ctx.translator
    return later


def _write_history(ctx: PipelineContext, count: int) -> None:
    """`count` recorded files in the table (the poll must not read them)."""
    table = ctx.storage.records_table
    now = datetime.now(UTC)
    for start in range(0, count, 100):
        operations: list[Any] = [
            (
                "upsert",
                {
                    "PartitionKey": FINAL_PARTITION,
                    "RowKey": record_key("source", f"old/{index}.txt", f"0x{index:x}"),
                    "SourceContainer": "source",
                    "SourceName": f"old/{index}.txt",
                    "SourceEtag": f"0x{index:x}",
                    "Outcome": "Succeeded",
                    "FinishedAt": now,
                },
            )
            for index in range(start, min(start + 100, count))
        ]
        table.submit_transaction(operations)


def _ensure_open(ctx: PipelineContext, count: int) -> None:
    records = RecordTable(ctx.storage.records_table)
    now = datetime.now(UTC)
    for index in range(count):
        source = SourceVersion("source", f"write/{index}.txt", "0x1", now, 1)
        records.claim(OpenRecord.new(source, state=State.GROUPED, at=now))


# --- reconciliation -------------------------------------------------------------------------------------


@dataclass
class ReconcileCost:
    recent_jobs: int = 0
    service_calls: int = 0
    calls: dict[str, int] = field(default_factory=dict)
    adopted: bool = False


def reconcile_cost(workdir: Path, *, recent_jobs: int) -> ReconcileCost:
    """One start call whose answer was lost, a few seconds after `recent_jobs` other jobs were made."""
    result = ReconcileCost(recent_jobs=recent_jobs)
    emulator_args = ["--document-seconds", "0", "--lost-answer-rate", "1", "--lost-answer-modes", "500"]
    with stack(workdir, with_host=False, emulator_args=emulator_args, settings={}) as local:
        ctx = PipelineContext(local.settings)
        endpoint, key = local.emulator_endpoint, local.config.emulator_key
        source = ctx.storage.container(ctx.settings.source_container)
        source.upload_blob("other.txt", text(1), overwrite=True)
        other = ctx.access.source_url(ctx.settings.source_container, "other.txt")

        def make_job(index: int) -> None:
            target = ctx.access.target_url(ctx.settings.target_container, f"other/{index}.txt")
            body = {
                "inputs": [
                    {
                        "storageType": "File",
                        "source": {"sourceUrl": other},
                        "targets": [{"targetUrl": target, "language": "fr"}],
                    }
                ]
            }
            httpx.post(
                f"{endpoint}/translator/document/batches?api-version=2026-03-01",
                json=body,
                headers={"Ocp-Apim-Subscription-Key": key},
                timeout=30,
            )

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(make_job, range(recent_jobs)))
        time.sleep(8)  # history: created before this attempt's seconds
        source.upload_blob("lost.txt", text(2), overwrite=True)
        outcome = submit_dropped_blob(source.get_blob_client("lost.txt"), ctx)
        assert outcome.reason == "uncertain", outcome
        before = service_calls(endpoint, key)
        poll_outstanding_jobs(_later(ctx, timedelta(seconds=5)))
        spent = service_calls(endpoint, key) - before
        result.calls = dict(spent)
        result.service_calls = sum(spent.values())
        record = ctx.records.get_open(outcome.key or "")
        submission = ctx.schedule.get_submission(record.submission) if record and record.submission else None
        result.adopted = submission is not None and submission.job_id is not None
    return result


# --- throughput, with a profile of the host -----------------------------------------------------------------


@dataclass
class Throughput:
    files: int = 0
    seconds: float = 0.0
    files_per_minute: float = 0.0
    host_cpu_ms_per_file: float = 0.0
    # CPU seconds of each part over the run: where the two cores went.
    cpu_seconds: dict[str, float] = field(default_factory=dict)
    profile: list[str] = field(default_factory=list)


def throughput(workdir: Path, *, files: int) -> Throughput:
    result = Throughput(files=files)
    with _throughput_stack(workdir) as local:
        assert local.host is not None and local.emulator is not None and local.azurite is not None
        host_pid = local.host.pid
        pids = {"host": host_pid, "emulator": local.emulator.pid, "azurite": local.azurite.process.pid}
        cpu_before = {part: _cpu_seconds(pid) for part, pid in pids.items()}
        bench_before = time.process_time()
        profile_file = workdir / "host-profile.txt"
        spy = subprocess.Popen(
            [
                str(Path(sys.executable).parent / "py-spy"),
                "record",
                "--pid",
                str(host_pid),
                "--format",
                "raw",
                "--rate",
                "50",
                "--nonblocking",
                # Only samples holding the GIL: where CPU goes, not where threads wait.
                "--gil",
                "--output",
                str(profile_file),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        started = time.monotonic()
        result.files = _drop_and_wait(local, files)
        result.seconds = time.monotonic() - started
        result.files_per_minute = result.files / result.seconds * 60
        result.cpu_seconds = {part: round(_cpu_seconds(pid) - cpu_before[part], 1) for part, pid in pids.items()}
        result.cpu_seconds["bench (uploads, waiting)"] = round(time.process_time() - bench_before, 1)
        result.host_cpu_ms_per_file = result.cpu_seconds["host"] * 1000 / max(result.files, 1)
        spy.send_signal(2)
        try:
            spy.wait(timeout=30)
        except subprocess.TimeoutExpired:
            spy.kill()
        result.profile = _profile_summary(profile_file)
    return result


@dataclass
class StorageRequests:
    files: int = 0
    # (caller, Azurite operation) -> requests per file
    per_file: dict[str, dict[str, float]] = field(default_factory=dict)

    def total(self, caller: str | None = None) -> float:
        return sum(
            count for who, operations in self.per_file.items() if caller in (None, who) for count in operations.values()
        )


def storage_requests(workdir: Path, *, files: int) -> StorageRequests:
    """The throughput run again, smaller and untimed, with Azurite logging every request: storage
    requests per file, by who made them (each part sends its own user agent) and by operation."""
    debug_log = workdir / "azurite-debug.log"
    with _throughput_stack(workdir, azurite_debug_log=debug_log) as local:
        recorded = _drop_and_wait(local, files)
    result = StorageRequests(files=recorded)
    for (caller, operation), count in sorted(azurite_requests(debug_log).items()):
        result.per_file.setdefault(caller, {})[operation] = round(count / max(recorded, 1), 2)
    debug_log.unlink()
    return result


@contextmanager
def _throughput_stack(workdir: Path, azurite_debug_log: Path | None = None) -> Iterator[LocalStack]:
    # Events are pushed to the host's webhook as Event Grid pushes them in Azure: the drops' by the
    # bench, the service's writes by the emulator as it writes them. The local watcher (which lists
    # the containers twice a second to stand in for Event Grid) is off: its listing cost grows with
    # the container and exists only locally.
    with stack(
        workdir,
        with_host=True,
        emulator_args=["--document-seconds", "0", "--workers", "8"],
        settings={},
        host_args=("--no-watch",),
        announce_writes=True,
        azurite_debug_log=azurite_debug_log,
    ) as local:
        yield local


def user_uploads(settings: Any) -> ContainerClient:
    """The user's client for the source container (not the app's: its requests are the user's), with
    a connection for each of up to 32 uploading threads."""
    session = requests.Session()
    session.trust_env = False
    adapter = requests.adapters.HTTPAdapter(pool_connections=4, pool_maxsize=32)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    return ContainerClient.from_connection_string(
        str(settings.storage.connection_string), settings.source_container, transport=RequestsTransport(session=session)
    )


def _drop_and_wait(local: LocalStack, files: int) -> int:
    """Uploads `files` small files 8 at a time, each followed by its BlobCreated event, and waits
    until they are all recorded; how many were."""
    settings = local.settings
    source = user_uploads(settings)
    keys: set[str] = set()
    lock = threading.Lock()
    webhook = (
        f"http://127.0.0.1:{local.config.host_port}{WEBHOOK_PATH}?functionName={FUNCTION_NAME_PREFIX}{SUBMIT_FUNCTION}"
    )
    with httpx.Client(headers={"aeg-event-type": "Notification"}, timeout=60) as event_grid:

        def drop(index: int) -> None:
            name = f"load/doc{index:05d}.txt"
            blob = source.get_blob_client(name)
            body = text(index)
            etag = str(blob.upload_blob(body, overwrite=True)["etag"])
            event_grid.post(webhook, json=[blob_created_event(blob.url, etag=etag, size=len(body))]).raise_for_status()
            with lock:
                keys.add(record_key(settings.source_container, name, etag.strip('"')))

        with ThreadPoolExecutor(max_workers=8) as pool:
            list(pool.map(drop, range(files)))
    return _wait_recorded(settings, keys, timeout=1200)


def _wait_recorded(settings: Any, keys: set[str], *, timeout: float) -> int:
    """How many of `keys` have a final record, once all do (or at the timeout). One query a
    second, for records finished since the last look (with a margin for writers that were slower
    than the clock): the benchmark must not load the storage it measures."""
    # Not the app's client: these queries are the bench's, and Azurite's log tells them apart.
    table = TableClient.from_connection_string(str(settings.storage.connection_string), settings.records_table)
    deadline = time.monotonic() + timeout
    found: set[str] = set()
    since = datetime.now(UTC) - timedelta(minutes=5)
    while True:
        looked_at = datetime.now(UTC)
        query = f"PartitionKey eq '{FINAL_PARTITION}' and FinishedAt ge @since"
        rows = table.query_entities(query, parameters={"since": since}, select=["RowKey"])
        found.update(entity["RowKey"] for entity in rows)
        since = looked_at - timedelta(seconds=30)
        done = len(keys & found)
        if done == len(keys) or time.monotonic() > deadline:
            return done
        time.sleep(1.0)


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    return (int(fields[11]) + int(fields[12])) / ticks


_FRAME_PATH = re.compile(r"\((?P<path>[^:()]+):\d+\)$")
_PIPELINE_STEP = re.compile(r"shared/pipeline/(?P<step>\w+)\.py")


def _profile_summary(profile: Path, top: int = 8) -> list[str]:
    """py-spy's raw (collapsed) stacks, sampled only while holding the GIL, three ways: by pipeline
    step (inclusive), by the library whose code was running, and the busiest functions."""
    if not profile.exists():
        return ["(py-spy could not attach to the host here)"]
    by_step: Counter[str] = Counter()
    by_library: Counter[str] = Counter()
    by_function: Counter[str] = Counter()
    total = 0
    for line in profile.read_text().splitlines():
        stack_text, _, count_text = line.rpartition(" ")
        if not stack_text or not count_text.isdigit():
            continue
        count, frames = int(count_text), stack_text.split(";")
        total += count
        steps = [found.group("step") for frame in frames if (found := _PIPELINE_STEP.search(frame))]
        if steps:
            by_step[f"pipeline: {steps[0]}"] += count
        elif any("devstack/host" in frame for frame in frames):
            by_step["local host (the Functions host's part)"] += count
        else:
            by_step["other threads"] += count
        path_found = _FRAME_PATH.search(frames[-1])
        path = path_found.group("path") if path_found else "?"
        by_library[_library_of(path)] += count
        by_function[frames[-1]] += count
    if not total:
        return []

    def shares(counter: Counter[str], limit: int) -> str:
        return ", ".join(f"{name} {value / total:.0%}" for name, value in counter.most_common(limit))

    return [
        f"by step (inclusive): {shares(by_step, 8)}",
        f"by library (own time): {shares(by_library, 10)}",
        *(f"{value / total:5.1%}  {name}" for name, value in by_function.most_common(top)),
    ]


def _library_of(path: str) -> str:
    """py-spy shortens paths to the package's tail: 'blob/_blob_client.py', 'core/pipeline/_base.py'."""
    head = path.split("/", 1)[0]
    if path.startswith(("shared/", "devstack/", "function_app")):
        return f"ours ({head})"
    return {
        "blob": "azure-storage-blob",
        "queue": "azure-storage-queue",
        "tables": "azure-data-tables",
        "core": "azure-core",
        "storage": "azure-storage",
        "httpcore": "httpx",
        "http": "http.client",
    }.get(head, head.removesuffix(".py"))


# --- memory ------------------------------------------------------------------------------------------------------


@dataclass
class Memory:
    small_mib: float = 0.0
    large_mib: float = 0.0


def submit_memory(workdir: Path) -> Memory:
    result = Memory()
    with stack(workdir, with_host=False, emulator_args=["--document-seconds", "0"], settings={}) as local:
        settings = local.settings
        source: ContainerClient = StorageClients(settings).container(settings.source_container)
        source.upload_blob("small.txt", b"x" * 1024, overwrite=True)
        source.upload_blob("large.txt", b"word " * (8 * 1024 * 1024), overwrite=True)  # 40 MiB
        env = {**os.environ, **local.env}
        for name in ("small.txt", "large.txt"):
            done = subprocess.run(
                [sys.executable, "-m", "bench.rss", name], env=env, capture_output=True, text=True, check=True
            )
            mib = float(done.stdout.strip().splitlines()[-1])
            if name == "small.txt":
                result.small_mib = mib
            else:
                result.large_mib = mib
    return result


# --- the chart -------------------------------------------------------------------------------------------------------


def chart(raw: dict[str, Any], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    e2e = raw["end_to_end"]
    figure, (latency, calls) = plt.subplots(1, 2, figsize=(12, 4.5))
    series = [
        ("ours (default schedule)", e2e["ours_latencies"]),
        ("SDK, one by one", e2e["sdk_latencies"]),
        ("SDK, 8 threads", e2e["sdk_threaded_latencies"]),
    ]
    latency.boxplot([values or [0] for _, values in series], tick_labels=[label for label, _ in series])
    latency.set_title("service finished -> result recorded (s)")
    latency.axhline(5, linestyle="--", linewidth=0.8, color="green")
    latency.axhline(12, linestyle=":", linewidth=0.8, color="orange")
    per_file = [
        ("ours", sum(e2e["ours_calls"].values()) / max(e2e["ours_files"], 1)),
        ("SDK, one by one", sum(e2e["sdk_calls"].values()) / max(e2e["sdk_files"], 1)),
        ("SDK, 8 threads", sum(e2e["sdk_threaded_calls"].values()) / max(e2e["sdk_threaded_files"], 1)),
    ]
    calls.bar(
        [label for label, _ in per_file], [value for _, value in per_file], color=["tab:blue", "tab:gray", "tab:gray"]
    )
    calls.axhline(2.25, linestyle="--", linewidth=0.8, color="green")
    calls.set_title("service calls per file (2 languages)")
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path


def scale_chart(raw: dict[str, Any], path: Path) -> Path:
    """Service calls and jobs per file against the number of files dropped together: ours beside one
    job per file (a script on the SDK)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points: list[tuple[int, float, float]] = []  # files, calls per file, jobs per file
    e2e = raw.get("end_to_end")
    if e2e:
        files = max(int(e2e["ours_files"]), 1)
        points.append((files, sum(e2e["ours_calls"].values()) / files, int(e2e.get("ours_jobs", 0)) / files))
    for run in raw.get("bulk", {}).values():
        if run.get("rate_limit"):
            continue
        files = max(int(run["files"]), 1)
        points.append((files, float(run["calls_per_file"]), int(run["jobs"]) / files))
    points.sort()
    sdk_calls = float(e2e["sdk_calls_per_file"]) if e2e and "sdk_calls_per_file" in e2e else 7.1
    if e2e and "sdk_calls_per_file" not in e2e:
        sdk_calls = sum(e2e["sdk_calls"].values()) / max(int(e2e["sdk_files"]), 1)
    sizes = [point[0] for point in points] or [1]
    figure, (calls, jobs) = plt.subplots(1, 2, figsize=(12, 4.5))
    calls.plot(sizes, [point[1] for point in points], "o-", label="ours (files that land together share a job)")
    calls.plot(sizes, [sdk_calls] * len(sizes), "s--", color="tab:gray", label="one job per file (SDK script)")
    calls.axhline(0.1, linestyle=":", color="green", linewidth=0.8)
    calls.set_xscale("log")
    calls.set_yscale("log")
    calls.set_xlabel("files dropped together")
    calls.set_title("service calls per file")
    calls.legend()
    jobs.plot(sizes, [point[2] for point in points], "o-", label="ours")
    jobs.plot(sizes, [1.0] * len(sizes), "s--", color="tab:gray", label="one job per file")
    jobs.set_xscale("log")
    jobs.set_yscale("log")
    jobs.set_xlabel("files dropped together")
    jobs.set_title("jobs per file")
    jobs.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
