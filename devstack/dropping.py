"""Put files into the source container the way a user would, and read back what became of them."""

from __future__ import annotations

import mimetypes
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from azure.storage.blob import ContentSettings

from shared.pipeline.checks import LANGUAGES_METADATA_KEY
from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.record_keys import record_key
from shared.storage.record_table import RecordTable
from shared.storage.records import FinalRecord


@dataclass(frozen=True)
class DroppedFile:
    name: str
    etag: str
    key: str


def drop_files(
    settings: Settings,
    paths: Iterable[Path],
    *,
    languages: str | None = None,
    prefix: str = "",
    names: Iterable[str] | None = None,
) -> list[DroppedFile]:
    """Uploads each file as `<prefix><file name>`, or under the matching entry of `names`."""
    container = StorageClients(settings).container(settings.source_container)
    dropped = []
    paths = list(paths)
    chosen = list(names) if names is not None else [f"{prefix}{path.name}" for path in paths]
    for path, name in zip(paths, chosen, strict=True):
        content_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
        metadata = {LANGUAGES_METADATA_KEY: languages} if languages else None
        result = container.get_blob_client(name).upload_blob(
            path.read_bytes(),
            overwrite=True,
            metadata=metadata,
            content_settings=ContentSettings(content_type=content_type),
        )
        etag = str(result["etag"]).strip('"')
        dropped.append(DroppedFile(name, etag, record_key(settings.source_container, name, etag)))
    return dropped


def wait_for_final_records(
    settings: Settings, dropped: list[DroppedFile], *, timeout: float, interval: float = 0.5
) -> dict[str, FinalRecord]:
    """Key -> final record, once every dropped file has one (or what there is at the timeout)."""
    records = RecordTable(StorageClients(settings).records_table)
    found: dict[str, FinalRecord] = {}
    deadline = time.monotonic() + timeout
    while True:
        for item in dropped:
            if item.key not in found:
                record = records.get_final(item.key)
                if record is not None:
                    found[item.key] = record
        if len(found) == len(dropped) or time.monotonic() >= deadline:
            return found
        time.sleep(interval)
