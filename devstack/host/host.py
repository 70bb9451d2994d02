"""`LocalFunctionsHost`: serves the blob, timer and queue triggers of a Python v2 app against Azurite."""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from collections.abc import Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_for
from functools import partial
from pathlib import Path
from typing import Any
from urllib.parse import quote

from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import TextBase64EncodePolicy

from devstack.host.bindings import BLOB_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER, FunctionInfo, discover_functions
from devstack.host.config import (
    DEFAULT_APP,
    DEFAULT_CONNECTION,
    HOST_USER_AGENT,
    BlobsOptions,
    QueueOptions,
    import_app,
    load_host_json,
    load_local_settings,
)
from devstack.host.connections import resolve_connection
from devstack.host.event_filter import subject_begins_with
from devstack.host.invoke import InvocationResult, blob_argument, invoke
from devstack.host.queues import PROCESSING_VISIBILITY_SECONDS, QueueListener
from devstack.host.singleton import SingletonLock, SingletonOptions
from devstack.host.timers import TimerRunner
from devstack.host.watcher import BlobWatcher, EventGridDelivery
from devstack.host.webhook import FUNCTION_NAME_PREFIX, WEBHOOK_PATH, BlobEvent, build_webhook_app
from devstack.http_server import UvicornServer, listening_socket
from shared.redaction import redact

logger = logging.getLogger(__name__)

# The blobs extension's poison queue, in the storage account of the triggering blob.
BLOB_TRIGGER_POISON_QUEUE = "webjobs-blobtrigger-poison"
DEFAULT_PORT = 7071
STOP_GRACE_SECONDS = 5.0


class LocalFunctionsHost:
    """Runs the functions declared on `app` the way the Functions host would, in background threads.

    `env` resolves %SETTING% expressions and connection names (default: os.environ; the app
    itself still reads os.environ). `host_json` is the parsed host.json (default: its defaults).

    Several hosts on one storage account are several instances of one app: each runs the queue
    triggers; timers, and the watcher that stands in for Event Grid, run on whichever instance holds
    their singleton lock (singleton.py). `event_targets` are every instance's webhook ports (its own
    included): the watcher spreads events over them, as Event Grid reaches whichever instance the
    platform routes it to.
    """

    def __init__(
        self,
        app: Any,
        *,
        port: int = 0,
        env: Mapping[str, str] | None = None,
        host_json: Mapping[str, Any] | None = None,
        watch_interval: float = 1.0,
        event_deliveries: int = 1,
        concurrent_deliveries: bool = False,
        duplicate_rate: float = 0.0,
        event_loss_rates: Mapping[str, float] | None = None,
        watch: bool = True,
        watch_only: tuple[str, ...] = (),
        bind_host: str = "127.0.0.1",
        max_concurrent_invocations: int = 16,
        instance_id: str = "0",
        event_target_ports: tuple[int, ...] = (),
        singleton_lock_seconds: float | None = None,
        message_lease_seconds: float = PROCESSING_VISIBILITY_SECONDS,
    ):
        if event_deliveries < 1:
            raise ValueError("event_deliveries must be at least 1")
        self._env = os.environ if env is None else env
        self.functions: tuple[FunctionInfo, ...] = discover_functions(app, self._env)
        self.queue_options = QueueOptions.from_host_json(host_json or {})
        self.blobs_options = BlobsOptions.from_host_json(host_json or {})
        singleton = SingletonOptions.from_host_json(dict(host_json or {}))
        self.singleton_options = singleton.shortened(singleton_lock_seconds) if singleton_lock_seconds else singleton
        self.instance_id = instance_id
        self.event_target_ports = tuple(event_target_ports)
        self.message_lease_seconds = message_lease_seconds
        # The host's own storage (AzureWebJobsStorage), where its singleton locks live.
        self.host_id = str((host_json or {}).get("id") or "local-functions-host")
        self.requested_port = port
        self.bind_host = bind_host
        self.watch_interval = watch_interval
        self.event_deliveries = event_deliveries
        self.concurrent_deliveries = concurrent_deliveries
        if not 0.0 <= duplicate_rate <= 1.0:
            raise ValueError("duplicate_rate must be within 0.0..1.0")
        self.duplicate_rate = duplicate_rate
        # function name -> the fraction of its events never delivered (its subscription down)
        self.event_loss_rates = dict(event_loss_rates or {})
        unknown = set(self.event_loss_rates) - {function.name for function in self.functions}
        if unknown:
            raise ValueError(f"no blob trigger named {', '.join(sorted(unknown))} to lose events of")
        self.watch = watch
        # Blob triggers whose container is scanned (empty: all); the others' events are POSTed to the
        # webhook by whoever stands in for Event Grid (the bench).
        self.watch_only = frozenset(watch_only)
        unknown_watched = self.watch_only - {function.name for function in self.functions}
        if unknown_watched:
            raise ValueError(f"no blob trigger named {', '.join(sorted(unknown_watched))} to watch")
        self._max_concurrent_invocations = max_concurrent_invocations
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._deliveries: list[EventGridDelivery] = []
        self._in_flight: set[Future[InvocationResult]] = set()
        self._in_flight_lock = threading.Lock()
        self._executor: ThreadPoolExecutor | None = None
        self._server: UvicornServer | None = None
        self._locks: list[SingletonLock] = []

    @classmethod
    def from_project(cls, project_dir: Path, app_spec: str = DEFAULT_APP, **options: Any) -> LocalFunctionsHost:
        """Loads local.settings.json into os.environ, then imports the app, as Core Tools does."""
        load_local_settings(project_dir)
        host_json = load_host_json(project_dir)
        app = import_app(app_spec, project_dir)
        return cls(app, host_json=host_json, **options)

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("the host is not started")
        port: int = self._server.port
        return port

    def function(self, name: str) -> FunctionInfo:
        for function in self.functions:
            if function.name == name:
                return function
        raise KeyError(f"no function named {name!r}; the app declares {[f.name for f in self.functions]}")

    def webhook_url(self, function_name: str, port: int | None = None) -> str:
        self.function(function_name)
        return (
            f"http://{self.bind_host}:{port or self.port}{WEBHOOK_PATH}"
            f"?functionName={quote(FUNCTION_NAME_PREFIX + function_name)}"
        )

    @property
    def one_of_several(self) -> bool:
        return len(self.event_target_ports) > 1

    def _singleton(self, name: str) -> SingletonLock | None:
        """The listener lock of a singleton, when this host is one of several instances (alone, it
        runs every listener itself, as Core Tools does)."""
        if not self.one_of_several:
            return None
        connection = resolve_connection(DEFAULT_CONNECTION, self._env, function_name=name)
        lock = SingletonLock(connection, self.host_id, name, self.singleton_options, stop=self._stop).start()
        self._locks.append(lock)
        return lock

    def describe(self) -> list[str]:
        """One line per function: what it listens to (and its webhook URL once started)."""
        lines = []
        for function in self.functions:
            line = f"{function.name}: {function.describe()}"
            if function.is_event_grid_blob_trigger and self._server is not None:
                line += f"\n    webhook: POST {self.webhook_url(function.name)}"
            lines.append(line)
        return lines

    def start(self) -> LocalFunctionsHost:
        """Starts serving; returns once the webhook listens and every trigger has its thread."""
        if self._server is not None:
            raise RuntimeError("the host is already started")
        self._stop.clear()
        self._executor = ThreadPoolExecutor(
            max_workers=self._max_concurrent_invocations, thread_name_prefix="invocation"
        )
        by_name = {function.name: function for function in self.functions}
        self._server = UvicornServer(
            build_webhook_app(by_name, self._submit_blob_event),
            listening_socket(self.bind_host, self.requested_port, purpose="local functions host"),
            name="local-host-webhook",
        )
        self._server.start()
        try:
            for function in self.functions:
                self._start_trigger(function)
        except Exception:
            self.stop()
            raise
        logger.info("local functions host listening on http://%s:%d", self.bind_host, self.port)
        return self

    def _start_trigger(self, function: FunctionInfo) -> None:
        if function.trigger_type == BLOB_TRIGGER:
            if not self.watch or (self.watch_only and function.name not in self.watch_only):
                return
            if function.is_event_grid_blob_trigger:
                ports = self.event_target_ports or (self.port,)
                delivery = EventGridDelivery(
                    [self.webhook_url(function.name, port) for port in ports],
                    copies=self.event_deliveries,
                    concurrent=self.concurrent_deliveries,
                    duplicate_rate=self.duplicate_rate,
                    loss_rate=self.event_loss_rates.get(function.name, 0.0),
                    # The subscription feeding this trigger: its container and folder only.
                    subject_begins_with=subject_begins_with(str(function.blob_path)),
                    stop=self._stop,
                )
                self._deliveries.append(delivery)
                # One Event Grid for the app, whichever instances run: the watcher is a singleton.
                watcher = BlobWatcher(
                    function,
                    delivery,
                    interval=self.watch_interval,
                    stop=self._stop,
                    lock=self._singleton(f"{function.name}.EventGrid"),
                )
            else:
                # A polling (LogsAndContainerScan) trigger has no webhook: the host calls it directly.
                watcher = BlobWatcher(
                    function,
                    partial(self._submit_raw_event, function),
                    interval=self.watch_interval,
                    stop=self._stop,
                )
            self._spawn(f"watch-{function.name}", watcher.run)
        elif function.trigger_type == TIMER_TRIGGER:
            runner = TimerRunner(function, self._submit, stop=self._stop, lock=self._singleton(function.name))
            self._spawn(f"timer-{function.name}", runner.run)
        elif function.trigger_type == QUEUE_TRIGGER:
            listener = QueueListener(
                function,
                self.queue_options,
                self._invoke_tracked,
                stop=self._stop,
                lease_seconds=self.message_lease_seconds,
            )
            self._spawn(f"queue-{function.name}", listener.run)

    def _spawn(self, name: str, target: Any) -> None:
        thread = threading.Thread(target=target, name=name, daemon=True)
        thread.start()
        self._threads.append(thread)

    def stop(self, grace_seconds: float = STOP_GRACE_SECONDS) -> None:
        """Stops watchers, timers and listeners, and waits a little for running invocations."""
        self._stop.set()
        # One deadline for everything, so stopping never takes longer than the grace period.
        deadline = time.monotonic() + grace_seconds
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))
        with self._in_flight_lock:
            running = set(self._in_flight)
        if running:
            logger.info("waiting up to %.0fs for %d running invocations", grace_seconds, len(running))
            _, unfinished = wait_for(running, timeout=max(0.0, deadline - time.monotonic()))
            if unfinished:
                logger.warning(
                    "%d invocations still running at shutdown; their triggers will fire again", len(unfinished)
                )
        for lock in self._locks:
            lock.release()
        for delivery in self._deliveries:
            delivery.close()
        if self._server is not None:
            self._server.stop()
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
        self._threads.clear()
        self._deliveries.clear()
        self._locks.clear()
        self._server = None
        self._executor = None

    def request_stop(self) -> None:
        """Makes `wait()` return and the triggers wind down; safe to call from a signal handler."""
        self._stop.set()

    def wait(self) -> None:
        """Blocks until `stop()` is called (from another thread or a signal handler)."""
        while not self._stop.wait(0.5):
            pass

    def __enter__(self) -> LocalFunctionsHost:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # Invocation plumbing -------------------------------------------------------------------------

    def _submit(self, function: FunctionInfo, argument: object, subject: str) -> Future[InvocationResult]:
        return self._track(self._require_executor().submit(invoke, function, argument, subject=subject))

    def _invoke_tracked(self, function: FunctionInfo, argument: object, subject: str) -> InvocationResult:
        """Runs on the caller's thread (a queue listener's pool) but counts as running for `stop()`."""
        marker: Future[InvocationResult] = Future()
        marker.set_running_or_notify_cancel()
        self._track(marker)
        result = invoke(function, argument, subject=subject)  # never raises
        marker.set_result(result)
        return result

    def _submit_blob_event(self, function: FunctionInfo, event: BlobEvent) -> Future[InvocationResult]:
        return self._track(self._require_executor().submit(self._run_blob_event, function, event))

    def _submit_raw_event(self, function: FunctionInfo, raw_event: dict[str, Any]) -> None:
        event = BlobEvent.parse(raw_event)
        if event is not None:
            self._submit_blob_event(function, event)

    def _run_blob_event(self, function: FunctionInfo, event: BlobEvent) -> InvocationResult:
        """Runs a blob trigger like the blobs extension: a failure is retried at once, up to
        `extensions.blobs.poisonBlobThreshold` attempts in all, then the blob goes to the poison queue
        (the extension's blob trigger queue has a zero visibility timeout; see BlobsOptions)."""
        subject = f"blob {event.container}/{event.blob_name}, event {event.event_id}"
        attempts = self.blobs_options.poison_blob_threshold
        result = InvocationResult(function.name, "", False, 0.0, "not run")
        for attempt in range(1, attempts + 1):
            try:
                argument = blob_argument(function, event.container, event.blob_name)
            except Exception as exc:
                message = redact(f"{type(exc).__name__}: {exc}")
                logger.error("Functions.%s: cannot bind %s: %s", function.name, subject, message)
                result = InvocationResult(function.name, "", False, 0.0, message)
            else:
                result = invoke(function, argument, subject=f"{subject}, DequeueCount={attempt}")
            if result.succeeded or self._stop.is_set():
                return result
            if attempt < attempts and self._stop.wait(self.blobs_options.retry_delay_seconds):
                return result
        self._poison_blob(function, event)
        return result

    def _poison_blob(self, function: FunctionInfo, event: BlobEvent) -> None:
        message = {
            "Type": "BlobTrigger",
            "FunctionId": FUNCTION_NAME_PREFIX + function.name,
            "BlobType": "BlockBlob",
            "ContainerName": event.container,
            "BlobName": event.blob_name,
            "ETag": event.etag or "",
        }
        try:
            queue = function.storage().queue(
                BLOB_TRIGGER_POISON_QUEUE, message_encode_policy=TextBase64EncodePolicy(), user_agent=HOST_USER_AGENT
            )
            try:
                queue.create_queue()
            except ResourceExistsError:
                pass
            queue.send_message(json.dumps(message))
        except Exception as exc:
            logger.error(
                "Functions.%s: could not move %s/%s to %s: %s",
                function.name,
                event.container,
                event.blob_name,
                BLOB_TRIGGER_POISON_QUEUE,
                redact(str(exc)),
            )
            return
        logger.error(
            "Functions.%s: %s/%s failed %d times; moved to the %s queue",
            function.name,
            event.container,
            event.blob_name,
            self.blobs_options.poison_blob_threshold,
            BLOB_TRIGGER_POISON_QUEUE,
        )

    def _track(self, future: Future[InvocationResult]) -> Future[InvocationResult]:
        with self._in_flight_lock:
            self._in_flight.add(future)

        def forget(done: Future[InvocationResult]) -> None:
            with self._in_flight_lock:
                self._in_flight.discard(done)

        future.add_done_callback(forget)
        return future

    def _require_executor(self) -> ThreadPoolExecutor:
        if self._executor is None:
            raise RuntimeError("the host is not started")
        return self._executor
