"""What a month of the app costs on Flex Consumption, from the published billing rules: the figures
of the README's cost table (a test holds the two equal) and of `make bench`'s idle-month row.

The rules (https://azure.microsoft.com/pricing/details/functions/, Flex Consumption, on demand):
every execution is billed for at least 1 second of the instance's memory, at $0.000026 per GB-s,
plus $0.40 per million executions, after a monthly free grant of 100,000 GB-s and 250,000
executions (per subscription). Storage transactions are billed by the storage account.
"""

from __future__ import annotations

from dataclasses import dataclass

GB_SECOND_PRICE = 0.000026
EXECUTION_PRICE = 0.40 / 1_000_000
FREE_GB_SECONDS = 100_000
FREE_EXECUTIONS = 250_000
# Flex bills an on-demand execution for at least this long (SERVICE_NOTES.md).
MINIMUM_BILLED_SECONDS = 1.0
# infra/modules/functionapp.bicep's instanceMemoryMB (2,048 MB), in GB as billed.
INSTANCE_MEMORY_GB = 2.0
DAYS_IN_MONTH = 31
# Storage account prices (LRS, hot; check the pricing page): per 10,000 transactions.
TABLE_PRICE_PER_10K = 0.00036
QUEUE_PRICE_PER_10K = 0.004
# Blob writes and listings are the dearest transactions.
BLOB_WRITE_PRICE_PER_10K = 0.055
# The queue functions (record_outcome, poll_shard and the two poison-queue ones) scale on their own
# instances; idle, the platform's scale controller looks at each queue, about every 10 s (assumed).
QUEUE_FUNCTIONS = 4
SCALE_CONTROLLER_LOOKS_PER_SECOND = 0.1


def _field_values(field: str, low: int, high: int) -> set[int]:
    values: set[int] = set()
    for part in field.split(","):
        step = 1
        if "/" in part:
            part, step_text = part.split("/", 1)
            step = int(step_text)
        if part in ("*", ""):
            start, end = low, high
        elif "-" in part:
            start, end = (int(value) for value in part.split("-", 1))
        else:
            start = end = int(part)
        values.update(range(start, end + 1, step))
    return values


def executions_per_month(schedule: str) -> int:
    """How often an NCRONTAB schedule (six fields, seconds first) fires in a 31-day month."""
    seconds, minutes, hours, days, months, weekdays = schedule.split()
    if months != "*" or weekdays != "*":
        raise ValueError(f"only schedules that run every month and weekday are costed here: {schedule!r}")
    per_day = len(_field_values(seconds, 0, 59)) * len(_field_values(minutes, 0, 59)) * len(_field_values(hours, 0, 23))
    return per_day * len(_field_values(days, 1, DAYS_IN_MONTH))


def seconds_between_ticks(schedule: str) -> float:
    """The longest gap between two runs of a schedule that fires evenly through the day."""
    return DAYS_IN_MONTH * 86_400 / executions_per_month(schedule)


@dataclass(frozen=True)
class MonthCost:
    executions: int
    gb_seconds: float
    storage_transactions: dict[str, int]

    @property
    def compute_dollars(self) -> float:
        """What Flex bills beyond the free grant."""
        over_gb_seconds = max(0.0, self.gb_seconds - FREE_GB_SECONDS)
        over_executions = max(0, self.executions - FREE_EXECUTIONS)
        return over_gb_seconds * GB_SECOND_PRICE + over_executions * EXECUTION_PRICE

    @property
    def storage_dollars(self) -> float:
        prices = {
            "table": TABLE_PRICE_PER_10K,
            "queue": QUEUE_PRICE_PER_10K,
            "blob write or list": BLOB_WRITE_PRICE_PER_10K,
        }
        return sum(count / 10_000 * prices[kind] for kind, count in self.storage_transactions.items())

    @property
    def inside_free_grant(self) -> bool:
        return self.gb_seconds <= FREE_GB_SECONDS and self.executions <= FREE_EXECUTIONS


def idle_month(poll_schedule: str, catch_up_schedule: str) -> MonthCost:
    """A month with nothing dropped: the poll's ticks (one table query each) and the catch-up's runs
    (one listing of the source container and one table read each), each billed for the minimum."""
    ticks = executions_per_month(poll_schedule)
    catch_ups = executions_per_month(catch_up_schedule)
    executions = ticks + catch_ups
    queue_looks = int(QUEUE_FUNCTIONS * SCALE_CONTROLLER_LOOKS_PER_SECOND * DAYS_IN_MONTH * 86_400)
    return MonthCost(
        executions=executions,
        gb_seconds=executions * MINIMUM_BILLED_SECONDS * INSTANCE_MEMORY_GB,
        storage_transactions={"table": ticks + catch_ups, "blob write or list": catch_ups, "queue": queue_looks},
    )


# What one file costs the app (not the service's per-character bill), by what runs for it: its drop's
# blob trigger, one written-translation event per language, its record step; the storage requests
# per file are `make bench`'s (all parts, from Azurite's log: about 30), priced as the dearest kind.
STORAGE_REQUESTS_PER_FILE = 30


def month_with_files(poll_schedule: str, catch_up_schedule: str, *, files: int, languages: int) -> MonthCost:
    """The idle month plus `files` files, each execution billed for the minimum as if alone (files
    that land together share instances and seconds, so this is the most it costs)."""
    idle = idle_month(poll_schedule, catch_up_schedule)
    per_file = 1 + languages + 1
    executions = idle.executions + files * per_file
    transactions = dict(idle.storage_transactions)
    transactions["blob write or list"] += files * STORAGE_REQUESTS_PER_FILE
    return MonthCost(
        executions=executions,
        gb_seconds=executions * MINIMUM_BILLED_SECONDS * INSTANCE_MEMORY_GB,
        storage_transactions=transactions,
    )
