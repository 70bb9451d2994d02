"""Messages on the results queue: 'this source version is ready to be recorded'."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime

from azure.core.exceptions import AzureError, IncompleteReadError, ServiceResponseError
from azure.storage.queue import QueueClient

logger = logging.getLogger(__name__)


class MalformedResultMessage(ValueError):
    """A results-queue message this app did not write (it will end in the poison queue)."""


@dataclass(frozen=True)
class ResultMessage:
    key: str  # the record's row key
    source_name: str

    def to_text(self) -> str:
        return json.dumps({"key": self.key, "source": self.source_name}, separators=(",", ":"))

    @classmethod
    def from_text(cls, text: str) -> ResultMessage:
        try:
            data = json.loads(text)
            return cls(key=str(data["key"]), source_name=str(data.get("source", "")))
        except (ValueError, KeyError, TypeError) as exc:
            raise MalformedResultMessage(f"results message is not one of ours: {text[:200]!r}") from exc


# A send whose answer was cut off may have gone through: sent again (the record step takes a
# message twice harmlessly), at most this many times.
SEND_ATTEMPTS = 3


def send(queue: QueueClient, message: ResultMessage) -> None:
    for attempt in range(1, SEND_ATTEMPTS + 1):
        try:
            queue.send_message(message.to_text())
            break
        except (ServiceResponseError, IncompleteReadError) as exc:
            if attempt == SEND_ATTEMPTS:
                raise
            logger.info("sending %s to %s was cut off (%s); sending it again", message.key, queue.queue_name, exc)
    logger.info("queued %s (%s) for recording", message.source_name, message.key)


def waiting_since(queue: QueueClient) -> datetime | None:
    """When the oldest message still waiting on the queue was sent (None: nothing waits, or the
    queue could not say). A hand-over sent after it is most likely still waiting its turn."""
    try:
        waiting = queue.peek_messages(max_messages=1)
    except AzureError as exc:
        logger.info("could not peek at %s (%s); assuming nothing waits", queue.queue_name, exc)
        return None
    return waiting[0].inserted_on if waiting else None
