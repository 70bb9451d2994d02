"""Storage's BlobCreated event for each translation the emulator writes, POSTed to a webhook as Event
Grid would (`--announce-writes URL`): for the benchmarks, whose host does not list the target
container to stand in for Event Grid (a listing whose cost exists only locally). What the service
writes is all that is announced; Azure announces every write to the account, and the subscription's
filter keeps these."""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor

import httpx

from devstack.host.webhook import blob_created_event
from shared.redaction import strip_query

logger = logging.getLogger(__name__)

ATTEMPTS = 3
FIRST_RETRY_SECONDS = 0.5


class WriteAnnouncer:
    def __init__(self, webhook_url: str, *, senders: int = 4):
        self._url = webhook_url
        self._client = httpx.Client(
            timeout=httpx.Timeout(600.0, connect=5.0), headers={"aeg-event-type": "Notification"}
        )
        self._pool = ThreadPoolExecutor(max_workers=senders, thread_name_prefix="write-events")

    def announce(self, blob_url: str, *, etag: str, size: int, content_type: str) -> None:
        event = blob_created_event(strip_query(blob_url), etag=etag, size=size, content_type=content_type)
        self._pool.submit(self._deliver, event)

    def _deliver(self, event: dict[str, object]) -> None:
        delay = FIRST_RETRY_SECONDS
        for attempt in range(1, ATTEMPTS + 1):
            try:
                if self._client.post(self._url, json=[event]).is_success:
                    return
            except httpx.HTTPError as exc:
                logger.debug("announcing %s failed (%s), attempt %d", event["subject"], exc, attempt)
            if attempt < ATTEMPTS:
                time.sleep(delay)
                delay *= 2
        logger.warning("gave up announcing %s; the app's poll finds its job anyway", event["subject"])

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
