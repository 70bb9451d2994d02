"""Timer triggers: NCRONTAB (6 fields, UTC) or hh:mm:ss schedules, one run at a time per timer."""

from __future__ import annotations

import datetime as dt
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future

import azure.functions as func
from croniter import croniter

from devstack.host.bindings import FunctionInfo
from devstack.host.config import is_timespan, parse_timespan
from devstack.host.invoke import InvocationResult
from devstack.host.singleton import SingletonLock

logger = logging.getLogger(__name__)

# A run this late is reported as past due (the real host compares with its schedule monitor).
PAST_DUE_AFTER = dt.timedelta(seconds=1)

Submit = Callable[[FunctionInfo, object, str], "Future[InvocationResult]"]


class TimerSchedule:
    def __init__(self, expression: str):
        self.expression = expression
        self._interval = dt.timedelta(seconds=parse_timespan(expression)) if is_timespan(expression) else None

    def next_after(self, moment: dt.datetime) -> dt.datetime:
        if self._interval is not None:
            return moment + self._interval
        following: dt.datetime = croniter(self.expression, moment, second_at_beginning=True).get_next(dt.datetime)
        return following


class TimerRunner:
    """Fires one timer function on its schedule; a tick that finds the last run still going is skipped."""

    def __init__(
        self, function: FunctionInfo, submit: Submit, *, stop: threading.Event, lock: SingletonLock | None = None
    ):
        self.function = function
        self._lock = lock
        self.schedule = TimerSchedule(function.binding["schedule"])
        self._submit = submit
        self._stop = stop
        self._running: Future[InvocationResult] | None = None
        self._last: dt.datetime | None = None

    def run(self) -> None:
        now = _utcnow()
        if self.function.run_on_startup:
            self._fire(now, self.schedule.next_after(now))
        next_at = self.schedule.next_after(now)
        while not self._stop.wait(max(0.0, (next_at - _utcnow()).total_seconds())):
            # Ticks missed while the machine slept are not replayed, like the real host.
            following = self.schedule.next_after(max(_utcnow(), next_at))
            self._fire(next_at, following)
            next_at = following

    def _fire(self, scheduled: dt.datetime, following: dt.datetime) -> None:
        if self._lock is not None and not self._lock.held:
            return  # another instance holds this timer's listener lock: it fires there
        if self._running is not None and not self._running.done():
            logger.warning(
                "timer %s: the run started at %s is still going; skipping the tick of %s",
                self.function.name,
                self._last,
                scheduled.isoformat(),
            )
            return
        now = _utcnow()
        timer = func.timer.TimerRequest(
            past_due=now - scheduled > PAST_DUE_AFTER,
            schedule_status={
                "Last": (self._last or dt.datetime.min.replace(tzinfo=dt.UTC)).isoformat(),
                "Next": following.isoformat(),
                "LastUpdated": now.isoformat(),
            },
            schedule={"AdjustForDST": True},
        )
        self._last = now
        self._running = self._submit(self.function, timer, f"timer, schedule {self.schedule.expression!r}")


def _utcnow() -> dt.datetime:
    return dt.datetime.now(dt.UTC)
