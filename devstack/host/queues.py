"""Queue triggers, processed like the Functions host's queue extension (v5).

- Messages are expected base64-encoded (host.json messageEncoding default). A message that
  is not valid base64 cannot be bound: it is moved to `<queue>-poison` unchanged without
  calling the function, as the extension's message-decoding-failure handler does.
- Success deletes the message. Failure makes it visible again after `visibilityTimeout`;
  the failure of its `maxDequeueCount`-th dequeue copies it (same content) into
  `<queue>-poison` and deletes it.
- A received message stays invisible for 10 minutes (renewed while its function runs); a host
  killed mid-run leaves it to reappear when that runs out (`lease_seconds` shortens it locally).
"""

from __future__ import annotations

import base64
import binascii
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait

import azure.functions as func
from azure.core.exceptions import ResourceExistsError
from azure.storage.queue import QueueClient, QueueMessage

from devstack.host.bindings import FunctionInfo
from devstack.host.config import HOST_USER_AGENT, MIN_POLLING_INTERVAL_SECONDS, QueueOptions
from devstack.host.invoke import InvocationResult
from shared.redaction import redact

logger = logging.getLogger(__name__)

POISON_SUFFIX = "-poison"
# How long a received message stays invisible while the function runs (the real host's default).
PROCESSING_VISIBILITY_SECONDS = 600

Invoke = Callable[[FunctionInfo, object, str], InvocationResult]


class QueueListener:
    def __init__(
        self,
        function: FunctionInfo,
        options: QueueOptions,
        invoke: Invoke,
        *,
        stop: threading.Event,
        lease_seconds: float = PROCESSING_VISIBILITY_SECONDS,
    ):
        self.function = function
        self._lease_seconds = max(1, int(lease_seconds))
        self.queue_name = function.binding["queueName"]
        self.poison_queue_name = self.queue_name + POISON_SUFFIX
        self._options = options
        self._invoke = invoke
        self._stop = stop
        storage = function.storage()
        self._queue = storage.queue(self.queue_name, user_agent=HOST_USER_AGENT)
        self._poison = storage.queue(self.poison_queue_name, user_agent=HOST_USER_AGENT)
        # At most a batch plus the threshold run at once, as with the extension.
        self._pool = ThreadPoolExecutor(
            max_workers=options.batch_size + options.new_batch_threshold, thread_name_prefix=f"queue-{function.name}"
        )
        self._running: set[Future[None]] = set()
        self._running_lock = threading.Lock()
        self._failing = False

    def run(self) -> None:
        delay = MIN_POLLING_INTERVAL_SECONDS
        queue_ready = False
        while not self._stop.is_set():
            try:
                if not queue_ready:
                    _create_if_missing(self._queue)
                    queue_ready = True
                processed = self.poll_once()
                self._recovered()
            except Exception as exc:
                self._report_failure("queue %s: cannot receive messages: %s", self.queue_name, redact(str(exc)))
                processed = 0
            if processed:
                delay = MIN_POLLING_INTERVAL_SECONDS
                # Fetch more once fewer than the threshold are still being processed.
                while self._in_flight() > self._options.new_batch_threshold and not self._stop.is_set():
                    self._stop.wait(0.02)
                continue
            self._stop.wait(delay)
            delay = min(delay * 2, self._options.max_polling_interval_seconds)
        self._pool.shutdown(wait=True)

    def poll_once(self) -> int:
        """Receives one batch and starts processing it; returns how many messages it held. (The
        caller waits for all of them with `wait_idle`, or fetches again past the threshold.)"""
        messages = list(
            self._queue.receive_messages(
                messages_per_page=self._options.batch_size,
                max_messages=self._options.batch_size,
                visibility_timeout=self._lease_seconds,
            )
        )
        for message in messages:
            future = self._pool.submit(self._process, message)
            with self._running_lock:
                self._running.add(future)
            future.add_done_callback(self._forget)
        return len(messages)

    def wait_idle(self, timeout: float | None = None) -> None:
        """Until every message received so far is processed."""
        with self._running_lock:
            running = set(self._running)
        wait(running, timeout=timeout)

    def _in_flight(self) -> int:
        with self._running_lock:
            return len(self._running)

    def _forget(self, future: Future[None]) -> None:
        with self._running_lock:
            self._running.discard(future)

    def _process(self, message: QueueMessage) -> None:
        try:
            self._process_unsafe(message)
        except Exception as exc:  # a storage error must not kill the listener; the message reappears
            logger.error(
                "queue %s: message %s could not be settled (%s); it will reappear",
                self.queue_name,
                message.id,
                redact(str(exc)),
            )

    def _process_unsafe(self, message: QueueMessage) -> None:
        max_dequeue_count = self._options.max_dequeue_count
        if message.dequeue_count and message.dequeue_count > max_dequeue_count:
            # Dequeued too often without an outcome (a host killed mid-run, say).
            self._move_to_poison(message, f"dequeued {message.dequeue_count} times, more than {max_dequeue_count}")
            return
        try:
            body = base64.b64decode(message.content or "", validate=True)
        except (binascii.Error, ValueError):
            self._move_to_poison(message, "its content is not base64 (the queue trigger expects base64 messages)")
            return
        argument = func.queue.QueueMessage(  # type: ignore[no-untyped-call]  # the library has no annotations
            id=message.id,
            body=body,
            dequeue_count=message.dequeue_count,
            insertion_time=message.inserted_on,
            expiration_time=message.expires_on,
            time_next_visible=message.next_visible_on,
            pop_receipt=message.pop_receipt,
        )
        subject = f"queue {self.queue_name}, MessageId={message.id}, DequeueCount={message.dequeue_count}"
        renewing = _Renewal(self._queue, message, self._lease_seconds)
        try:
            result = self._invoke(self.function, argument, subject)
        finally:
            message = renewing.stop()
        if result.succeeded:
            self._queue.delete_message(message)
        elif (message.dequeue_count or 0) >= max_dequeue_count:
            self._move_to_poison(message, f"failed on dequeue {message.dequeue_count} of {max_dequeue_count}")
        else:
            self._queue.update_message(message, visibility_timeout=int(self._options.visibility_timeout_seconds))
            logger.info(
                "queue %s: message %s will be retried in %ss (dequeue %s of %s)",
                self.queue_name,
                message.id,
                int(self._options.visibility_timeout_seconds),
                message.dequeue_count,
                max_dequeue_count,
            )

    def _move_to_poison(self, message: QueueMessage, reason: str) -> None:
        _create_if_missing(self._poison)
        self._poison.send_message(message.content)
        self._queue.delete_message(message)
        logger.warning(
            "queue %s: message %s moved to %s: %s", self.queue_name, message.id, self.poison_queue_name, reason
        )

    def _recovered(self) -> None:
        if self._failing:
            logger.info("queue %s: receiving again", self.queue_name)
            self._failing = False

    def _report_failure(self, message: str, *args: object) -> None:
        logger.log(logging.DEBUG if self._failing else logging.WARNING, message, *args)
        self._failing = True


def _create_if_missing(queue: QueueClient) -> None:
    try:
        queue.create_queue()
    except ResourceExistsError:
        pass


class _Renewal:
    """Keeps a message invisible while its function runs (as the host renews it), and hands back
    the message with its latest pop receipt."""

    def __init__(self, queue: QueueClient, message: QueueMessage, lease_seconds: int):
        self._queue = queue
        self._message = message
        self._lease = lease_seconds
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._run, name="message-renewal", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._done.wait(self._lease / 3):
            try:
                renewed = self._queue.update_message(self._message, visibility_timeout=self._lease)
                self._message.pop_receipt = renewed.pop_receipt
                self._message.next_visible_on = renewed.next_visible_on
            except Exception as exc:  # the message reappears; the function's outcome stays safe
                logger.debug("queue %s: could not renew message %s (%s)", self._queue.queue_name, self._message.id, exc)

    def stop(self) -> QueueMessage:
        self._done.set()
        self._thread.join(timeout=self._lease)
        return self._message
