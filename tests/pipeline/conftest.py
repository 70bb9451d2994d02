from __future__ import annotations

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
            "RECORDS_TABLE": f"jobs{suffix}",
            "RESULTS_QUEUE": f"results-{suffix}",
            **overrides,
        }
        ctx = PipelineContext(Settings.from_env(env), translator=service, now=clock)  # type: ignore[arg-type]
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
