"""Calling a user function the way the Python worker does, and logging the outcome like the host."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
import traceback
import typing
import uuid
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.storage.blob import BlobClient, ContainerClient, StorageStreamDownloader

from devstack.host.bindings import FunctionInfo
from devstack.host.config import HOST_USER_AGENT
from shared.redaction import redact
from shared.storage.clients import pooled_transport

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class InvocationResult:
    function_name: str
    invocation_id: str
    succeeded: bool
    duration_seconds: float
    error: str | None = None  # redacted "Type: message" of what the function raised


def invoke(function: FunctionInfo, argument: Any, *, subject: str) -> InvocationResult:
    """Runs the function with its trigger argument; exceptions are logged and reported, never raised."""
    invocation_id = str(uuid.uuid4())
    logger.info("Executing 'Functions.%s' (%s, Id=%s)", function.name, subject, invocation_id)
    started = time.monotonic()
    try:
        outcome = function.user_function(**{function.parameter_name: argument})
        if inspect.isawaitable(outcome):
            asyncio.run(_awaited(outcome))
    except Exception as exc:
        duration = time.monotonic() - started
        details = redact("".join(traceback.format_exception(exc)))
        logger.error(
            "Executed 'Functions.%s' (Failed, %s, Id=%s, Duration=%dms)\n%s",
            function.name,
            subject,
            invocation_id,
            duration * 1000,
            details,
        )
        return InvocationResult(function.name, invocation_id, False, duration, redact(f"{type(exc).__name__}: {exc}"))
    duration = time.monotonic() - started
    logger.info(
        "Executed 'Functions.%s' (Succeeded, %s, Id=%s, Duration=%dms)",
        function.name,
        subject,
        invocation_id,
        duration * 1000,
    )
    return InvocationResult(function.name, invocation_id, True, duration)


async def _awaited(awaitable: typing.Awaitable[Any]) -> Any:
    return await awaitable


def trigger_annotation(function: FunctionInfo) -> Any:
    """The annotation of the trigger parameter, resolving `from __future__ import annotations` strings."""
    try:
        hints = typing.get_type_hints(function.user_function)
    except Exception:  # unresolvable string annotations: fall back to what the signature holds
        hints = {}
    if function.parameter_name in hints:
        return hints[function.parameter_name]
    parameter = inspect.signature(function.user_function).parameters.get(function.parameter_name)
    if parameter is None:
        raise TypeError(f"function {function.name!r} has no parameter {function.parameter_name!r} for its trigger")
    return None if parameter.annotation is inspect.Parameter.empty else parameter.annotation


def blob_argument(function: FunctionInfo, container: str, blob_name: str) -> Any:
    """What the worker passes for a blob trigger, chosen by the parameter's annotation.

    SDK types (azurefunctions-extensions-bindings-blob, or the azure-storage-blob classes)
    get a client and no bytes are read; anything else gets the content, as the worker does.
    """
    annotation = trigger_annotation(function)
    connection_string = function.connection_string or ""
    if _is_subclass(annotation, ContainerClient):
        return ContainerClient.from_connection_string(
            connection_string, container, transport=pooled_transport(), user_agent=HOST_USER_AGENT
        )
    blob_client = BlobClient.from_connection_string(
        connection_string, container, blob_name, transport=pooled_transport(), user_agent=HOST_USER_AGENT
    )
    if _is_subclass(annotation, BlobClient):
        return blob_client
    if _is_subclass(annotation, StorageStreamDownloader):
        return blob_client.download_blob()
    content = blob_client.download_blob().readall()
    if annotation is bytes:
        return content
    if annotation is str:
        return content.decode("utf-8")
    return func.blob.InputStream(
        data=content, name=f"{container}/{blob_name}", uri=blob_client.url, length=len(content)
    )


def _is_subclass(annotation: Any, cls: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, cls)
