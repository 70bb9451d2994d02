"""Calling a user function the way the Python worker does, and logging the outcome like the host."""

from __future__ import annotations

import asyncio
import inspect
import json
import logging
import sys
import time
import traceback
import types
import typing
import uuid
from dataclasses import dataclass
from typing import Any

import azure.functions as func
from azure.storage.blob import BlobClient, ContainerClient, StorageStreamDownloader
from azurefunctions.extensions.base import Datum, get_binding_registry

from devstack.host.bindings import FunctionInfo
from devstack.host.config import HOST_USER_AGENT
from devstack.host.connections import StorageConnection
from shared.redaction import redact
from shared.storage.clients import pooled_transport
from shared.triggers.bound_blob import WORKER_BINDINGS_CACHE, WORKER_BINDINGS_MODULE

logger = logging.getLogger(__name__)

MODEL_BINDING_DATA = "model_binding_data"
MODEL_BINDING_DATA_VERSION = "1.0"
# The blobs extension's name for itself in model binding data (Constants.WebJobsBlobExtensionName).
BLOB_BINDING_SOURCE = "AzureStorageBlobs"
# The registry the worker asks for SDK-type converters; each registers when its module is
# imported (azurefunctions.extensions.bindings.blob registers "blob" and "blobTrigger").
_DEFERRED_BINDINGS: Any = get_binding_registry()  # type: ignore[no-untyped-call]


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

    An SDK type of azurefunctions-extensions-bindings-blob is built by that extension's own
    converter from the host's model binding data, as the worker does (`sdk_type_argument`); the
    azure-storage-blob classes get a client; anything else gets the content, as the worker does.
    """
    annotation = trigger_annotation(function)
    if _DEFERRED_BINDINGS.check_supported_type(annotation):
        return sdk_type_argument(function, annotation, container, blob_name)
    storage = function.storage()
    if _is_subclass(annotation, ContainerClient):
        return storage.container(container, transport=pooled_transport(), user_agent=HOST_USER_AGENT)
    blob_client = storage.blob_service(transport=pooled_transport(), user_agent=HOST_USER_AGENT).get_blob_client(
        container, blob_name
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


@dataclass(frozen=True)
class ModelBindingData:
    """The `model_binding_data` the host sends for an SDK-type binding; the worker hands the message
    itself to the converter, which reads these four fields."""

    version: str
    source: str
    content_type: str
    content: bytes


def blob_model_binding_data(connection: StorageConnection, container: str, blob_name: str) -> Datum:
    """What the blobs extension sends for a blob trigger bound to an SDK type: the name of the app
    setting of the connection (the converter resolves it in the worker's environment), never a secret."""
    content = json.dumps({"Connection": connection.setting, "ContainerName": container, "BlobName": blob_name})
    data = ModelBindingData(
        version=MODEL_BINDING_DATA_VERSION,
        source=BLOB_BINDING_SOURCE,
        content_type="application/json",
        content=content.encode("utf-8"),
    )
    return Datum(value=data, type=MODEL_BINDING_DATA)


def sdk_type_argument(function: FunctionInfo, annotation: type, container: str, blob_name: str) -> Any:
    """Decodes the model binding data with the converter the extension registered for the trigger,
    reusing what it built before for the same parameter, type, blob and function, as the worker does."""
    converter = _DEFERRED_BINDINGS.get(function.trigger_type)
    if converter is None:
        raise TypeError(f"no SDK-type converter is registered for {function.trigger_type!r}")
    datum = blob_model_binding_data(function.storage(), container, blob_name)
    key = (function.parameter_name, annotation, datum.value.content, function.name)
    cache = worker_bindings_cache()
    cached = cache.get(key)
    if cached is not None:
        return cached
    decoded = converter.decode(datum, trigger_metadata={}, pytype=annotation)
    if decoded is None:
        raise TypeError(f"the {function.trigger_type} converter cannot build {annotation!r}")
    return cache.setdefault(key, decoded)


def worker_bindings_cache() -> dict[tuple[str, Any, bytes, str], Any]:
    """The worker 4.x's deferred_bindings_cache: every SDK object it bound, per (parameter, type,
    binding data, function), kept until something lets it go. The local host keeps it where that
    worker does (a module of that name), so the app's code that lets go of a bound client
    (shared/triggers/bound_blob.py) runs here unchanged."""
    module = sys.modules.get(WORKER_BINDINGS_MODULE)
    if module is None:
        stand_in = types.ModuleType(WORKER_BINDINGS_MODULE, "The local host's stand-in for the worker's bindings cache")
        setattr(stand_in, WORKER_BINDINGS_CACHE, {})
        module = sys.modules.setdefault(WORKER_BINDINGS_MODULE, stand_in)
    cache: dict[tuple[str, Any, bytes, str], Any] = getattr(module, WORKER_BINDINGS_CACHE)
    return cache


def _is_subclass(annotation: Any, cls: type) -> bool:
    return isinstance(annotation, type) and issubclass(annotation, cls)
