"""One fault scenario on a fresh local stack, and what it did to the product's promises.

Each scenario starts Azurite, the emulator and the local functions host as separate processes,
drops files, injects its fault, waits until every dropped version has a final record (or the
time runs out), and measures:

- lost: dropped versions with no final record;
- duplicate batches: jobs the emulator ran for a source version beyond one (every document's
  staging target name carries its record key, so each job is traced to the versions it holds; a
  job refused at validation translated nothing and does not count);
- wrong translations: files whose newest version succeeded while `target/<lang>/<name>` is
  stamped with another version (or missing);
- unexplained failures: final records that did not succeed and give no reason code;
- recorded late: versions recorded more than a minute after their job ended at the service;
- outcome events (where a scenario asks): events lost (a final record whose event never arrived)
  and distinct events beyond one per final record; a duplicate under the same id is only counted;
- repeats: for versions that only repeat bytes already dropped (a metadata change, the same bytes
  uploaded again or under another name), the jobs that carried them and the characters charged.
"""

from __future__ import annotations

import json
import logging
import re
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from azure.core.exceptions import ResourceNotFoundError
from azure.storage.blob import ContainerClient, ContentSettings

from devstack.stack import LocalStack, StackConfig
from devstack.storage_proxy import Faults
from shared.pipeline.checks import LANGUAGES_METADATA_KEY
from shared.settings import Settings
from shared.storage.blob_names import TRANSLATED_FROM_METADATA_KEY, target_blob_name
from shared.storage.clients import StorageClients
from shared.storage.record_keys import record_key
from shared.storage.record_table import RecordTable
from shared.storage.records import FinalRecord, LanguageOutcome, Outcome

logger = logging.getLogger(__name__)

# Fast enough to settle in seconds; the reconcile delay keeps its rule (at least 3 x the timeout).
CHAOS_SETTINGS = {
    "POLL_SCHEDULE": "*/1 * * * * *",
    "TRANSLATOR_TIMEOUT_SECONDS": "2",
    "SUBMIT_RECONCILE_AFTER_SECONDS": "6",
    "CATCH_UP_SCHEDULE": "*/5 * * * * *",
    "CATCH_UP_AFTER_SECONDS": "8",
    "TARGET_LANGUAGES": "fr,de",
}
# Timers move to another instance within 15 s of their holder's death; a message being processed
# by a killed instance reappears after 30 s (Azure: 60 s and up to 10 minutes).
HOST_ARGS = ["--watch-interval", "0.3", "--singleton-lock-seconds", "15", "--message-lease-seconds", "30"]
# A version recorded later than this after its job ended counts as late.
LATE_AFTER_SECONDS = 60.0
_STAGING = re.compile(r"/\.inflight/([0-9a-f]+-[0-9a-f]+)-\d+/")


@dataclass(frozen=True)
class Version:
    name: str
    etag: str
    key: str
    content: bytes


@dataclass
class Row:
    scenario: str
    files: int = 0
    lost: int = 0
    duplicate_batches: int = 0
    wrong_translations: int = 0
    unexplained_failures: int = 0
    settle_seconds: float = 0.0
    outcomes: dict[str, int] = field(default_factory=dict)
    faults: int = 0  # what the emulator (and the storage proxy) injected, proof the fault happened
    jobs: int = 0
    recorded_late: int = 0
    # Whether the scenario is held to LATE_AFTER_SECONDS (the others only report how many were late).
    held_on_time: bool = False
    service_calls: int = 0
    notes: list[str] = field(default_factory=list)
    # Where the scenario repeats bytes: jobs and characters spent on the repeats (the goal: 0 and 0).
    repeat_jobs: int | None = None
    repeat_characters: int | None = None
    baseline: bool = False  # the same scenario as a user without this feature would run it: not held to 0
    # Where the scenario follows outcome events (None: it does not): final records whose event never
    # arrived, distinct events beyond one per record, and deliveries again under an id already seen.
    events_lost: int | None = None
    events_extra: int | None = None
    events_repeated: int | None = None

    @property
    def promises_kept(self) -> bool:
        return (
            not (self.lost or self.duplicate_batches or self.wrong_translations or self.unexplained_failures)
            and not (self.held_on_time and self.recorded_late)
            and not (not self.baseline and (self.repeat_jobs or self.repeat_characters))
            and not (self.events_lost or self.events_extra)
        )


class Run:
    """A running scenario: its stack, what was dropped, and helpers to misbehave."""

    def __init__(self, stack: LocalStack):
        self.stack = stack
        self.versions: list[Version] = []
        self.repeats: set[str] = set()  # keys of versions whose bytes were dropped before
        self.started = time.monotonic()
        self.began = datetime.now(UTC)
        self._lock = threading.Lock()
        self.outcome_events: Counter[str] = Counter()  # event id -> times a consumer received it
        self.events_owed_while_down = 0

    @property
    def settings(self) -> Settings:
        return self.stack.settings

    def container(self, name: str) -> ContainerClient:
        return StorageClients(self.settings).container(name)

    def drop(self, name: str, content: bytes, *, languages: str | None = None, retries: int = 30) -> Version | None:
        """Uploads like a user would (retrying while storage is down); None if storage never came back."""
        source = self.container(self.settings.source_container)
        metadata = {LANGUAGES_METADATA_KEY: languages} if languages else None
        for _ in range(retries):
            try:
                result = source.get_blob_client(name).upload_blob(
                    content,
                    overwrite=True,
                    metadata=metadata,
                    content_settings=ContentSettings(content_type="text/plain"),
                )
                break
            except Exception as exc:  # storage down: the user tries again a second later
                logger.info("upload of %s failed (%s); retrying", name, type(exc).__name__)
                time.sleep(1)
        else:
            return None
        etag = str(result["etag"]).strip('"')
        version = Version(name, etag, record_key(self.settings.source_container, name, etag), content)
        with self._lock:
            self.versions.append(version)
        return version

    def change_metadata(self, name: str) -> Version:
        """What a tagging tool or an operator does: Set Blob Metadata (a new ETag, the same bytes, and
        in Azure no event)."""
        blob = self.container(self.settings.source_container).get_blob_client(name)
        result = blob.set_blob_metadata({"reviewedby": "chaos"})
        return self._repeat(name, str(result["etag"]), self._content_of(name))

    def upload_again(self, name: str, *, as_name: str | None = None) -> Version:
        """The same bytes uploaded again, under the same name or as a copy under another."""
        content = self._content_of(name)
        blob = self.container(self.settings.source_container).get_blob_client(as_name or name)
        result = blob.upload_blob(content, overwrite=True, content_settings=ContentSettings(content_type="text/plain"))
        return self._repeat(as_name or name, str(result["etag"]), content)

    def _content_of(self, name: str) -> bytes:
        with self._lock:
            return next(version.content for version in reversed(self.versions) if version.name == name)

    def _repeat(self, name: str, etag: str, content: bytes) -> Version:
        etag = etag.strip('"')
        version = Version(name, etag, record_key(self.settings.source_container, name, etag), content)
        with self._lock:
            self.versions.append(version)
            self.repeats.add(version.key)
        return version

    def drop_many(self, names: Iterable[str], *, parallel: int = 1, **options: Any) -> list[Version]:
        """Uploads like a user (or AzCopy, `parallel` at a time), in order of `names`."""
        listed = list(names)

        def one(name: str) -> Version | None:
            return self.drop(name, f"Text of {name}, written at {time.time():.6f}.".encode(), **options)

        if parallel <= 1:
            return [version for version in map(one, listed) if version is not None]
        with ThreadPoolExecutor(max_workers=parallel) as pool:
            return [version for version in pool.map(one, listed) if version is not None]

    def records(self) -> dict[str, FinalRecord]:
        """The final records of what was dropped (one query for those recorded since the run began)."""
        table = RecordTable(StorageClients(self.settings).records_table)
        wanted = {version.key for version in self.versions}
        try:
            recorded = table.finals(since=self.began - timedelta(minutes=5))
            return {record.key: record for record in recorded if record.key in wanted}
        except Exception:  # storage may be down right now
            return {}

    def wait_until_recorded(self, timeout: float) -> dict[str, FinalRecord]:
        deadline = time.monotonic() + timeout
        while True:
            records = self.records()
            if len(records) == len({v.key for v in self.versions}) or time.monotonic() > deadline:
                return records
            time.sleep(0.5)

    def storage_faults(self) -> int:
        """What the storage proxy injected (0 without one)."""
        if self.stack.proxy_endpoint is None:
            return 0
        response = httpx.get(f"{self.stack.proxy_endpoint}/_proxy/stats", timeout=10)
        response.raise_for_status()
        return sum(int(count) for count in response.json().get("faults", {}).values())

    def emulator_stats(self) -> dict[str, Any]:
        response = httpx.get(
            f"{self.stack.emulator_endpoint}/_emulator/stats",
            headers={"Ocp-Apim-Subscription-Key": self.stack.config.emulator_key},
            timeout=10,
        )
        response.raise_for_status()
        return dict(response.json())

    def restart_emulator(self) -> None:
        self.stack.restart_emulator(kill=True)

    def restart_host(self, *, kill: bool = True, env: dict[str, str] | None = None, index: int | None = None) -> None:
        self.stack.stop_host(index, kill=kill)
        if env:
            self.stack.env.update(env)
        self.stack.start_host(index)

    def recorded_count(self) -> int:
        return len(self.records())

    # --- outcome events (OUTCOME_EVENTS=queue) --------------------------------------------------
    def outcome_sink_down(self) -> None:
        """The outcomes queue disappears (deleted by someone, or a consumer's account misconfigured):
        every send fails until it is back. The consumer first takes what was sent so far (deleting a
        queue deletes its messages: a loss of the harness's making, not the app's)."""
        self.receive_outcome_events_of(self.records(), timeout=20)
        StorageClients(self.settings).outcome_queue.delete_queue()

    def outcome_sink_back(self) -> None:
        """The queue is back; how many events were owed then is the proof that the sink was missed."""
        clients = StorageClients(self.settings)
        self.events_owed_while_down = len(RecordTable(clients.records_table).unsent_events(limit=1000))
        clients.outcome_queue.create_queue()

    def receive_outcome_events(self) -> None:
        """What a consumer takes off the outcomes queue now, counted by event id."""
        queue = StorageClients(self.settings).outcome_queue
        try:
            while batch := list(queue.receive_messages(max_messages=32)):
                for message in batch:
                    self.outcome_events[str(json.loads(message.content)["id"])] += 1
                    queue.delete_message(message)
        except ResourceNotFoundError:
            pass  # the sink is down: nothing to receive

    def receive_outcome_events_of(self, records: dict[str, FinalRecord], *, timeout: float) -> None:
        """Receives until the event of every one of `records` has arrived, or `timeout` passed."""
        expected = {outcome_event_id(record) for record in records.values()}
        deadline = time.monotonic() + timeout
        while True:
            self.receive_outcome_events()
            if expected <= set(self.outcome_events) or time.monotonic() > deadline:
                return
            time.sleep(0.5)


@dataclass(frozen=True)
class Scenario:
    name: str
    act: Callable[[Run], None]
    settings: dict[str, str] = field(default_factory=dict)
    emulator_args: list[str] = field(default_factory=list)
    host_args: list[str] = field(default_factory=list)
    persistent_storage: bool = False
    timeout: float = 150.0
    instances: int = 1
    storage_faults: Faults | None = None
    # Files recorded more than a minute after their job ended break a promise only where asked.
    on_time: bool = False
    # Run to show what the product does without a feature (its settings turn it off): measured, not held.
    baseline: bool = False
    # Follow the outcome events: each final record's must arrive (exactly one distinct id per record).
    outcome_events: bool = False
    # The languages a file (by its name) must be translated into, where the scenario decides them
    # (rules per folder): a succeeded file translated into others counts as a wrong translation.
    languages_for: Callable[[str], list[str]] | None = None


def run_scenario(scenario: Scenario, workdir: Path | None = None) -> Row:
    with tempfile.TemporaryDirectory(prefix=f"chaos-{_file_name(scenario.name)}-", dir=workdir) as folder:
        config = StackConfig.on_free_ports(
            Path(folder),
            settings_overrides={**CHAOS_SETTINGS, **scenario.settings},
            emulator_args=list(scenario.emulator_args),
            host_args=[*HOST_ARGS, *scenario.host_args],
            host_instances=scenario.instances,
            storage_faults=scenario.storage_faults,
        )
        config.azurite_in_memory = not scenario.persistent_storage
        with LocalStack(config) as stack:
            run = Run(stack)
            scenario.act(run)
            records = run.wait_until_recorded(scenario.timeout)
            settled = time.monotonic() - run.started
            row = measure(
                scenario.name, run, records, settled, on_time=scenario.on_time, languages_for=scenario.languages_for
            )
            if scenario.outcome_events:
                measure_outcome_events(row, run, records)
            row.baseline = scenario.baseline
            if not row.promises_kept:
                row.notes.append(f"logs: {_keep_logs(stack, scenario.name)}")
            return row


def measure(
    name: str,
    run: Run,
    records: dict[str, FinalRecord],
    settled: float,
    *,
    on_time: bool = False,
    languages_for: Callable[[str], list[str]] | None = None,
) -> Row:
    keys = {version.key for version in run.versions}
    row = Row(name, files=len(keys), settle_seconds=round(settled, 1))
    row.lost = len(keys - set(records))
    row.outcomes = dict(Counter(str(record.outcome) for record in records.values()))

    jobs_per_key: Counter[str] = Counter()
    stats = run.emulator_stats()
    row.faults = sum(int(count) for count in stats.get("faults", {}).values()) + run.storage_faults()
    row.jobs = len(stats.get("batches", []))
    row.service_calls = sum(int(count) for count in stats.get("requests", {}).values())
    ended: dict[str, datetime] = {}
    for batch in stats.get("batches", []):
        ended[batch["id"]] = datetime.fromisoformat(batch["lastActionDateTimeUtc"])
        if batch.get("status") == "ValidationFailed":
            continue  # refused as a whole before any document: nothing translated, nothing billed
        found = {match.group(1) for url in batch.get("targetUrls", []) if (match := _STAGING.search(url))}
        for key in found:
            jobs_per_key[key] += 1
    row.duplicate_batches = sum(count - 1 for key, count in jobs_per_key.items() if key in keys and count > 1)
    if run.repeats:
        row.repeat_jobs = sum(count for key, count in jobs_per_key.items() if key in run.repeats)
        row.repeat_characters = sum(record.characters_charged for key, record in records.items() if key in run.repeats)
    late = [
        record
        for record in records.values()
        if record.job_id in ended and (record.finished_at - ended[record.job_id]).total_seconds() > LATE_AFTER_SECONDS
    ]
    if late:
        worst = max((record.finished_at - ended[str(record.job_id)]).total_seconds() for record in late)
        row.notes.append(
            f"{len(late)} recorded more than {LATE_AFTER_SECONDS:.0f}s after their job ended (worst {worst:.0f}s)"
        )
    row.recorded_late, row.held_on_time = len(late), on_time

    row.unexplained_failures = sum(
        1 for record in records.values() if record.outcome != Outcome.SUCCEEDED and not record.reason_code
    )

    newest: dict[str, Version] = {}
    for version in run.versions:
        newest[version.name] = version  # drops are in order: the last one of a name is the newest
    target = run.container(run.settings.target_container)
    etags: dict[str, str] = {version.key: version.etag for version in run.versions}
    for version in newest.values():
        record = records.get(version.key)
        if record is None or record.outcome not in (Outcome.SUCCEEDED, Outcome.PARTIALLY_SUCCEEDED, Outcome.REUSED):
            continue
        if languages_for is not None and sorted(record.languages) != sorted(languages_for(version.name)):
            row.wrong_translations += 1
            row.notes.append(
                f"{version.name}: translated into {','.join(record.languages)} (rule {record.rule}), "
                f"expected {','.join(languages_for(version.name))}"
            )
        # A version reusing its file's earlier one still in flight shares that version's translations.
        expected = version.etag
        if record.outcome is Outcome.REUSED and record.reason_code == "SameContentInFlight":
            # (That version may be one the harness never saw: an upload whose answer was lost, retried.)
            expected = etags.get(str(record.reused_from)) or str(record.reused_etag)
        for outcome in record.language_outcomes if record.language_outcomes else _languages(record):
            if outcome.status != "Succeeded":
                continue
            blob = target.get_blob_client(target_blob_name(outcome.language, version.name))
            try:
                stamp = (blob.get_blob_properties().metadata or {}).get(TRANSLATED_FROM_METADATA_KEY)
            except ResourceNotFoundError:
                stamp = None
            if stamp != expected:
                row.wrong_translations += 1
                row.notes.append(f"{outcome.language}/{version.name}: stamped {stamp}, expected {expected}")
    return row


# Owed events are sent by the poll (every second here) once 10 s old: they arrive within this long.
EVENTS_SETTLE_SECONDS = 60.0


def outcome_event_id(record: FinalRecord) -> str:
    """The id a consumer expects for a final record (as documented: the record key and the outcome)."""
    return f"{record.key}:{record.outcome}"


def measure_outcome_events(row: Row, run: Run, records: dict[str, FinalRecord]) -> None:
    """Takes the outcome events off the queue until every final record's has arrived (or time is up),
    then a few seconds more to see any late duplicate; counts them by id."""
    expected = {outcome_event_id(record) for record in records.values()}
    run.receive_outcome_events_of(records, timeout=EVENTS_SETTLE_SECONDS)
    time.sleep(3)
    run.receive_outcome_events()
    received = run.outcome_events
    ours = {event_id for event_id in received if event_id.split(":")[0] in records}
    row.events_lost = len(expected - set(received))
    row.events_extra = len(ours - expected)
    row.events_repeated = sum(count - 1 for count in received.values())
    row.faults += run.events_owed_while_down
    row.notes.append(
        f"outcome events: {run.events_owed_while_down} owed when the sink came back; "
        f"{len(set(received))} distinct ids for {len(records)} final records, "
        f"{row.events_lost} lost, {row.events_extra} extra, {row.events_repeated} repeated under the same id"
    )


def _languages(record: FinalRecord) -> list[LanguageOutcome]:
    """The languages a record without documents of its own is translated into (SameContentInFlight)."""
    return [LanguageOutcome(language, "Succeeded") for language in record.languages]


def _keep_logs(stack: LocalStack, name: str) -> Path:
    kept = Path(tempfile.gettempdir()) / f"chaos-logs-{_file_name(name)}-{int(time.time())}"
    kept.mkdir(parents=True, exist_ok=True)
    for log in stack.logs.glob("*.log"):
        (kept / log.name).write_bytes(log.read_bytes())
    logger.warning("scenario %s broke a promise; logs kept in %s", name, kept)
    return kept


def _file_name(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "-", text).strip("-")
