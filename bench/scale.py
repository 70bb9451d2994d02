"""The scale section of `make bench`: work follows jobs and events, not files times ticks.

Each figure runs the parts as they run for real (Azurite, the emulator and the local functions host
in their own processes; the app's own code in the host, or in this process for one step), beside
what the previous release did or what a script on the official SDK does:

- a tick with nothing due, at 100,000 outstanding files (simulated records), and at 10;
- a busy tick: 1,000 running jobs due at once (the tick, and the shards it hands out);
- 1,500 files outstanding while their jobs run: what the app reads from the table in a minute;
- a bulk drop of 10,000 files (AzCopy-like: 16 uploads at a time, each BlobCreated pushed to a
  webhook as Event Grid does), with and without a 10 requests/s limit at the service: jobs made,
  service calls per file, and how long files dropped alone amid the bulk wait for their job;
- a file dropped alone: drop -> submitted, beside the SDK's `begin_translation`.
"""

from __future__ import annotations

import itertools
import re
import statistics
import threading
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from azure.data.tables import TableClient

from bench.counting import emulator_jobs, reset_emulator, service_calls, storage_calls
from bench.measures import LANGUAGES, SUBMIT_FUNCTION, _later, poll_all, stack, text, user_uploads
from devstack.host.webhook import FUNCTION_NAME_PREFIX, WEBHOOK_PATH, blob_created_event
from devstack.storage_proxy import Faults
from shared.pipeline.checks import LANGUAGES_METADATA_KEY
from shared.pipeline.context import PipelineContext
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.submit import submit_dropped_blob
from shared.storage.record_keys import FINAL_PARTITION, OPEN_PARTITION_PREFIX, open_partition, record_key
from shared.storage.records import OPEN_CODEC, OpenRecord, SourceVersion, State
from shared.storage.schedule_table import DueEntry, DueKind, Member, Plan, Submission, SubmissionState
from shared.storage.table_transactions import Change, Op

# Fast documents, as in the throughput figure: the app's costs, not the emulator's speed, are measured.
FAST_EMULATOR = ["--document-seconds", "0", "--workers", "8"]
UPLOADERS = 16


# --- a tick with nothing due ----------------------------------------------------------------------


@dataclass
class IdleTick:
    outstanding: int = 0
    table_requests: int = 0
    seconds: float = 0.0
    small_outstanding: int = 10
    small_table_requests: int = 0
    small_seconds: float = 0.0
    # What every tick of the previous release did: read every open record (one partition).
    previous_seconds: float = 0.0
    previous_megabytes: float = 0.0
    write_seconds: float = 0.0


def idle_tick(workdir: Path, *, outstanding: int) -> IdleTick:
    result = IdleTick(outstanding=outstanding)
    with stack(workdir, with_host=False, emulator_args=["--document-seconds", "0"], settings={}) as local:
        ctx = PipelineContext(local.settings)
        _simulate_outstanding(ctx, result.small_outstanding, files_per_job=10, start=0)
        result.small_table_requests, result.small_seconds = _idle_look(ctx)
        started = time.perf_counter()
        _simulate_outstanding(ctx, outstanding - result.small_outstanding, files_per_job=100, start=10)
        result.write_seconds = round(time.perf_counter() - started, 1)
        result.table_requests, result.seconds = _idle_look(ctx)
        result.previous_seconds, result.previous_megabytes = _read_every_open_record(local)
    return result


def _idle_look(ctx: PipelineContext) -> tuple[int, float]:
    poll_outstanding_jobs(ctx)  # warm: the connection is made, the clients built
    with storage_calls() as counts:
        started = time.perf_counter()
        summary = poll_outstanding_jobs(ctx)
        seconds = time.perf_counter() - started
    assert summary.due == 0, f"{summary.due} entries due in a tick that should have none"
    return sum(counts.values()), seconds


def _simulate_outstanding(ctx: PipelineContext, count: int, *, files_per_job: int, start: int) -> None:
    """`count` open records, grouped in submitted jobs whose next look is an hour away."""
    now = datetime.now(UTC)
    records = []
    for index in range(start, start + count):
        source = SourceVersion("source", f"backlog/{index:06d}.txt", f"0x{index:x}", now, 400)
        records.append(OpenRecord.new(source, state=State.GROUPED, at=now, languages=list(LANGUAGES), attempts=1))
    plan = Plan.of(LANGUAGES)
    for batch_start in range(0, len(records), files_per_job):
        batch = records[batch_start : batch_start + files_per_job]
        submission_id = f"backlog-{start + batch_start:06d}"
        submission = Submission(
            id=submission_id,
            container="source",
            plan=plan.digest,
            languages=list(LANGUAGES),
            glossaries={},
            category=None,
            source_language=None,
            members=[Member(record.key, record.source_name, 400, 1) for record in batch],
            state=SubmissionState.SUBMITTED,
            created_at=now,
            job_id=f"job-{submission_id}",
            submitted_at=now,
        )
        for record in batch:
            record.submission = submission_id
        due = DueEntry(
            now + timedelta(hours=1), DueKind.SUBMISSION, submission_id, state="Submitted", job_id=submission.job_id
        )
        ctx.schedule.create(submission, due)
    changes = [Change(Op.UPSERT, OPEN_CODEC.to_entity(open_partition(r.key), r.key, r)) for r in records]
    for chunk_start in range(0, len(changes), 4000):
        ctx.records.writer.write_all(changes[chunk_start : chunk_start + 4000])


def _read_every_open_record(local: Any) -> tuple[float, float]:
    table = TableClient.from_connection_string(local.azurite.connection_string, local.settings.records_table)
    query = f"PartitionKey ge '{OPEN_PARTITION_PREFIX}' and PartitionKey lt '{OPEN_PARTITION_PREFIX[:-1]}.'"
    started = time.perf_counter()
    size = 0
    for entity in table.query_entities(query):
        size += sum(len(str(value)) for value in entity.values()) + 40 * len(entity)
    return round(time.perf_counter() - started, 2), round(size / 1e6, 1)


# --- a busy tick -------------------------------------------------------------------------------------


@dataclass
class BusyTick:
    jobs: int = 0
    list_calls: int = 0
    looked_at: int = 0
    tick_seconds: float = 0.0
    shards: int = 0
    shard_seconds: float = 0.0


def busy_tick(workdir: Path, *, jobs: int) -> BusyTick:
    """`jobs` running jobs, all due at once: the tick hands shards of them to the queue function;
    the shards (run here one after another; on Azure, on as many instances as there are) look at
    the jobs 50 ids a call."""
    result = BusyTick(jobs=jobs)
    emulator_args = ["--document-seconds", "3600", "--workers", "1"]
    settings = {"STUCK_JOB_AFTER_MINUTES": "200", "SAS_EXPIRY_MINUTES": "240"}
    with stack(workdir, with_host=False, emulator_args=emulator_args, settings=settings) as local:
        endpoint, key = local.emulator_endpoint, local.config.emulator_key
        ctx = PipelineContext(local.settings)
        source = ctx.storage.container(ctx.settings.source_container)
        for index in range(jobs):  # one after another: each alone, each its own job
            name = f"busy/doc{index:05d}.txt"
            source.upload_blob(name, text(index), overwrite=True)
            submit_dropped_blob(source.get_blob_client(name), ctx)
        later = _later(ctx, timedelta(minutes=10))
        before = service_calls(endpoint, key)["GET /batches"]
        started = time.perf_counter()
        summary = poll_outstanding_jobs(later)
        result.tick_seconds = round(time.perf_counter() - started, 2)
        result.shards = summary.shards
        looked, seconds = poll_all(later)  # the shards (and a tick that finds nothing left due)
        result.shard_seconds = round(seconds, 2)
        result.looked_at = summary.polled + looked
        result.list_calls = service_calls(endpoint, key)["GET /batches"] - before
    return result


# --- a minute watched --------------------------------------------------------------------------------


@dataclass
class WatchedMinute:
    files: int = 0
    jobs: int = 0
    table_bytes: int = 0
    table_requests: int = 0
    service_calls: int = 0
    previous_bytes_per_minute: int = 0  # a full read of the open records every 5-second tick


def watched_minute(workdir: Path, *, files: int) -> WatchedMinute:
    result = WatchedMinute(files=files)
    emulator_args = ["--document-seconds", "600", "--workers", "2"]
    with stack(
        workdir,
        with_host=True,
        emulator_args=emulator_args,
        settings={},
        host_args=("--no-watch",),
        storage_faults=Faults(),  # no fault: the proxy counts what the app reads
    ) as local:
        endpoint, key = local.emulator_endpoint, local.config.emulator_key
        dropped, _ = _drop_bulk(local, files)
        _wait_submitted(local, dropped, timeout=600)
        time.sleep(10)  # the first looks at young jobs are over
        proxy = str(local.proxy_endpoint)
        before, calls_before = _proxy_counts(proxy), sum(service_calls(endpoint, key).values())
        time.sleep(60)
        after, calls_after = _proxy_counts(proxy), sum(service_calls(endpoint, key).values())
        result.table_bytes = after["bytes"] - before["bytes"]
        result.table_requests = after["requests"] - before["requests"]
        result.service_calls = calls_after - calls_before
        result.jobs = len(emulator_jobs(endpoint, key))
        # The previous release read every open record at every tick (12 ticks a minute at its default).
        assert local.azurite is not None
        table = TableClient.from_connection_string(local.azurite.connection_string, local.settings.records_table)
        size = 0
        for partition in range(16):
            for entity in table.query_entities(f"PartitionKey eq '{OPEN_PARTITION_PREFIX}{partition:x}'"):
                size += sum(len(str(value)) for value in entity.values()) + 40 * len(entity)
        result.previous_bytes_per_minute = size * 12
    return result


def _proxy_counts(proxy: str, agent: str = "drop-folder-translation", service: str = "table") -> dict[str, int]:
    stats = httpx.get(f"{proxy}/_proxy/stats", timeout=30).json()
    size = sum(count for who, kind, _, count in stats["bytes"] if who == agent and kind == service)
    requests = sum(count for who, kind, _, count in stats["requests"] if who == agent and kind == service)
    return {"bytes": size, "requests": requests}


def _wait_submitted(local: Any, keys: dict[str, float], *, timeout: float) -> None:
    """Until every dropped file's record is grouped and its job exists."""
    ctx = PipelineContext(local.settings)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        submissions = {item.id: item for item in ctx.schedule.submissions()}
        grouped = 0
        for record in ctx.records.outstanding():
            submission = submissions.get(record.submission or "")
            if record.key in keys and submission is not None and submission.job_id:
                grouped += 1
        if grouped >= len(keys):
            return
        time.sleep(2)


# --- bulk drops ----------------------------------------------------------------------------------------


@dataclass
class Bulk:
    files: int = 0
    rate_limit: float | None = None
    # Every file handed to the record step (its job ended and its documents were listed: every
    # service call of the bulk is made), and how many were recorded by then.
    handed_over: int = 0
    recorded: int = 0
    seconds: float = 0.0
    jobs: int = 0  # holding the bulk's files (two languages)
    lone_jobs: int = 0  # holding the files of another plan (one language)
    service_calls: dict[str, int] = field(default_factory=dict)
    refused_429: int = 0
    # Drop -> submitted, seconds: the bulk's files, and files of another plan dropped alone amid it.
    waits: list[float] = field(default_factory=list)
    lone_waits: list[float] = field(default_factory=list)
    # The app's part of those: from its invocation's start (the event's turn on the host) to submitted.
    lone_invocation_waits: list[float] = field(default_factory=list)
    # Peak resident memory of the local host process, which runs every function (MiB): an upper
    # bound of the Python worker's on one instance.
    host_peak_mib: float = 0.0

    @property
    def calls_per_file(self) -> float:
        return sum(self.service_calls.values()) / max(self.files, 1)


_INVOKED = re.compile(
    r"^(\S+ \S+) INFO\s+devstack\.host\.invoke: Executing 'Functions\.submit_on_drop' \(blob \S+?/(\S+),"
)
_SUBMITTED = re.compile(r"^(\S+ \S+) INFO\s+shared\.pipeline\.submissions: submitted (\S+) as job ")


def invocation_to_submitted(host_log: Path, prefix: str) -> list[float]:
    """Seconds from a drop's first invocation to its submission, for the blobs under `prefix`, read
    from the local host's log: the app's part of drop -> submitted, without the event's wait for
    its turn on the host."""

    def moment(text: str) -> datetime:
        return datetime.strptime(text, "%Y-%m-%d %H:%M:%S,%f")

    invoked: dict[str, datetime] = {}
    waits: list[float] = []
    with host_log.open(errors="replace") as lines:
        for line in lines:
            if (started := _INVOKED.match(line)) and started[2].startswith(prefix):
                invoked.setdefault(started[2], moment(started[1]))
            elif (submitted := _SUBMITTED.match(line)) and submitted[2] in invoked:
                waits.append(round((moment(submitted[1]) - invoked.pop(submitted[2])).total_seconds(), 3))
    return sorted(waits)


def bulk(workdir: Path, *, files: int, rate_limit: float | None = None, lone: int = 20) -> Bulk:
    result = Bulk(files=files, rate_limit=rate_limit)
    emulator_args = [*FAST_EMULATOR, *(["--rate-limit", str(rate_limit)] if rate_limit else [])]
    # The drops' events come from the bench, the service's writes' from the emulator (as Event Grid).
    with stack(
        workdir,
        with_host=True,
        emulator_args=emulator_args,
        settings={},
        host_args=("--no-watch",),
        announce_writes=True,
    ) as local:
        endpoint, key = local.emulator_endpoint, local.config.emulator_key
        reset_emulator(endpoint, key)
        started = time.monotonic()
        dropped, alone = _drop_bulk(local, files, lone=lone)
        keys = set(dropped)
        progress = _wait_handed_over(local.settings, keys, timeout=1200)
        result.seconds = round(time.monotonic() - started, 1)
        result.handed_over, result.recorded = len(progress.handed_over), len(progress.recorded)
        stats = httpx.get(f"{endpoint}/_emulator/stats", headers={"Ocp-Apim-Subscription-Key": key}, timeout=60)
        body = stats.json()
        # The bulk's jobs translate each file into both languages; the lone files' into one.
        result.jobs = sum(1 for job in body["batches"] if len(job["targetUrls"]) > len(job["sourceUrls"]))
        result.lone_jobs = len(body["batches"]) - result.jobs
        result.service_calls = {name: int(count) for name, count in body["requests"].items()}
        result.refused_429 = sum(int(count) for count in body["faults"].values())
        for record_key_, dropped_at in dropped.items():
            at = progress.submitted_at.get(record_key_)
            if at is None:
                continue
            wait = at - dropped_at
            (result.lone_waits if record_key_ in alone else result.waits).append(round(wait, 2))
        result.lone_invocation_waits = invocation_to_submitted(local.logs / "host.log", "lone/")
        result.host_peak_mib = max((peak_rss_mib(host.pid) for host in local.hosts if host is not None), default=0.0)
    return result


def peak_rss_mib(pid: int) -> float:
    """A running process's peak resident set size (Linux: VmHWM in /proc/<pid>/status)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return round(int(line.split()[1]) / 1024, 1)
    return 0.0


def _drop_bulk(local: Any, files: int, *, lone: int = 0) -> tuple[dict[str, float], set[str]]:
    """Uploads `files` small files UPLOADERS at a time, each followed by its BlobCreated event pushed
    to the webhook, with `lone` files of another plan (Spanish) spread among them. Record key ->
    when its upload ended (epoch seconds), and the keys of those dropped alone."""
    settings = local.settings
    source = user_uploads(settings)
    webhooks = [
        f"http://127.0.0.1:{port}{WEBHOOK_PATH}?functionName={FUNCTION_NAME_PREFIX}{SUBMIT_FUNCTION}"
        for port in local.config.host_ports
    ]
    dropped: dict[str, float] = {}
    alone_keys: set[str] = set()
    lock = threading.Lock()
    every = max(files // lone, 1) if lone else 0
    counter = itertools.count()
    with httpx.Client(headers={"aeg-event-type": "Notification"}, timeout=120) as event_grid:

        def drop(index: int) -> None:
            alone = bool(every) and index % every == every // 2
            name = f"{'lone' if alone else 'bulk'}/doc{index:05d}.txt"
            blob = source.get_blob_client(name)
            body = text(index)
            metadata = {LANGUAGES_METADATA_KEY: "es"} if alone else None
            etag = str(blob.upload_blob(body, overwrite=True, metadata=metadata)["etag"])
            at = time.time()
            event = blob_created_event(blob.url, etag=etag, size=len(body))
            target = webhooks[next(counter) % len(webhooks)]
            event_grid.post(target, json=[event]).raise_for_status()
            key = record_key(settings.source_container, name, etag.strip('"'))
            with lock:
                dropped[key] = at
                if alone:
                    alone_keys.add(key)

        with ThreadPoolExecutor(max_workers=UPLOADERS) as pool:
            list(pool.map(drop, range(files)))
    return dropped, alone_keys


@dataclass
class HandOver:
    handed_over: set[str] = field(default_factory=set)  # recorded, or Finishing
    recorded: set[str] = field(default_factory=set)
    submitted_at: dict[str, float] = field(default_factory=dict)  # record key -> epoch seconds


def _wait_handed_over(settings: Any, keys: set[str], *, timeout: float, interval: float = 15.0) -> HandOver:
    """Waits until every one of `keys` is handed to the record step (Finishing or recorded), looking
    every `interval` (a look reads the bulk's records: the bench must not load the storage it measures);
    when each was submitted. The recording itself is the record step's cost, measured end to end
    elsewhere."""
    table = TableClient.from_connection_string(str(settings.storage.connection_string), settings.records_table)
    deadline = time.monotonic() + timeout
    while True:
        progress = HandOver()
        for entity in table.query_entities("", select=["PartitionKey", "RowKey", "State", "SubmittedAt"]):
            key, partition = entity["RowKey"], entity["PartitionKey"]
            if key not in keys:
                continue
            finished = partition == FINAL_PARTITION
            if finished:
                progress.recorded.add(key)
            if finished or (partition.startswith(OPEN_PARTITION_PREFIX) and entity.get("State") == State.FINISHING):
                progress.handed_over.add(key)
            at = entity.get("SubmittedAt")
            if isinstance(at, datetime):
                progress.submitted_at[key] = at.replace(tzinfo=at.tzinfo or UTC).timestamp()
        if len(progress.handed_over) == len(keys) or time.monotonic() > deadline:
            return progress
        time.sleep(interval)


# --- a file dropped alone --------------------------------------------------------------------------------


@dataclass
class LoneDrops:
    ours: list[float] = field(default_factory=list)  # drop -> its job id on record, seconds
    sdk: list[float] = field(default_factory=list)  # begin_translation's call, seconds


def lone_drops(workdir: Path, *, count: int) -> LoneDrops:
    result = LoneDrops()
    # The service's writes are announced as Event Grid would, so each job ends in seconds, not at the
    # backstop tick, before the next file is dropped.
    with stack(
        workdir,
        with_host=True,
        emulator_args=FAST_EMULATOR,
        settings={},
        host_args=("--no-watch",),
        announce_writes=True,
    ) as local:
        settings = local.settings
        for index in range(count):
            dropped = _drop_one(local, f"alone/doc{index:03d}.txt", index)
            time.sleep(1.0)  # alone: nothing else lands while it is submitted
            at = _wait_handed_over(settings, set(dropped), timeout=60, interval=0.5).submitted_at
            result.ours.extend(round(at[key] - when, 3) for key, when in dropped.items() if key in at)
        result.sdk = _sdk_submit_seconds(local, count)
    return result


def _drop_one(local: Any, name: str, index: int) -> dict[str, float]:
    settings = local.settings
    source = user_uploads(settings)
    blob = source.get_blob_client(name)
    body = text(index)
    etag = str(blob.upload_blob(body, overwrite=True)["etag"])
    at = time.time()
    webhook = (
        f"http://127.0.0.1:{local.config.host_port}{WEBHOOK_PATH}?functionName={FUNCTION_NAME_PREFIX}{SUBMIT_FUNCTION}"
    )
    httpx.post(
        webhook,
        json=[blob_created_event(blob.url, etag=etag, size=len(body))],
        headers={"aeg-event-type": "Notification"},
    ).raise_for_status()
    return {record_key(settings.source_container, name, etag.strip('"')): at}


def _sdk_submit_seconds(local: Any, count: int) -> list[float]:
    from azure.ai.translation.document import DocumentTranslationClient
    from azure.ai.translation.document.models import DocumentTranslationInput, TranslationTarget
    from azure.core.credentials import AzureKeyCredential

    ctx = PipelineContext(local.settings)
    client = DocumentTranslationClient(
        local.emulator_endpoint, AzureKeyCredential(local.config.emulator_key), api_version="2024-05-01"
    )
    source = ctx.storage.container(ctx.settings.source_container)
    seconds = []
    for index in range(count):
        name = f"sdk-alone/doc{index:03d}.txt"
        source.upload_blob(name, text(index), overwrite=True)
        targets = [
            TranslationTarget(
                target_url=ctx.access.target_url(ctx.settings.target_container, f"sdk/{lang}/{name}"), language=lang
            )
            for lang in LANGUAGES
        ]
        started = time.perf_counter()
        client.begin_translation(
            [
                DocumentTranslationInput(
                    ctx.access.source_url(ctx.settings.source_container, name), targets, storage_type="File"
                )
            ]
        )
        seconds.append(round(time.perf_counter() - started, 3))
        time.sleep(0.2)
    client.close()
    return seconds


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))] if ordered else float("nan")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def routes(calls: dict[str, int]) -> str:
    return ", ".join(f"{route} {count}" for route, count in sorted(Counter(calls).items()) if count)
