"""The functions an app object declares, with their trigger bindings resolved for this machine."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from croniter import croniter

from devstack.app_index import declared_functions
from devstack.host.config import HostConfigError, is_timespan, resolve_expression
from devstack.host.connections import StorageConnection, resolve_connection

BLOB_TRIGGER = "blobTrigger"
TIMER_TRIGGER = "timerTrigger"
QUEUE_TRIGGER = "queueTrigger"
SUPPORTED_TRIGGERS = (BLOB_TRIGGER, TIMER_TRIGGER, QUEUE_TRIGGER)
EVENT_GRID_SOURCE = "EventGrid"

_PATH_PARAMETER = re.compile(r"\{([^{}]+)\}")


@dataclass(frozen=True)
class BlobPath:
    """A blob trigger path like 'source/{name}': the container and a pattern for the blob name."""

    container: str
    name_pattern: str

    @classmethod
    def parse(cls, path: str, *, function_name: str) -> BlobPath:
        container, _, name_pattern = path.strip("/").partition("/")
        if not container or "{" in container:
            raise HostConfigError(f"function {function_name!r}: blob path {path!r} must start with a container name")
        return cls(container, name_pattern or "{name}")

    @property
    def name_prefix(self) -> str:
        """What every name this trigger watches starts with ('.inflight/' for 'target/.inflight/{name}')."""
        return self.name_pattern.split("{", 1)[0]

    def match(self, container: str, blob_name: str) -> dict[str, str] | None:
        """The path parameters ({name}...) if the blob is one this trigger watches, else None."""
        if container != self.container:
            return None
        pattern = ""
        position = 0
        for parameter in _PATH_PARAMETER.finditer(self.name_pattern):
            pattern += re.escape(self.name_pattern[position : parameter.start()])
            pattern += f"(?P<{parameter.group(1)}>.+)"
            position = parameter.end()
        pattern += re.escape(self.name_pattern[position:])
        found = re.fullmatch(pattern, blob_name, flags=re.DOTALL)
        return found.groupdict() if found else None

    def __str__(self) -> str:
        return f"{self.container}/{self.name_pattern}"


@dataclass(frozen=True)
class FunctionInfo:
    """One function as served: its name, trigger type and trigger binding with %SETTINGS% resolved."""

    name: str
    trigger_type: str
    binding: Mapping[str, Any]
    parameter_name: str
    user_function: Callable[..., Any] = field(repr=False, compare=False)
    # The resolved storage connection (its secret stays out of every repr and log line).
    connection: StorageConnection | None = field(default=None, repr=False, compare=False)

    def storage(self) -> StorageConnection:
        if self.connection is None:
            raise HostConfigError(f"function {self.name!r}: its {self.trigger_type} has no storage connection")
        return self.connection

    @property
    def blob_path(self) -> BlobPath:
        return BlobPath.parse(self.binding["path"], function_name=self.name)

    @property
    def is_event_grid_blob_trigger(self) -> bool:
        return self.trigger_type == BLOB_TRIGGER and self.binding.get("source") == EVENT_GRID_SOURCE

    def describe(self) -> str:
        if self.trigger_type == BLOB_TRIGGER:
            source = self.binding.get("source") or "LogsAndContainerScan"
            return f"blobTrigger path={self.binding['path']} source={source}"
        if self.trigger_type == TIMER_TRIGGER:
            return f"timerTrigger schedule={self.binding['schedule']!r} runOnStartup={self.run_on_startup}"
        return f"queueTrigger queue={self.binding['queueName']}"

    @property
    def run_on_startup(self) -> bool:
        return bool(self.binding.get("runOnStartup", False))


def discover_functions(app: Any, env: Mapping[str, str]) -> tuple[FunctionInfo, ...]:
    """Reads every function of a `func.FunctionApp` (blueprints included) and resolves its trigger."""
    if not hasattr(app, "get_functions"):
        raise HostConfigError(f"{app!r} is not an azure.functions.FunctionApp (it has no get_functions())")
    functions = []
    for function in declared_functions(app):
        name = function.get_function_name()
        bindings = json.loads(function.get_function_json())["bindings"]
        triggers = [binding for binding in bindings if binding.get("type", "").endswith("Trigger")]
        if len(triggers) != 1:
            raise HostConfigError(f"function {name!r} must have exactly one trigger, found {len(triggers)}")
        trigger = triggers[0]
        others = [binding["type"] for binding in bindings if binding is not trigger]
        if trigger["type"] not in SUPPORTED_TRIGGERS or others:
            unsupported = trigger["type"] if trigger["type"] not in SUPPORTED_TRIGGERS else ", ".join(others)
            raise HostConfigError(
                f"function {name!r}: the local host serves blob, timer and queue triggers without extra "
                f"bindings; it cannot serve {unsupported} (use the storage SDKs in the function instead)"
            )
        functions.append(_resolve(name, trigger, function.get_user_function(), env))
    names = [function.name for function in functions]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise HostConfigError(f"function names must be unique, found duplicates: {duplicates}")
    return tuple(functions)


def _resolve(
    name: str, trigger: dict[str, Any], user_function: Callable[..., Any], env: Mapping[str, str]
) -> FunctionInfo:
    binding = dict(trigger)
    trigger_type = binding["type"]
    connection = None
    if trigger_type == BLOB_TRIGGER:
        binding["path"] = resolve_expression(binding["path"], env, function_name=name, field="path")
        BlobPath.parse(binding["path"], function_name=name)
    elif trigger_type == QUEUE_TRIGGER:
        binding["queueName"] = resolve_expression(binding["queueName"], env, function_name=name, field="queueName")
    else:
        schedule = resolve_expression(binding["schedule"], env, function_name=name, field="schedule").strip()
        if not is_timespan(schedule):
            if len(schedule.split()) != 6 or not croniter.is_valid(schedule, second_at_beginning=True):
                raise HostConfigError(
                    f"function {name!r}: schedule {schedule!r} is not a 6-field NCRONTAB expression "
                    "(second minute hour day month day-of-week) nor a hh:mm:ss interval"
                )
        binding["schedule"] = schedule
    if trigger_type in (BLOB_TRIGGER, QUEUE_TRIGGER):
        connection = resolve_connection(binding.get("connection"), env, function_name=name)
    return FunctionInfo(
        name=name,
        trigger_type=trigger_type,
        binding=binding,
        parameter_name=binding["name"],
        user_function=user_function,
        connection=connection,
    )
