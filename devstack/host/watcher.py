"""Stands in for Event Grid: Azurite raises no blob events, so the host polls the container.

Every new or rewritten blob becomes a BlobCreated event (Event Grid schema), POSTed to
the webhook over HTTP like Event Grid would, with its retries. What was seen is kept in
memory only: a restarted host announces existing blobs again (at-least-once delivery).
As in Azure, a change of metadata alone (same size and content MD5, new ETag) raises no event.

One unreadable name does not blind the watcher: Azurite refuses any listing page holding a name with a
control character, so the container is listed through `devstack.host.listing.Listing`, which goes on
past such names (one warning, then about three list calls per unreadable spot and scan; one call per
5,000 names otherwise). Such a name itself raises no local event (Azure would raise one, and the app
would reject the name, ControlCharacterInName); the catch-up (shared/pipeline/catch_up.py) flags its
failing listing.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from azure.core.exceptions import ResourceNotFoundError

from devstack.host.bindings import FunctionInfo
from devstack.host.config import HOST_USER_AGENT
from devstack.host.event_filter import passes_subject_filter, passes_subscription_filter
from devstack.host.listing import Listing
from devstack.host.singleton import SingletonLock
from devstack.host.webhook import blob_created_event
from shared.redaction import redact

logger = logging.getLogger(__name__)

# Event Grid retries a failed delivery on a schedule of its own (10 s, 30 s, 1 min...); shorter here.
DELIVERY_ATTEMPTS = 5
FIRST_RETRY_DELAY_SECONDS = 0.5
# Our webhook answers when the function has finished (the real extension queues and answers 202),
# so the request may take as long as the function.
DELIVERY_TIMEOUT_SECONDS = 600.0

Deliver = Callable[[dict[str, Any]], None]


class BlobWatcher:
    """Polls one blob trigger's container and hands each new or changed blob's event to `deliver`."""

    def __init__(
        self,
        function: FunctionInfo,
        deliver: Deliver,
        *,
        interval: float,
        stop: threading.Event,
        lock: SingletonLock | None = None,
    ):
        self.function = function
        self._lock = lock
        self._deliver = deliver
        self._interval = interval
        self._stop = stop
        # name -> (ETag, size, content MD5, metadata) of the version last seen
        self._seen: dict[str, tuple[str, int, bytes | None, dict[str, str]]] = {}
        self._container = function.storage().container(function.blob_path.container, user_agent=HOST_USER_AGENT)
        self._listing = Listing(self._container, prefix=function.blob_path.name_prefix)
        self._failing = False

    def run(self) -> None:
        while not self._stop.is_set():
            if self._lock is None or self._lock.held:
                self.scan()
            else:
                # Another instance stands in for Event Grid; should it die, this one takes over
                # and announces what it has not seen (at least once, as Event Grid delivers).
                self._seen.clear()
            self._stop.wait(self._interval)

    def scan(self) -> int:
        """Announces new and changed blobs once; returns how many were announced."""
        path = self.function.blob_path
        try:
            listed = self._listing.read()
        except ResourceNotFoundError:
            self._report_failure("container %s does not exist yet; watching for it", path.container)
            return 0
        except Exception as exc:
            self._report_failure("cannot list container %s: %s", path.container, redact(str(exc)))
            return 0
        blobs = listed.blobs
        if listed.incomplete is not None:
            # Announce what was read; forget nothing, as the rest was not seen.
            self._report_failure("cannot list all of container %s: %s", path.container, redact(listed.incomplete))
        else:
            if self._failing:
                logger.info("watching container %s again", path.container)
                self._failing = False
            current = {blob.name for blob in blobs}
            # Forget deleted blobs so a blob re-created under the same name is announced.
            for name in set(self._seen) - current:
                del self._seen[name]
        announced = 0
        for blob in blobs:
            if path.match(path.container, blob.name) is None:
                continue
            md5 = bytes(blob.content_settings.content_md5) if blob.content_settings.content_md5 else None
            metadata = dict(blob.metadata or {})
            seen = self._seen.get(blob.name)
            self._seen[blob.name] = (blob.etag, blob.size, md5, metadata)
            if seen is not None and seen[0] == blob.etag:
                continue
            if seen is not None and md5 is not None and (seen[1], seen[2]) == (blob.size, md5) and seen[3] != metadata:
                # Set Blob Metadata changes the ETag, but Azure raises no BlobCreated for it. (The same
                # bytes uploaded again with other metadata look alike here: they raise none either.)
                logger.info("blob %s/%s: only its metadata changed; no event", path.container, blob.name)
                continue
            logger.info(
                "blob %s/%s (ETag %s) is new or changed: raising BlobCreated", path.container, blob.name, blob.etag
            )
            content_type = blob.content_settings.content_type if blob.content_settings else None
            self._deliver(
                blob_created_event(
                    self._container.get_blob_client(blob.name).url,
                    etag=blob.etag,
                    size=blob.size,
                    content_type=content_type or "application/octet-stream",
                    account=self._container.account_name or "devstoreaccount1",
                )
            )
            announced += 1
        return announced

    def _report_failure(self, message: str, *args: object) -> None:
        # Once per outage at warning level: the watcher polls every second.
        logger.log(logging.DEBUG if self._failing else logging.WARNING, message, *args)
        self._failing = True


class EventGridDelivery:
    """POSTs events to a webhook like Event Grid: N copies each, retried with backoff on failure.
    With several instances' webhooks, each copy goes to one of them at random (two copies of one
    event may reach two instances at the same moment)."""

    def __init__(
        self,
        webhook_urls: str | list[str],
        *,
        copies: int = 1,
        concurrent: bool = False,
        duplicate_rate: float = 0.0,
        loss_rate: float = 0.0,
        subject_begins_with: str = "",
        stop: threading.Event,
        max_workers: int = 8,
    ):
        if copies < 1:
            raise ValueError("event deliveries must be at least 1")
        self.webhook_urls = [webhook_urls] if isinstance(webhook_urls, str) else list(webhook_urls)
        if not self.webhook_urls:
            raise ValueError("Event Grid needs at least one webhook to deliver to")
        self._copies = copies
        self._concurrent = concurrent
        self._duplicate_rate = duplicate_rate
        self._loss_rate = loss_rate
        self._subject_begins_with = subject_begins_with
        self._random = random.Random()
        self._stop = stop
        self._client = httpx.Client(timeout=httpx.Timeout(DELIVERY_TIMEOUT_SECONDS, connect=5.0))
        self._pool = ThreadPoolExecutor(max_workers=max(max_workers, copies), thread_name_prefix="eventgrid")

    def __call__(self, event: dict[str, Any]) -> None:
        if not passes_subscription_filter(event) or not passes_subject_filter(
            str(event.get("subject") or ""), self._subject_begins_with
        ):
            logger.info(
                "event %s (%s) does not pass the subscription's filter; not delivered",
                event.get("id"),
                event.get("subject"),
            )
            return
        if self._loss_rate and self._random.random() < self._loss_rate:
            logger.warning(
                "event %s (%s) is lost, as when its subscription is down", event.get("id"), event.get("subject")
            )
            return
        copies = self._copies + (1 if self._random.random() < self._duplicate_rate else 0)
        if self._concurrent:
            for _ in range(copies):
                self._pool.submit(self._deliver_with_retries, event)
        else:
            self._pool.submit(self._deliver_copies, event, copies)

    def _deliver_copies(self, event: dict[str, Any], copies: int) -> None:
        for _ in range(copies):
            self._deliver_with_retries(event)

    def _deliver_with_retries(self, event: dict[str, Any]) -> bool:
        delay = FIRST_RETRY_DELAY_SECONDS
        last_problem = ""
        for attempt in range(1, DELIVERY_ATTEMPTS + 1):
            try:
                target = random.choice(self.webhook_urls)
                response = self._client.post(target, json=[event], headers={"aeg-event-type": "Notification"})
                if response.is_success:
                    return True
                last_problem = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last_problem = f"{type(exc).__name__}: {exc}"
            if attempt < DELIVERY_ATTEMPTS:
                logger.warning(
                    "delivery of event %s (%s) failed (%s); retrying in %.1fs",
                    event["id"],
                    event["subject"],
                    last_problem,
                    delay,
                )
                if self._stop.wait(delay):
                    break
                delay *= 2
        logger.error(
            "gave up delivering event %s (%s) after %d attempts (last: %s); Event Grid would dead-letter it",
            event["id"],
            event["subject"],
            attempt,
            last_problem,
        )
        return False

    def close(self, timeout: float = 5.0) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
        self._client.close()
