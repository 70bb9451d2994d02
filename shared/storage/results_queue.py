"""Messages on the results queue: 'this source version is ready to be recorded'."""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass

from azure.storage.queue import QueueClient

logger = logging.getLogger(__name__)


class MalformedResultMessage(ValueError):
    """A results-queue message this app did not write (it will end in the poison queue)."""


@dataclass(frozen=True)
class ResultMessage:
    key: str  # the job record's row key
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


def send(queue: QueueClient, message: ResultMessage) -> None:
    queue.send_message(message.to_text())
    logger.info("queued %s (%s) for recording", message.source_name, message.key)
