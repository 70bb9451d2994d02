"""The blobs extension's Event Grid webhook: `POST /runtime/webhooks/blobs?functionName=Host.Functions.<name>`."""

from __future__ import annotations

import datetime as dt
import json
import logging
import re
import uuid
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import Any
from urllib.parse import unquote, urlsplit

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.host.bindings import FunctionInfo
from devstack.host.invoke import InvocationResult

logger = logging.getLogger(__name__)

WEBHOOK_PATH = "/runtime/webhooks/blobs"
FUNCTION_NAME_PREFIX = "Host.Functions."
BLOB_CREATED = "Microsoft.Storage.BlobCreated"
SUBSCRIPTION_VALIDATION = "Microsoft.EventGrid.SubscriptionValidationEvent"
_SUBJECT = re.compile(r"^/blobServices/default/containers/(?P<container>[^/]+)/blobs/(?P<name>.+)$")


def blob_created_event(
    url: str, *, etag: str, size: int, content_type: str = "application/octet-stream", account: str = "devstoreaccount1"
) -> dict[str, Any]:
    """A Microsoft.Storage.BlobCreated event in Event Grid schema, as the storage account publishes it
    for the blob at `url` (https://<account>.blob.core.windows.net/<container>/<name>, or Azurite's form)."""
    container, name = _container_and_blob_from_url(url)
    return {
        "topic": (
            "/subscriptions/00000000-0000-0000-0000-000000000000/resourceGroups/local/providers/"
            f"Microsoft.Storage/storageAccounts/{account}"
        ),
        "subject": f"/blobServices/default/containers/{container}/blobs/{name}",
        "eventType": BLOB_CREATED,
        "id": str(uuid.uuid4()),
        "eventTime": dt.datetime.now(dt.UTC).isoformat().replace("+00:00", "Z"),
        "data": {
            "api": "PutBlob",
            "clientRequestId": str(uuid.uuid4()),
            "requestId": str(uuid.uuid4()),
            "eTag": etag,
            "contentType": content_type,
            "contentLength": size,
            "blobType": "BlockBlob",
            "url": url,
            "sequencer": f"{uuid.uuid4().int:032x}",
            "storageDiagnostics": {"batchId": str(uuid.uuid4())},
        },
        "dataVersion": "",
        "metadataVersion": "1",
    }


@dataclass(frozen=True)
class BlobEvent:
    """The part of a BlobCreated event the trigger needs."""

    event_id: str
    container: str
    blob_name: str
    url: str
    etag: str | None

    @classmethod
    def parse(cls, event: dict[str, Any]) -> BlobEvent | None:
        """None for events that are not BlobCreated (Event Grid schema or CloudEvents schema)."""
        if (event.get("eventType") or event.get("type")) != BLOB_CREATED:
            return None
        data = event.get("data") or {}
        url = str(data.get("url") or "")
        found = _SUBJECT.match(str(event.get("subject") or ""))
        if found:
            container, blob_name = found.group("container"), found.group("name")
        else:
            container, blob_name = _container_and_blob_from_url(url)
        if not container or not blob_name:
            return None
        return cls(str(event.get("id") or ""), container, blob_name, url, data.get("eTag"))


def _container_and_blob_from_url(url: str) -> tuple[str, str]:
    segments = unquote(urlsplit(url).path).lstrip("/").split("/")
    # Azurite-style URLs carry the account name as the first path segment.
    if len(segments) > 2 and segments[0].startswith("devstoreaccount"):
        segments = segments[1:]
    if len(segments) < 2:
        return "", ""
    return segments[0], "/".join(segments[1:])


InvokeBlob = Callable[[FunctionInfo, BlobEvent], "Future[InvocationResult]"]


def build_webhook_app(functions: dict[str, FunctionInfo], invoke_blob: InvokeBlob) -> Starlette:
    """A Starlette app answering Event Grid for the Event Grid-sourced blob triggers in `functions`."""

    async def blobs(request: Request) -> Response:
        function_name = request.query_params.get("functionName", "")
        if function_name.startswith(FUNCTION_NAME_PREFIX):
            function_name = function_name[len(FUNCTION_NAME_PREFIX) :]
        function = functions.get(function_name)
        if function is None or not function.is_event_grid_blob_trigger:
            return JSONResponse({"error": f"no Event Grid blob trigger named {function_name!r}"}, status_code=404)
        if request.method == "OPTIONS":
            # CloudEvents abuse-protection handshake.
            origin = request.headers.get("webhook-request-origin", "*")
            return Response(status_code=200, headers={"WebHook-Allowed-Origin": origin})
        try:
            events = json.loads(await request.body())
        except json.JSONDecodeError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        if isinstance(events, dict):
            events = [events]
        if not isinstance(events, list):
            return JSONResponse({"error": "the body must be a JSON array of events"}, status_code=400)

        event_type_header = request.headers.get("aeg-event-type", "")
        if event_type_header == "SubscriptionValidation" or any(
            isinstance(event, dict) and event.get("eventType") == SUBSCRIPTION_VALIDATION for event in events
        ):
            code = ((events[0] or {}).get("data") or {}).get("validationCode") if events else None
            if not code:
                return JSONResponse({"error": "validation event without data.validationCode"}, status_code=400)
            logger.info("Event Grid subscription validated for function %s", function.name)
            return JSONResponse({"validationResponse": code})

        path = function.blob_path
        accepted = 0
        for raw_event in events:
            event = BlobEvent.parse(raw_event) if isinstance(raw_event, dict) else None
            if event is None:
                logger.debug("function %s: ignoring an event that is not BlobCreated", function.name)
                continue
            if path.match(event.container, event.blob_name) is None:
                logger.debug(
                    "function %s: ignoring %s/%s (outside %s)", function.name, event.container, event.blob_name, path
                )
                continue
            try:
                invoke_blob(function, event)
            except RuntimeError:  # the host is shutting down; Event Grid will deliver again
                return JSONResponse({"error": "the host is stopping"}, status_code=503)
            accepted += 1
        # As the blobs extension does: the event is accepted for processing at once; a failing
        # invocation is retried by the host, then goes to webjobs-blobtrigger-poison.
        return Response(status_code=202 if accepted else 200)

    return Starlette(routes=[Route(WEBHOOK_PATH, blobs, methods=["POST", "OPTIONS"])])
