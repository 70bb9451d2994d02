"""The emulator's HTTP surface: the service's routes in three flavours, plus /_emulator/ introspection.

Every service request goes through the same gate, in the order a client meets them in Azure:
added latency, authentication, rate limit, injected faults, api-version, then the operation.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import math
import random
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from devstack.emulator.engine import JobEngine, NotCancellable
from devstack.emulator.formats import formats_json
from devstack.emulator.languages import languages_json
from devstack.emulator.listing import InvalidListQuery, ListQuery
from devstack.emulator.options import EmulatorOptions
from devstack.emulator.requests import InvalidBatch, parse_batch
from devstack.emulator.state import error_body
from shared.redaction import redact_url

logger = logging.getLogger(__name__)

CURRENT_API_VERSIONS = ("2026-03-01", "2024-05-01")
LEGACY_VERSIONS = ("v1.1", "v1.0-preview.1")
FLAVOURS_BANNER = "2026-03-01, 2024-05-01, v1.1"


@dataclass(frozen=True)
class Flavour:
    """Which route family a request came through: decides link field names and URLs."""

    version: str

    @property
    def legacy(self) -> bool:
        return self.version in LEGACY_VERSIONS

    @property
    def next_link_field(self) -> str:
        return "@nextLink" if self.legacy else "nextLink"

    def base_url(self, request: Request) -> str:
        root = str(request.base_url).rstrip("/")
        return f"{root}/translator/text/batch/{self.version}" if self.legacy else f"{root}/translator/document"

    def job_url(self, request: Request, job_id: str) -> str:
        url = f"{self.base_url(request)}/batches/{job_id}"
        return url if self.legacy else f"{url}?api-version={self.version}"


class _DroppedConnection(Response):
    """An answer cut off mid-way: the status line and part of the body, then the connection closes."""

    def __init__(self) -> None:
        super().__init__(status_code=202)

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 202,
                "headers": [(b"content-type", b"application/json"), (b"content-length", b"128")],
            }
        )
        await send({"type": "http.response.body", "body": b'{"id": "', "more_body": True})
        raise ConnectionAbortedError("answer dropped on purpose (--lost-answer-modes reset)")


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    target: str = "Operation",
    inner_code: str | None = None,
    retry_after: int | None = None,
) -> JSONResponse:
    headers = {"Retry-After": str(retry_after)} if retry_after is not None else None
    return JSONResponse({"error": error_body(code, message, target, inner_code or code)}, status, headers=headers)


class _TokenBucket:
    def __init__(self, per_second: float):
        self.per_second = per_second
        self.capacity = max(1.0, per_second)
        self.tokens = self.capacity
        self.updated = time.monotonic()
        self._lock = threading.Lock()

    def take(self) -> float:
        """0 when a request may pass, else the seconds until one may."""
        with self._lock:
            now = time.monotonic()
            self.tokens = min(self.capacity, self.tokens + (now - self.updated) * self.per_second)
            self.updated = now
            if self.tokens >= 1:
                self.tokens -= 1
                return 0.0
            return (1 - self.tokens) / self.per_second


Handler = Callable[[Request, Flavour], Awaitable[Response]]
Endpoint = Callable[[Request], Awaitable[Response]]


class EmulatorApp:
    def __init__(self, options: EmulatorOptions, engine: JobEngine):
        self.options = options
        self.engine = engine
        self._requests: Counter[str] = Counter()
        self._faults: Counter[str] = Counter()
        self._counter_lock = threading.Lock()
        self._random = random.Random(options.seed)
        # Its own stream: turning one fault on does not change the other's sequence.
        self._lost_random = random.Random(options.seed + 1)
        self._bucket = _TokenBucket(options.rate_limit) if options.rate_limit else None

    # ---- assembly ------------------------------------------------------------------------------

    def build(self) -> Starlette:
        routes: list[Route] = []
        operations: list[tuple[str, str, str, Handler]] = [
            ("POST", "/batches", "POST /batches", self.start_batch),
            ("GET", "/batches", "GET /batches", self.list_jobs),
            ("GET", "/batches/{job_id}", "GET /batches/{id}", self.get_job),
            ("DELETE", "/batches/{job_id}", "DELETE /batches/{id}", self.cancel_job),
            ("GET", "/batches/{job_id}/documents", "GET /batches/{id}/documents", self.list_documents),
            (
                "GET",
                "/batches/{job_id}/documents/{document_id}",
                "GET /batches/{id}/documents/{documentId}",
                self.get_document,
            ),
        ]
        for method, path, name, handler in operations:
            routes.append(Route("/translator/document" + path, self._gate(name, None, handler), methods=[method]))
            for version in LEGACY_VERSIONS:
                legacy_path = f"/translator/text/batch/{version}{path}"
                routes.append(Route(legacy_path, self._gate(name, version, handler), methods=[method]))
        routes.append(Route("/translator/document/formats", self._gate("GET /formats", None, self.formats)))
        for version in LEGACY_VERSIONS:
            base = f"/translator/text/batch/{version}"
            routes.append(
                Route(f"{base}/documents/formats", self._gate("GET /documents/formats", version, self.document_formats))
            )
            routes.append(
                Route(
                    f"{base}/glossaries/formats", self._gate("GET /glossaries/formats", version, self.glossary_formats)
                )
            )
        # The text API's language list on the same resource: needs no key on the real service.
        routes.append(Route("/translator/text/v3.0/languages", self.languages, methods=["GET"]))
        routes.append(Route("/_emulator/stats", self._introspection(self.stats_route), methods=["GET"]))
        routes.append(Route("/_emulator/reset", self._introspection(self.reset_route), methods=["POST"]))
        return Starlette(routes=routes, exception_handlers={HTTPException: self._http_exception})

    async def _http_exception(self, request: Request, exc: Exception) -> Response:
        status = exc.status_code if isinstance(exc, HTTPException) else 500
        if status == 404:
            return error_response(404, "ResourceNotFound", "The requested route does not exist.")
        if status == 405:
            return error_response(405, "InvalidRequest", "The method is not allowed on this route.")
        return error_response(status, "InvalidRequest", "The request could not be handled.")

    def _gate(self, operation: str, legacy_version: str | None, handler: Handler) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            response = await self._guarded(request, operation, legacy_version, handler)
            log = logger.info if request.method != "GET" or response.status_code >= 400 else logger.debug
            log("%s %s -> %d", request.method, redact_url(str(request.url)), response.status_code)
            return response

        return endpoint

    def _introspection(self, handler: Endpoint) -> Endpoint:
        async def endpoint(request: Request) -> Response:
            return self._authenticate(request) or await handler(request)

        return endpoint

    async def _guarded(
        self, request: Request, operation: str, legacy_version: str | None, handler: Handler
    ) -> Response:
        with self._counter_lock:
            self._requests[operation] += 1
        if self.options.latency_ms:
            await asyncio.sleep(self.options.latency_ms / 1000)
        refusal = self._authenticate(request)
        if refusal is not None:
            return refusal
        if self._bucket is not None:
            wait = self._bucket.take()
            if wait > 0:
                self._count_fault(operation)
                return error_response(
                    429, "RequestRateTooHigh", "Too many requests; retry later.", retry_after=max(1, math.ceil(wait))
                )
        fault = self._injected_fault()
        if fault is not None:
            self._count_fault(operation)
            return fault
        if legacy_version is not None:
            flavour = Flavour(legacy_version)
        else:
            api_version = request.query_params.get("api-version")
            if not api_version:
                return error_response(
                    400,
                    "InvalidRequest",
                    "The api-version query parameter is required.",
                    inner_code="MissingApiVersion",
                )
            if api_version not in CURRENT_API_VERSIONS:
                return error_response(
                    400,
                    "InvalidRequest",
                    f"Unsupported api-version '{api_version}'; supported: {', '.join(CURRENT_API_VERSIONS)}.",
                    inner_code="UnsupportedApiVersion",
                )
            flavour = Flavour(api_version)
        return await handler(request, flavour)

    def _count_fault(self, operation: str) -> None:
        with self._counter_lock:
            self._faults[operation] += 1

    def _authenticate(self, request: Request) -> Response | None:
        key = request.headers.get("Ocp-Apim-Subscription-Key", "")
        authorized = bool(key) and hmac.compare_digest(key.encode(), self.options.key.encode())
        if not authorized and self.options.bearer_token:
            authorization = request.headers.get("Authorization", "")
            expected = f"Bearer {self.options.bearer_token}"
            authorized = hmac.compare_digest(authorization.encode(), expected.encode())
        if not authorized:
            return error_response(
                401,
                "Unauthorized",
                "Access denied due to a missing or invalid subscription key or token.",
                inner_code="Unauthorized",
            )
        region = request.headers.get("Ocp-Apim-Subscription-Region")
        if key and self.options.region and region and region.lower() != self.options.region.lower():
            return error_response(
                401, "Unauthorized", "The key is not valid for the region given.", inner_code="Unauthorized"
            )
        return None

    def _injected_fault(self) -> Response | None:
        if self.options.fault_rate <= 0:
            return None
        with self._counter_lock:
            faulty = self._random.random() < self.options.fault_rate
            unavailable = self._random.random() < 0.5
        if not faulty:
            return None
        return self._server_error("503" if unavailable else "500")

    def _server_error(self, status: str) -> Response:
        """The service's 503 (with Retry-After) or 500 answer."""
        if status == "503":
            return error_response(
                503,
                "ServiceUnavailable",
                "The service is temporarily unavailable.",
                retry_after=self.options.retry_after_seconds,
            )
        return error_response(500, "InternalServerError", "Unexpected internal server error has occurred.")

    # ---- operations ----------------------------------------------------------------------------

    async def start_batch(self, request: Request, flavour: Flavour) -> Response:
        try:
            inputs = parse_batch(await request.body(), self.options.max_target_languages)
        except InvalidBatch as exc:
            return error_response(400, "InvalidRequest", str(exc), target="Operation", inner_code=exc.inner_code)
        job = self.engine.submit(inputs)
        lost = self._lost_answer()
        if lost is not None:
            # The job exists; the caller never learns its id.
            with self._counter_lock:
                self._faults["lost answer"] += 1
            logger.info("batch %s created; its answer is lost on purpose (%s)", job.id, lost)
            return _DroppedConnection() if lost == "reset" else self._server_error(lost)
        return Response(status_code=202, headers={"Operation-Location": flavour.job_url(request, job.id)})

    def _lost_answer(self) -> str | None:
        if self.options.lost_answer_rate <= 0:
            return None
        with self._counter_lock:
            if self._lost_random.random() >= self.options.lost_answer_rate:
                return None
            return self._lost_random.choice(self.options.lost_answer_modes)

    async def list_jobs(self, request: Request, flavour: Flavour) -> Response:
        return self._list(request, flavour, self.engine.job_snapshots(listed_only=True))

    async def get_job(self, request: Request, flavour: Flavour) -> Response:
        snapshot = self.engine.snapshot(request.path_params["job_id"])
        if snapshot is None:
            return self._job_not_found(request)
        return JSONResponse(snapshot[0], headers={"Retry-After": str(self.options.retry_after_seconds)})

    async def cancel_job(self, request: Request, flavour: Flavour) -> Response:
        try:
            body = self.engine.cancel(request.path_params["job_id"])
        except NotCancellable as exc:
            return error_response(
                400,
                "InvalidRequest",
                f"The job is {exc} and can no longer be cancelled.",
                inner_code="InvalidJobStatus",
            )
        if body is None:
            return self._job_not_found(request)
        return JSONResponse(body)

    async def list_documents(self, request: Request, flavour: Flavour) -> Response:
        snapshot = self.engine.snapshot(request.path_params["job_id"])
        if snapshot is None:
            return self._job_not_found(request)
        documents = snapshot[1] if self.engine.is_listed(request.path_params["job_id"]) else []
        return self._list(request, flavour, documents)

    async def get_document(self, request: Request, flavour: Flavour) -> Response:
        snapshot = self.engine.snapshot(request.path_params["job_id"])
        if snapshot is None:
            return self._job_not_found(request)
        wanted = request.path_params["document_id"].lower()
        document = next((item for item in snapshot[1] if item["id"].lower() == wanted), None)
        if document is None:
            return error_response(404, "ResourceNotFound", "Document not found.", target="Document")
        return JSONResponse(document, headers={"Retry-After": str(self.options.retry_after_seconds)})

    async def formats(self, request: Request, flavour: Flavour) -> Response:
        kind = request.query_params.get("type", "document").lower()
        if kind not in ("document", "glossary"):
            return error_response(400, "InvalidArgument", "type must be 'document' or 'glossary'.", target="type")
        return JSONResponse(formats_json(kind, with_type=True))

    async def languages(self, request: Request) -> Response:
        with self._counter_lock:
            self._requests["GET /languages"] += 1
        if request.query_params.get("api-version") != "3.0":
            return error_response(
                400, "InvalidRequest", "The api-version query parameter must be 3.0.", inner_code="InvalidApiVersion"
            )
        return JSONResponse(languages_json())

    async def document_formats(self, request: Request, flavour: Flavour) -> Response:
        return JSONResponse(formats_json("document", with_type=False))

    async def glossary_formats(self, request: Request, flavour: Flavour) -> Response:
        return JSONResponse(formats_json("glossary", with_type=False))

    def _list(self, request: Request, flavour: Flavour, items: list[dict[str, Any]]) -> Response:
        params = request.query_params.multi_items()
        try:
            query = ListQuery.parse([(name, value) for name, value in params if name != "api-version"])
        except InvalidListQuery as exc:
            return error_response(400, "InvalidArgument", str(exc), target=exc.parameter, inner_code="InvalidArgument")
        url = str(request.url.replace(query=""))
        return JSONResponse(query.page(items, url.rstrip("?"), params, flavour.next_link_field))

    @staticmethod
    def _job_not_found(request: Request) -> Response:
        return error_response(
            404, "ResourceNotFound", f"Batch {request.path_params['job_id']} not found.", target="Operation"
        )

    # ---- introspection -------------------------------------------------------------------------

    def stats(self) -> dict[str, Any]:
        with self._counter_lock:
            requests = dict(self._requests)
            faults = dict(self._faults)
        return {"requests": requests, "faults": faults, "batches": self.engine.stats()}

    def reset(self) -> None:
        self.engine.reset()
        with self._counter_lock:
            self._requests.clear()
            self._faults.clear()

    async def stats_route(self, request: Request) -> Response:
        return JSONResponse(self.stats())

    async def reset_route(self, request: Request) -> Response:
        self.reset()
        return Response(status_code=204)
