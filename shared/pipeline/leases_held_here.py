"""The grouping leases held by this process, so a file of such a plan need not ask the table."""

from __future__ import annotations

import threading
from datetime import datetime

from shared.storage.schedule_table import Lease


class LeasesHeldHere:
    """The grouping leases an invocation of this process holds, and until when. A file of such a plan
    waits to be grouped without asking the table who groups it: the table would only say "taken".
    A lease is marked here once taken or renewed and unmarked before it is let go, so that a file
    which found its plan marked after writing its waiting row is seen by the holder's last look."""

    def __init__(self) -> None:
        self._until: dict[str, datetime] = {}
        self._lock = threading.Lock()

    def hold(self, lease: Lease) -> None:
        with self._lock:
            self._until[lease.plan] = lease.expires_at

    def let_go(self, plan: str) -> None:
        with self._lock:
            self._until.pop(plan, None)

    def holds(self, plan: str, now: datetime) -> bool:
        with self._lock:
            until = self._until.get(plan)
            return until is not None and until > now
