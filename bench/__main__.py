"""`python -m bench`: the pipeline's cost on Azurite + the emulator, printed as figures.

- submit: wall time per dropped file (blob properties, claim, SAS signing, start call);
- poll: service calls and wall time per poll, for the same number of outstanding jobs with
  an empty history and with a large history of finished jobs (the design says poll cost
  follows outstanding jobs only);
- record: wall time per recorded job.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
import tracemalloc
import uuid
from collections.abc import Callable
from pathlib import Path

from devstack.azurite import Azurite
from devstack.emulator.options import EmulatorOptions
from devstack.emulator.server import EmulatorServer
from shared.pipeline.context import PipelineContext
from shared.pipeline.poll import poll_outstanding_jobs
from shared.pipeline.record import record_outcome
from shared.pipeline.submit import submit_dropped_blob
from shared.settings import Settings

LIST_JOBS = "GET /batches"


def timed(action: Callable[[], object]) -> float:
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


class Bench:
    def __init__(self, azurite: Azurite, emulator: EmulatorServer):
        suffix = uuid.uuid4().hex[:6]
        settings = Settings.from_env(
            {
                "TRANSLATION_STORAGE": azurite.connection_string,
                "TRANSLATOR_ENDPOINT": emulator.endpoint,
                "TRANSLATOR_KEY": emulator.key,
                "RECORDS_TABLE": f"benchjobs{suffix}",
                "TARGET_LANGUAGES": "fr,de",
            }
        )
        self.ctx = PipelineContext(settings)
        self.ctx.storage.ensure_resources()
        self.emulator = emulator
        self.source = self.ctx.storage.container(settings.source_container)
        self.dropped = 0

    def submit(self, count: int) -> list[float]:
        durations = []
        for _ in range(count):
            self.dropped += 1
            blob = self.source.get_blob_client(f"bench/doc{self.dropped:05d}.txt")
            blob.upload_blob(f"Benchmark document number {self.dropped}.".encode(), overwrite=True)
            durations.append(timed(lambda blob=blob: submit_dropped_blob(blob, self.ctx)))
        return durations

    def wait_until_service_done(self) -> None:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            statuses = {batch["status"] for batch in self.emulator.stats()["batches"]}
            if statuses <= {"Succeeded", "Failed", "Cancelled", "ValidationFailed"}:
                return
            time.sleep(0.2)
        raise RuntimeError("the emulator did not finish its jobs within 300s")

    def poll(self) -> tuple[int, int, float]:
        """(outstanding records, list calls, seconds) for one poll."""
        before = self.emulator.stats()["requests"].get(LIST_JOBS, 0)
        started = time.perf_counter()
        summary = poll_outstanding_jobs(self.ctx)
        seconds = time.perf_counter() - started
        return summary.outstanding, self.emulator.stats()["requests"].get(LIST_JOBS, 0) - before, seconds

    def record_all(self) -> list[float]:
        queue = self.ctx.storage.results_queue
        durations = []
        while True:
            messages = list(queue.receive_messages(max_messages=32))
            if not messages:
                return durations
            for message in messages:
                durations.append(timed(lambda message=message: record_outcome(message.content, self.ctx)))
                queue.delete_message(message)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--outstanding", type=int, default=60, help="jobs outstanding at the measured polls")
    parser.add_argument("--finished", type=int, default=200, help="finished jobs in the history")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)

    tracemalloc.start()
    with tempfile.TemporaryDirectory() as workdir, Azurite.start_on_free_ports(Path(workdir)) as azurite:
        options = EmulatorOptions(key="bench-key", document_seconds=0.0, workers=4)
        with EmulatorServer.start(options) as emulator:
            bench = Bench(azurite, emulator)

            submit_times = bench.submit(args.outstanding)
            bench.wait_until_service_done()
            empty_history = bench.poll()
            bench.record_all()

            history_submits = bench.submit(args.finished)
            bench.wait_until_service_done()
            bench.poll()
            record_times = bench.record_all()

            bench.submit(args.outstanding)
            bench.wait_until_service_done()
            with_history = bench.poll()
            bench.record_all()
    _, peak = tracemalloc.get_traced_memory()

    all_submits = submit_times + history_submits
    print(
        f"submit  {len(all_submits)} files: mean {statistics.mean(all_submits) * 1000:.1f} ms, "
        f"p95 {percentile(all_submits, 0.95) * 1000:.1f} ms per file"
    )
    print(
        f"record  {len(record_times)} jobs: mean {statistics.mean(record_times) * 1000:.1f} ms, "
        f"p95 {percentile(record_times, 0.95) * 1000:.1f} ms per job"
    )
    print("poll    outstanding  finished-in-table  list-calls  seconds")
    print(f"        {empty_history[0]:>11}  {0:>17}  {empty_history[1]:>10}  {empty_history[2]:>7.3f}")
    print(
        f"        {with_history[0]:>11}  {args.finished + args.outstanding:>17}  {with_history[1]:>10}  "
        f"{with_history[2]:>7.3f}"
    )
    print(f"python  peak traced memory {peak / 1024 / 1024:.1f} MiB (this process: pipeline + in-process emulator)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
