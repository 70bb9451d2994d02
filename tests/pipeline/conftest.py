from __future__ import annotations

import time
import uuid
from datetime import UTC, datetime

import pytest
from azure.storage.blob import BlobServiceClient

from shared.pipeline.context import PipelineContext
from shared.settings import Settings
from tests.pipeline.fake_service import FakeTranslationService


class Clock:
    def __init__(self) -> None:
        self.moment = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.moment

    def advance(self, seconds: float) -> None:
        from datetime import timedelta

        self.moment += timedelta(seconds=seconds)

    def sleep(self, seconds: float) -> None:
        """A step waiting for time to pass on this clock moves it on (and lets other threads run)."""
        self.advance(seconds)
        time.sleep(0.01)


@pytest.fixture
def service() -> FakeTranslationService:
    return FakeTranslationService()


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def make_context(azurite, service, clock):
    """A pipeline context on fresh containers/table/queues in the session's Azurite."""

    def build(**overrides: str) -> PipelineContext:
        suffix = uuid.uuid4().hex[:8]
        env = {
            "TRANSLATION_STORAGE": azurite.connection_string,
            "TRANSLATOR_ENDPOINT": "http://127.0.0.1:9",
            "TRANSLATOR_KEY": "test-key",
            "SOURCE_CONTAINER": f"source-{suffix}",
            "TARGET_CONTAINER": f"target-{suffix}",
            "GLOSSARY_CONTAINER": f"glossaries-{suffix}",
            "REPORTS_CONTAINER": f"reports-{suffix}",
            "RECORDS_TABLE": f"records{suffix}",
            "RESULTS_QUEUE": f"results-{suffix}",
            "POLL_SHARDS_QUEUE": f"poll-shards-{suffix}",
            "OUTCOME_QUEUE": f"outcomes-{suffix}",
            **overrides,
        }
        ctx = PipelineContext(Settings.from_env(env), translator=service, now=clock, sleep=clock.sleep)
        ctx.storage.ensure_resources()
        return ctx

    return build


@pytest.fixture
def ctx(make_context) -> PipelineContext:
    return make_context()


def upload(ctx: PipelineContext, name: str, data: bytes, metadata: dict[str, str] | None = None):
    service = BlobServiceClient.from_connection_string(ctx.settings.storage.connection_string)
    blob = service.get_blob_client(ctx.settings.source_container, name)
    blob.upload_blob(data, overwrite=True, metadata=metadata)
    return blob


def drain_results(ctx: PipelineContext) -> list[str]:
    messages = []
    for message in ctx.storage.results_queue.receive_messages(max_messages=32):
        messages.append(message.content)
        ctx.storage.results_queue.delete_message(message)
    return messages


def record_all(ctx: PipelineContext) -> list:
    """The record step run on every hand-over waiting in the results queue."""
    from shared.pipeline.record import record_outcome

    return [record_outcome(text, ctx) for text in drain_results(ctx)]


def settle(ctx: PipelineContext, clock: Clock, seconds: float = 5) -> list:
    """Time passes, the poller runs (finished jobs are handed over), and the record step records them."""
    from shared.pipeline.poll import poll_outstanding_jobs

    clock.advance(seconds)
    poll_outstanding_jobs(ctx)
    return record_all(ctx)


def finished(
    ctx: PipelineContext, service, clock: Clock, name: str, data: bytes = b"Hello world", metadata=None, **finish
):
    """A file dropped, submitted, its job finished at the service (`finish` scripts how) and polled:
    its hand-over waits for the record step. Returns what submitting it returned."""
    from shared.pipeline.poll import poll_outstanding_jobs
    from shared.pipeline.submit import submit_dropped_blob

    result = submit_dropped_blob(upload(ctx, name, data, metadata), ctx)
    service.finish(result.job_id, **finish)
    clock.advance(5)
    poll_outstanding_jobs(ctx)
    return result


def target_names(ctx: PipelineContext) -> set[str]:
    return {blob.name for blob in ctx.storage.container(ctx.settings.target_container).list_blobs()}


def read_target(ctx: PipelineContext, name: str) -> tuple[bytes, dict[str, str]]:
    blob = ctx.storage.container(ctx.settings.target_container).get_blob_client(name)
    return blob.download_blob().readall(), blob.get_blob_properties().metadata


def submission_of(ctx: PipelineContext, key: str):
    """The submission that carries an open record (None when it is not grouped)."""
    record = ctx.records.get_open(key)
    if record is None or record.submission is None:
        return None
    return ctx.schedule.get_submission(record.submission)


def job_of(ctx: PipelineContext, key: str) -> str | None:
    submission = submission_of(ctx, key)
    return None if submission is None else submission.job_id


def slow_start(service, monkeypatch, seconds: float = 0.3) -> None:
    """The service takes this long to answer a start call (so files land while it runs)."""
    import time

    original = service.begin_translation

    def slow(inputs):
        time.sleep(seconds)
        return original(inputs)

    monkeypatch.setattr(service, "begin_translation", slow)


def real_time(ctx: PipelineContext) -> None:
    """The context's clock follows the wall clock (grouping waits in real seconds)."""
    ctx.now = lambda: datetime.now(UTC)
    ctx.sleep = time.sleep
