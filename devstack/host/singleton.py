"""Singleton listeners across instances, the way the Functions host keeps a timer on one instance:
a blob lease in the host's storage (`AzureWebJobsStorage`), container `azure-webjobs-hosts`, blob
`locks/<host id>/Host.Functions.<function>.Listener`. The holder renews it; when the holder dies,
its lease runs out and another instance takes it within the recovery interval (host.json
`singleton.listenerLockPeriod` and `listenerLockRecoveryPollingInterval`, 60 s each by default).

Several local host processes on one storage account then behave like several instances of one app:
each runs its queue triggers, one runs the timers (and the stand-in for Event Grid).
"""

from __future__ import annotations

import logging
import threading
import uuid
from dataclasses import dataclass

from azure.core.exceptions import HttpResponseError, ResourceExistsError, ResourceNotFoundError
from azure.storage.blob import BlobClient, BlobLeaseClient

from devstack.host.config import HOST_USER_AGENT, parse_timespan
from devstack.host.connections import StorageConnection

logger = logging.getLogger(__name__)

HOSTS_CONTAINER = "azure-webjobs-hosts"
# A blob lease lasts 15 to 60 seconds.
MIN_LEASE_SECONDS, MAX_LEASE_SECONDS = 15, 60


@dataclass(frozen=True)
class SingletonOptions:
    """`singleton` of host.json."""

    lock_period_seconds: float = 60.0
    recovery_interval_seconds: float = 60.0

    @classmethod
    def from_host_json(cls, host_json: dict[str, object]) -> SingletonOptions:
        section = host_json.get("singleton") or {}
        assert isinstance(section, dict)
        period = section.get("listenerLockPeriod")
        recovery = section.get("listenerLockRecoveryPollingInterval")
        return cls(
            parse_timespan(str(period)) if period else cls.lock_period_seconds,
            parse_timespan(str(recovery)) if recovery else cls.recovery_interval_seconds,
        )

    def shortened(self, seconds: float) -> SingletonOptions:
        """Both periods at `seconds` (a local stack that must hand a timer over quickly)."""
        return SingletonOptions(seconds, seconds)


class SingletonLock:
    """Holds (and renews) one listener's lease in a thread of its own; `held` says whether this
    instance runs the listener now."""

    def __init__(
        self, storage: StorageConnection, host_id: str, name: str, options: SingletonOptions, *, stop: threading.Event
    ):
        self.name = name
        self.blob_name = f"locks/{host_id}/Host.Functions.{name}.Listener"
        self._options = options
        self._stop = stop
        self._container = storage.container(HOSTS_CONTAINER, user_agent=HOST_USER_AGENT)
        self._blob: BlobClient = self._container.get_blob_client(self.blob_name)
        self._lease = BlobLeaseClient(self._blob, lease_id=str(uuid.uuid4()))
        self._held = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def held(self) -> bool:
        return self._held.is_set()

    @property
    def lease_seconds(self) -> int:
        return int(min(MAX_LEASE_SECONDS, max(MIN_LEASE_SECONDS, self._options.lock_period_seconds)))

    def start(self) -> SingletonLock:
        self._thread = threading.Thread(target=self._run, name=f"lock-{self.name}", daemon=True)
        self._thread.start()
        return self

    def release(self) -> None:
        if self._held.is_set():
            try:
                self._lease.release()
            except HttpResponseError:
                pass
            self._held.clear()

    def _run(self) -> None:
        while not self._stop.is_set():
            if self._held.is_set():
                self._renew()
                wait = self.lease_seconds / 3
            else:
                self._try_acquire()
                wait = self.lease_seconds / 3 if self._held.is_set() else self._options.recovery_interval_seconds
            if self._stop.wait(wait):
                break
        self.release()

    def _try_acquire(self) -> None:
        try:
            self._ensure_blob()
            self._lease.acquire(lease_duration=self.lease_seconds)
        except (ResourceExistsError, HttpResponseError) as exc:
            if getattr(exc, "status_code", None) != 409:
                logger.debug("singleton %s: cannot take the lock now (%s)", self.name, exc)
            return
        except Exception as exc:  # storage down: try again at the next interval
            logger.debug("singleton %s: cannot reach the lock (%s)", self.name, exc)
            return
        self._held.set()
        logger.info("singleton %s: this instance holds the listener lock", self.name)

    def _renew(self) -> None:
        try:
            self._lease.renew()
        except Exception as exc:
            self._held.clear()
            logger.warning("singleton %s: lost the listener lock (%s); another instance may take it", self.name, exc)

    def _ensure_blob(self) -> None:
        try:
            self._blob.upload_blob(b"", overwrite=False)
        except ResourceExistsError:
            return
        except ResourceNotFoundError:
            try:
                self._container.create_container()
            except ResourceExistsError:
                pass
            try:
                self._blob.upload_blob(b"", overwrite=False)
            except ResourceExistsError:
                pass
