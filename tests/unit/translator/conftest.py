"""A scripted fake service (httpx.MockTransport) and a fake clock for the client's unit tests."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from shared.translator import DocumentTranslationClient, RetryPolicy

ENDPOINT = "https://contoso-translator.cognitiveservices.azure.com"
KEY = "0123456789abcdef0123456789abcdef"
SAS_SIG = "sv%3DSECRETSIGNATURE%2Bvalue%3D"
SOURCE_SAS_URL = f"https://acct.blob.core.windows.net/source/report.docx?sv=2024-08-04&sp=rl&sig={SAS_SIG}"
TARGET_SAS_URL = f"https://acct.blob.core.windows.net/target/fr/report.docx?sv=2024-08-04&sp=wl&sig={SAS_SIG}"
FLAVOURS = ("2026-03-01", "2024-05-01", "v1.1")

Reply = httpx.Response | Exception | Callable[[httpx.Request], httpx.Response]


def json_response(status: int, body: Any = None, headers: dict[str, str] | None = None) -> httpx.Response:
    content = b"" if body is None else json.dumps(body).encode()
    all_headers = {"Content-Type": "application/json"} if body is not None else {}
    all_headers.update(headers or {})
    return httpx.Response(status, content=content, headers=all_headers)


def error_body(code: str, message: str, inner_code: str | None = None, target: str | None = None) -> dict:
    error: dict[str, Any] = {"code": code, "message": message}
    if target:
        error["target"] = target
    if inner_code:
        error["innerError"] = {"code": inner_code, "message": f"inner: {message}"}
    return {"error": error}


@dataclass
class FakeService:
    """Answers requests with the scripted replies, in order; records every request it saw."""

    replies: list[Reply] = field(default_factory=list)
    requests: list[httpx.Request] = field(default_factory=list)

    def handler(self, request: httpx.Request) -> httpx.Response:
        # A copy: an auth flow may resend the same Request object with other headers.
        self.requests.append(
            httpx.Request(request.method, request.url, headers=request.headers.copy(), content=request.read())
        )
        if not self.replies:
            raise AssertionError(f"unexpected request {request.method} {request.url}")
        reply = self.replies.pop(0)
        if isinstance(reply, Exception):
            raise reply
        if callable(reply):
            return reply(request)
        return reply

    def add(self, *replies: Reply) -> FakeService:
        self.replies.extend(replies)
        return self


@dataclass
class FakeTime:
    """A clock that only moves when the code under test sleeps."""

    now: float = 1000.0
    sleeps: list[float] = field(default_factory=list)

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


@pytest.fixture
def fake_time() -> FakeTime:
    return FakeTime()


@pytest.fixture
def service() -> FakeService:
    return FakeService()


@pytest.fixture
def make_client(service: FakeService, fake_time: FakeTime):
    clients: list[DocumentTranslationClient] = []

    def build(
        api_version: str = "2026-03-01",
        credential: Any = KEY,
        region: str | None = None,
        retry: RetryPolicy | None = None,
        jitter: float = 0.0,
    ) -> DocumentTranslationClient:
        policy = retry or RetryPolicy(sleep=fake_time.sleep, clock=fake_time.clock, random=lambda: jitter)
        client = DocumentTranslationClient(
            ENDPOINT,
            credential,
            region=region,
            api_version=api_version,
            retry=policy,
            transport=httpx.MockTransport(service.handler),
        )
        clients.append(client)
        return client

    yield build
    for client in clients:
        client.close()
