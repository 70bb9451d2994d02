"""A language-worker process running azure-functions-runtime, as the worker Azure runs does.

`python -m tests.integration.worker.worker_process PROTOS_DIR IN_FD OUT_FD SPY_LOG`, started with
the function app's folder as its working directory and the app settings as its environment.

It stands in for two parts of the platform's worker and nothing else:
- the gRPC channel: each StreamingMessage arrives serialized (4-byte length, then the message's
  protobuf bytes) on IN_FD and each answer leaves the same way on OUT_FD;
- the proxy worker's dispatcher (Azure/azure-functions-python-worker, workers/proxy_worker): it
  starts the runtime's thread pool, then wraps each message as a request with `.request` (the
  StreamingMessage) and `.properties` ({"protos", "host"} for init) and awaits the runtime's handler.
Indexing, validation, deferred bindings, invocation and telemetry set-up are the runtime's own.

Before anything is imported, every call to azure.monitor.opentelemetry.configure_azure_monitor is
appended to SPY_LOG (one line: the module that called it) and then goes through to the real one.
"""

from __future__ import annotations

import asyncio
import inspect
import os
import struct
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

HANDLERS = {
    "worker_init_request": ("worker_init_request", "worker_init_response"),
    "functions_metadata_request": ("functions_metadata_request", "function_metadata_response"),
    "function_load_request": ("function_load_request", "function_load_response"),
    "invocation_request": ("invocation_request", "invocation_response"),
}


@dataclass
class WorkerRequest:
    name: str
    request: Any
    properties: dict[str, Any] = field(default_factory=dict)


def read_message(stream: Any) -> bytes | None:
    header = stream.read(4)
    if len(header) < 4:
        return None
    (length,) = struct.unpack(">I", header)
    return stream.read(length)


def write_message(stream: Any, payload: bytes) -> None:
    stream.write(struct.pack(">I", len(payload)) + payload)
    stream.flush()


def install_spy(spy_log: Path) -> None:
    import azure.monitor.opentelemetry as distro

    real = distro.configure_azure_monitor

    def configure_azure_monitor(*args: Any, **kwargs: Any) -> Any:
        caller = inspect.stack()[1].frame.f_globals.get("__name__", "?")
        with spy_log.open("a") as log:
            log.write(f"{caller}\n")
        return real(*args, **kwargs)

    distro.configure_azure_monitor = configure_azure_monitor  # type: ignore[assignment]


async def serve(protos: Any, incoming: Any, outgoing: Any) -> None:
    import azure_functions_runtime as runtime

    runtime.start_threadpool_executor()
    loop = asyncio.get_running_loop()
    while True:
        payload = await loop.run_in_executor(None, read_message, incoming)
        if payload is None:
            return
        message = protos.StreamingMessage.FromString(payload)
        kind = message.WhichOneof("content")
        handler_name, response_field = HANDLERS[kind]
        properties = {"protos": protos, "host": "127.0.0.1"} if kind == "worker_init_request" else {}
        response = await getattr(runtime, handler_name)(WorkerRequest(kind, message, properties))
        answer = protos.StreamingMessage(request_id=message.request_id, **{response_field: response})
        write_message(outgoing, answer.SerializeToString())


def main() -> None:
    protos_dir, in_fd, out_fd, spy_log = sys.argv[1:5]
    install_spy(Path(spy_log))
    sys.path.insert(0, protos_dir)
    import functions_rpc

    # The app folder first on sys.path, as the platform's worker puts it.
    sys.path.insert(0, os.getcwd())
    with os.fdopen(int(in_fd), "rb") as incoming, os.fdopen(int(out_fd), "wb") as outgoing:
        asyncio.run(serve(functions_rpc, incoming, outgoing))


if __name__ == "__main__":
    main()
