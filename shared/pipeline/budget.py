"""A character budget: CHARACTER_BUDGET_PER_DAY and/or CHARACTER_BUDGET_PER_MONTH (UTC windows).
With neither set nothing here runs, and no path makes a storage call for it.

Spent in a window = what the service charged for the files whose jobs were submitted in it and have
been recorded, plus the estimates (estimate.py) of those still in flight. Both live in one counter
per window (storage/spend_counters.py, 16 shards): a job's estimate is added just before its start
call, and the record step adds the difference between what the service charged and the estimate
once the file is recorded. A file is counted in the window its job was submitted in. A file that
ends without being charged by the record step (refused before a job, superseded while grouped)
keeps its estimate counted: the error is on the safe side, and ends when the window turns.

A group of waiting files (grouping.py) is cut to the oldest of them that fit what is left; the rest
wait, flagged BudgetExceeded, in drop order (per plan: the files of each plan are taken oldest first),
and the poll looks at them again every RECHECK (at most a minute late for a raised budget) and when
the window turns. Nothing is ever rejected for the budget. Two groupers of different plans that
check at the same moment may both pass: a race overshoots by at most one group per concurrent
grouper. When a window's spend crosses ALERT_SHARE of its budget, a `translation.budget_alert`
event is logged once per instance and window (an Azure alert fires on it: infra/modules/alerts.bicep).
"""

from __future__ import annotations

import logging
import math
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from shared.settings import Settings
from shared.storage.spend_counters import SpendCounters, shard_of
from shared.telemetry import Event

logger = logging.getLogger(__name__)

ALERT_SHARE = 0.8
RECHECK = timedelta(minutes=1)
BUDGET_EXCEEDED_ATTENTION = (
    "waits for the character budget (CHARACTER_BUDGET_PER_DAY / CHARACTER_BUDGET_PER_MONTH): it is submitted "
    "when the window turns or the budget is raised"
)


@dataclass(frozen=True)
class Window:
    name: str  # day-2026-12-02 | month-2026-12
    budget: int
    ends_at: datetime


def windows(settings: Settings, now: datetime) -> tuple[Window, ...]:
    """The budget windows `now` falls in (none when no budget is set)."""
    now = now.astimezone(UTC)
    found: list[Window] = []
    if settings.character_budget_per_day is not None:
        day = datetime(now.year, now.month, now.day, tzinfo=UTC)
        found.append(Window(f"day-{day:%Y-%m-%d}", settings.character_budget_per_day, day + timedelta(days=1)))
    if settings.character_budget_per_month is not None:
        month = datetime(now.year, now.month, 1, tzinfo=UTC)
        following = datetime(now.year + now.month // 12, now.month % 12 + 1, 1, tzinfo=UTC)
        found.append(Window(f"month-{month:%Y-%m}", settings.character_budget_per_month, following))
    return tuple(found)


@dataclass(frozen=True)
class Spend:
    window: Window
    spent: int

    @property
    def left(self) -> int:
        return max(self.window.budget - self.spent, 0)

    @property
    def share(self) -> float:
        return self.spent / self.window.budget


def spend(counters: SpendCounters, settings: Settings, now: datetime) -> list[Spend]:
    current = windows(settings, now)
    spent = counters.spent(tuple(window.name for window in current))
    return [Spend(window, spent[window.name]) for window in current]


def left(spends: Sequence[Spend]) -> int:
    """Characters that still fit every window."""
    return min(item.left for item in spends)


def next_look(spends: Sequence[Spend], now: datetime) -> datetime:
    """When files waiting for the budget are looked at again: in RECHECK (rounded up to a whole
    RECHECK, so that every grouper of a plan blocked within it writes the same place in the
    schedule, not one each), or when a window turns."""
    turns = min(item.window.ends_at for item in spends)
    step = RECHECK.total_seconds()
    rounded = datetime.fromtimestamp(math.ceil((now + RECHECK).timestamp() / step) * step, UTC)
    return min(rounded, turns)


def cut_to_fit(estimates: Sequence[int], room: int) -> int:
    """How many of the oldest files fit `room` characters (an unestimated file counts 0)."""
    total = 0
    for count, characters in enumerate(estimates):
        total += characters
        if total > room:
            return count
    return len(estimates)


_alerted: set[str] = set()
_alerted_lock = threading.Lock()


def reserve(counters: SpendCounters, spends: Sequence[Spend], key: str, characters: int) -> None:
    """Counts a job's estimate in every window before its start call (in the shard of `key`, a
    member's record key); logs the alert event when a window's spend crosses ALERT_SHARE of its
    budget."""
    for item in spends:
        counters.add(item.window.name, shard_of(key), characters)
        _alert_if_crossed(item, item.spent + characters)


def settle(counters: SpendCounters, windows_counted: str, key: str, charged: int, estimated: int) -> None:
    """The record step: the service's charge replaces the estimate in the windows it was counted in."""
    difference = charged - estimated
    if difference == 0:
        return
    for window in windows_counted.split(","):
        if window:
            counters.add(window, shard_of(key), difference)


def _alert_if_crossed(item: Spend, spent_now: int) -> None:
    threshold = ALERT_SHARE * item.window.budget
    if item.spent >= threshold or spent_now < threshold:
        return
    with _alerted_lock:
        if item.window.name in _alerted:
            return
        _alerted.add(item.window.name)
    logger.warning(
        "character budget window %s is at %d of %d characters (%.0f%%): files past it will wait",
        item.window.name,
        spent_now,
        item.window.budget,
        100 * spent_now / item.window.budget,
        extra={
            "event": Event.BUDGET_ALERT.value,
            "budget_window": item.window.name,
            "characters_spent": spent_now,
            "character_budget": item.window.budget,
        },
    )


def money(settings: Settings, characters: int) -> float | None:
    price = settings.price_per_million_characters
    return None if price is None else round(characters * price / 1_000_000, 2)
