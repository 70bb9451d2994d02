"""The client's exceptions: one class per kind of failure a caller handles differently.

Every message is passed through `redact` when the exception is built, so `str(error)`,
`repr(error)` and `error.message` are safe to log even when the service echoes a SAS URL.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from shared.redaction import redact
from shared.translator.models import ErrorDetail

_MAX_TEXT_BODY = 200


class TranslatorError(Exception):
    """A call to the Document Translation service failed."""

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        code: str | None = None,
        inner_code: str | None = None,
        target: str | None = None,
        retry_after: float | None = None,
        request_id: str | None = None,
    ) -> None:
        self.message = redact(message)
        self.status_code = status_code
        self.code = code
        self.inner_code = inner_code
        self.target = target
        self.retry_after = retry_after
        # The service's id of the request (X-RequestId / apim-request-id): what a support case needs.
        self.request_id = request_id
        super().__init__(self.message)

    def __str__(self) -> str:
        # "404 ResourceNotFound/BatchNotFound: Batch ... was not found"
        head = " ".join(
            part
            for part in (
                str(self.status_code) if self.status_code is not None else None,
                "/".join(code for code in (self.code, self.inner_code) if code) or None,
            )
            if part
        )
        text = f"{head}: {self.message}" if head else self.message
        return f"{text} (request id {self.request_id})" if self.request_id else text

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(status_code={self.status_code!r}, code={self.code!r}, "
            f"inner_code={self.inner_code!r}, message={self.message!r}, target={self.target!r}, "
            f"retry_after={self.retry_after!r}, request_id={self.request_id!r})"
        )


class InvalidRequestError(TranslatorError):
    """400: the request is wrong (bad body, SAS not usable, cancel of a finished job...). Not retried."""


class AuthenticationError(TranslatorError):
    """401: the key or token is wrong or for another resource/region."""


class PermissionDeniedError(TranslatorError):
    """403: the credential is valid but not allowed (e.g. a Free F0 resource)."""


class NotFoundError(TranslatorError):
    """404: no such job or document (job ids are not kept forever)."""


class RateLimitedError(TranslatorError):
    """429: too many requests; `retry_after` says how long the service wants us to wait."""


class ServiceError(TranslatorError):
    """5xx, an unexpected status, or an answer the client cannot read."""


class ServiceUnreachableError(TranslatorError):
    """No HTTP answer: connection refused, DNS, timeout, connection dropped. (httpx's own
    TransportError is the cause, chained.)"""


class SubmissionUncertainError(TranslatorError):
    """A batch submission failed in a way that may have created the batch anyway.

    Submitting again could translate (and bill) the same documents twice: the caller must
    first look for the batch (list jobs created since the attempt) and only then resubmit.
    `status_code`/`code` carry the underlying failure (None for a transport error).
    """


_CLASS_BY_STATUS: dict[int, type[TranslatorError]] = {
    400: InvalidRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    # A start call too large to be accepted is refused as a whole: smaller ones may pass.
    413: InvalidRequestError,
    429: RateLimitedError,
}


def error_class_for_status(status_code: int) -> type[TranslatorError]:
    return _CLASS_BY_STATUS.get(status_code, ServiceError)


def error_from_response(response: httpx.Response, *, retry_after: float | None = None) -> TranslatorError:
    """The exception for an error answer, from its `{"error": {...}}` body or a short text of it."""
    detail: ErrorDetail | None = None
    text = ""
    try:
        text = response.text
        body: Any = json.loads(text) if text else None
    except (ValueError, UnicodeDecodeError):
        body = None
    if isinstance(body, dict):
        detail = ErrorDetail.from_json(body.get("error") if isinstance(body.get("error"), dict) else body)
    if detail is not None and (detail.code or detail.message):
        message = detail.message or detail.inner_message or response.reason_phrase
        code: str | None = detail.code or None
        inner_code, target = detail.inner_code, detail.target
        if detail.inner_message and detail.inner_message != message:
            message = f"{message} ({detail.inner_message})"
    else:
        snippet = " ".join(text.split())[:_MAX_TEXT_BODY]
        message = snippet or response.reason_phrase or "no error body"
        code = inner_code = target = None
    return error_class_for_status(response.status_code)(
        message,
        status_code=response.status_code,
        code=code,
        inner_code=inner_code,
        target=target,
        retry_after=retry_after,
        request_id=request_id_of(response),
    )


REQUEST_ID_HEADERS = ("X-RequestId", "apim-request-id", "x-ms-request-id")


def request_id_of(response: httpx.Response) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value: str | None = response.headers.get(name)
        if value:
            return value.strip()
    return None
