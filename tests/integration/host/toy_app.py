"""A toy function app for the local host's tests: the real decorators, bodies that only record.

Settings: TOY_CONTAINER (blob trigger), TOY_SCHEDULE (timer), TOY_QUEUE (queue trigger),
TRANSLATION_STORAGE (connection). Each test uses its own container and queue names and
reads only the calls for them.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import azure.functions as func
import azurefunctions.extensions.bindings.blob as blob

app = func.FunctionApp()
blobs = func.Blueprint()  # registered below, as the real app registers one blueprint per trigger


@dataclass(frozen=True)
class Call:
    function: str
    argument_type: type
    details: dict[str, Any]


_calls: list[Call] = []
_lock = threading.Lock()


def record(function: str, argument: object, **details: Any) -> None:
    with _lock:
        _calls.append(Call(function, type(argument), details))


def calls(function: str, **match: Any) -> list[Call]:
    with _lock:
        return [
            call
            for call in _calls
            if call.function == function and all(call.details.get(k) == v for k, v in match.items())
        ]


@blobs.blob_trigger(
    arg_name="client",
    path="%TOY_CONTAINER%/{name}",
    connection="TRANSLATION_STORAGE",
    source=func.BlobSource.EVENT_GRID,
)
def on_blob(client: blob.BlobClient) -> None:
    properties = client.get_blob_properties()
    record(
        "on_blob",
        client,
        container=client.container_name,
        blob=client.blob_name,
        size=properties.size,
        etag=properties.etag,
    )
    if "explode" in client.blob_name:
        raise RuntimeError(f"refusing {client.blob_name}")


@app.timer_trigger(arg_name="timer", schedule="%TOY_SCHEDULE%", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    record("tick", timer, past_due=timer.past_due)


@app.queue_trigger(arg_name="msg", queue_name="%TOY_QUEUE%", connection="TRANSLATION_STORAGE")
def on_message(msg: func.QueueMessage) -> None:
    body = msg.get_body()
    record("on_message", msg, queue_body=body, dequeue_count=msg.dequeue_count, message_id=msg.id)
    if b"fail" in body:
        raise ValueError("this message asks to fail")


app.register_functions(blobs)
