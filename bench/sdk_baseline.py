"""The baseline a user would pick instead: the official SDK, the way a script uses it.

`begin_translation` then `poller.result()` for each file (and reading its documents), one file after
another, or eight at a time, against the same emulator as our app, with the same SAS URLs.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime

from azure.ai.translation.document import DocumentTranslationClient
from azure.ai.translation.document.models import DocumentTranslationInput, TranslationTarget
from azure.core.credentials import AzureKeyCredential

from shared.pipeline.context import PipelineContext


@dataclass
class SdkRun:
    files: int = 0
    seconds: float = 0.0
    # When `poller.result()` returned, minus when the service finished the job (its last action).
    finished_to_result: list[float] = field(default_factory=list)
    failures: int = 0


def run_sdk(
    ctx: PipelineContext, endpoint: str, key: str, names: list[str], languages: tuple[str, ...], threads: int
) -> SdkRun:
    client = DocumentTranslationClient(endpoint, AzureKeyCredential(key), api_version="2024-05-01")
    settings = ctx.settings
    access = ctx.access
    run = SdkRun(files=len(names))

    def translate(name: str) -> None:
        targets = [
            TranslationTarget(
                target_url=access.target_url(settings.target_container, f"sdk/{language}/{name}"), language=language
            )
            for language in languages
        ]
        source = access.source_url(settings.source_container, name)
        poller = client.begin_translation([DocumentTranslationInput(source, targets, storage_type="File")])
        documents = list(poller.result())
        returned = datetime.now(UTC)
        details = poller.details
        finished = details.last_updated_on
        run.finished_to_result.append((returned - finished).total_seconds())
        if any(document.status != "Succeeded" for document in documents):
            run.failures += 1

    started = time.monotonic()
    if threads <= 1:
        for name in names:
            translate(name)
    else:
        with ThreadPoolExecutor(max_workers=threads) as pool:
            list(pool.map(translate, names))
    run.seconds = time.monotonic() - started
    client.close()
    return run
