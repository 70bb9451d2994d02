"""The Document Translation batch API client: one httpx.Client, one method per operation."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from typing import Any, Generic, TypeVar, Unpack
from urllib.parse import urlsplit

import httpx

from shared.redaction import redact, redact_url
from shared.translator.auth import SubscriptionKeyAuth, TokenCredential, TokenCredentialAuth
from shared.translator.config import TranslatorConfig
from shared.translator.errors import (
    ServiceError,
    ServiceUnreachableError,
    SubmissionUncertainError,
    TranslatorError,
    error_from_response,
)
from shared.translator.models import DocumentStatus, FileFormat, JobStatus, Page, TranslationInput
from shared.translator.retry import Pacer, RetryPolicy, parse_retry_after
from shared.translator.routes import DEFAULT_API_VERSION, ListFilters, ListQuery, Routes, next_link_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

USER_AGENT = "drop-folder-translation/0.1 (+httpx)"

# A POST that failed with one of these may still have created the batch on the service side.
_UNCERTAIN_SUBMIT_STATUSES = frozenset({500, 502, 503, 504})
# Transport failures that happen before any byte of the request left: a retry cannot duplicate it.
_NOT_SENT_ERRORS: tuple[type[Exception], ...] = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class DocumentTranslationClient:
    """Azure AI Document Translation (batch) over httpx.

    Use as a context manager or call `close()`. Every call goes through `retry` (429/5xx/
    transport errors), except that a batch submission which may have reached the service is
    never repeated: it raises `SubmissionUncertainError` and the caller reconciles.
    """

    def __init__(
        self,
        endpoint: str,
        credential: str | TokenCredential,
        *,
        region: str | None = None,
        api_version: str = DEFAULT_API_VERSION,
        retry: RetryPolicy | None = None,
        timeout: float = 30.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._routes = Routes(endpoint, api_version)
        if isinstance(credential, str):
            auth: httpx.Auth = SubscriptionKeyAuth(credential, region)
        elif callable(getattr(credential, "get_token", None)):
            auth = TokenCredentialAuth(credential)
        else:
            raise TypeError("credential must be a Translator key (str) or a TokenCredential")
        self._auth_kind = "key" if isinstance(credential, str) else "token"
        self._retry = retry or RetryPolicy()
        self._pacer = Pacer(sleep=self._retry.sleep, clock=self._retry.clock)
        self._clock_offset: timedelta | None = None
        self._http = httpx.Client(
            auth=auth,
            timeout=httpx.Timeout(timeout),
            transport=transport,
            headers={"Accept": "application/json", "User-Agent": USER_AGENT},
            follow_redirects=False,
        )

    @classmethod
    def from_config(
        cls, config: TranslatorConfig, credential: TokenCredential | None = None, **options: Any
    ) -> DocumentTranslationClient:
        """Key auth when the config has a key; else `credential` (the app wires in its identity)."""
        chosen: str | TokenCredential
        if config.key:
            chosen = config.key
        elif credential is not None:
            chosen = credential
        else:
            raise ValueError("the Translator needs a key or a TokenCredential; the config has no key")
        options.setdefault("timeout", float(config.timeout_seconds))
        options.setdefault("retry", RetryPolicy(total_budget_seconds=float(config.retry_budget_seconds)))
        return cls(config.endpoint, chosen, region=config.region, api_version=config.api_version, **options)

    @property
    def endpoint(self) -> str:
        return self._routes.endpoint

    @property
    def api_version(self) -> str:
        return self._routes.api_version

    def __repr__(self) -> str:
        return (
            f"DocumentTranslationClient(endpoint={redact_url(self.endpoint)!r}, "
            f"api_version={self.api_version!r}, auth={self._auth_kind!r})"
        )

    def __enter__(self) -> DocumentTranslationClient:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    # Operations -------------------------------------------------------------------------

    def begin_translation(self, inputs: Sequence[TranslationInput]) -> str:
        """Submits one batch and returns its job id (from the `Operation-Location` header)."""
        if not inputs:
            raise ValueError("begin_translation needs at least one TranslationInput")
        body = {"inputs": [item.to_json() for item in inputs]}
        response = self._request("POST", self._routes.batches(), json_body=body, submission=True)
        location: str | None = response.headers.get("Operation-Location")
        if not location:
            raise ServiceError(
                f"the service answered {response.status_code} to a batch submission without an "
                "Operation-Location header; the batch may exist: reconcile before submitting again",
                status_code=response.status_code,
            )
        job_id: str = urlsplit(location.strip()).path.rstrip("/").rsplit("/", 1)[-1]
        if not job_id:
            raise ServiceError(
                f"unreadable Operation-Location {redact_url(location)!r}", status_code=response.status_code
            )
        logger.info("Submitted a translation batch of %d input(s): job %s", len(inputs), job_id)
        return job_id

    def get_translation_status(self, job_id: str) -> JobStatus:
        response = self._request("GET", self._routes.batch(job_id))
        return JobStatus.from_json(self._json_object(response), retry_after=_retry_after(response))

    def cancel_translation(self, job_id: str) -> JobStatus:
        """Asks the service to cancel; only NotStarted/Running jobs can be (else InvalidRequestError)."""
        response = self._request("DELETE", self._routes.batch(job_id))
        return JobStatus.from_json(self._json_object(response), retry_after=_retry_after(response))

    def list_translation_statuses(self, **filters: Unpack[ListFilters]) -> Pageable[JobStatus]:
        """Jobs, newest first unless `order_by` says otherwise; `.by_page()` gives one request per page."""
        url = self._routes.batches(ListQuery(**filters))
        return Pageable(lambda: self._pages(url, JobStatus.from_json, "list jobs"), filters.get("top"))

    def list_document_statuses(self, job_id: str, **filters: Unpack[ListFilters]) -> Pageable[DocumentStatus]:
        url = self._routes.documents(job_id, ListQuery(**filters))
        return Pageable(lambda: self._pages(url, DocumentStatus.from_json, "list documents"), filters.get("top"))

    def get_document_status(self, job_id: str, document_id: str) -> DocumentStatus:
        response = self._request("GET", self._routes.document(job_id, document_id))
        return DocumentStatus.from_json(self._json_object(response))

    def get_supported_document_formats(self) -> list[FileFormat]:
        return self._formats("document")

    def get_supported_glossary_formats(self) -> list[FileFormat]:
        return self._formats("glossary")

    def get_supported_languages(self) -> dict[str, str]:
        """The languages the service translates into: lower-cased code -> the code as it spells it.
        Asked of the Translator's text API on the same resource (`/translator/text/v3.0/languages`)."""
        body = self._json_object(self._request("GET", self._routes.languages(), description="list languages"))
        languages = body.get("translation")
        if not isinstance(languages, Mapping):
            raise ServiceError("the languages answer has no 'translation' object", status_code=200)
        return {str(code).lower(): str(code) for code in languages}

    @property
    def clock_offset(self) -> timedelta | None:
        """The service's clock minus ours, from the Date header of its last answer (None before one)."""
        return self._clock_offset

    # Plumbing ---------------------------------------------------------------------------

    def _formats(self, kind: str) -> list[FileFormat]:
        body = self._json_object(self._request("GET", self._routes.formats(kind)))
        values = body.get("value")
        if not isinstance(values, list):
            raise ServiceError(f"the {kind} formats answer has no 'value' list", status_code=200)
        return [FileFormat.from_json(value) for value in values if isinstance(value, Mapping)]

    def _pages(self, first_url: str, parse: Callable[[Mapping[str, Any]], T], description: str) -> Iterator[Page[T]]:
        url: str | None = first_url
        seen: set[str] = set()
        while url is not None:
            seen.add(url)
            response = self._request("GET", url, description=description)
            body = self._json_object(response)
            values = body.get("value")
            if values is None:
                values = []
            if not isinstance(values, list):
                raise ServiceError(f"the {description} answer has a 'value' that is not a list", status_code=200)
            link = next_link_of(body)
            next_url = self._routes.follow(link) if link else None
            if next_url is not None and next_url in seen:
                raise ServiceError(
                    f"the {description} answer links back to a page already read ({redact_url(next_url)}); "
                    "stopping rather than looping",
                    status_code=response.status_code,
                )
            yield Page(items=[parse(value) for value in values if isinstance(value, Mapping)], next_link=link)
            url = next_url

    def _request(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        submission: bool = False,
        description: str | None = None,
    ) -> httpx.Response:
        """One operation: each attempt is sent (auth is the httpx.Client's), its failure turned into a
        TranslatorError, and a submission's failure that may have created the batch made uncertain;
        `RetryPolicy` decides whether to try again."""
        description = description or f"{method} {redact_url(url.split('?', 1)[0])}"

        def attempt(number: int) -> httpx.Response:
            try:
                return self._raise_for_status(self._send(method, url, json_body, number))
            except TranslatorError as error:
                uncertain = _uncertain_submission(error) if submission else None
                if uncertain is None:
                    raise
                # A transport failure is told by its httpx cause; an answer by its TranslatorError.
                raise uncertain from (error.__cause__ if isinstance(error, ServiceUnreachableError) else error)

        return self._retry.call(attempt, description=description)

    def _send(self, method: str, url: str, json_body: Any, number: int) -> httpx.Response:
        """The transport layer: paced, timed for the clock offset; a transport failure is
        ServiceUnreachableError (its cause says whether the request can have left)."""
        self._pacer.wait()
        sent_at = datetime.now(UTC)
        try:
            response = self._http.request(method, url, json=json_body)
        except httpx.HTTPError as exc:
            logger.info("%s %s -> %s (attempt %d)", method, redact_url(url), type(exc).__name__, number)
            raise ServiceUnreachableError(f"{type(exc).__name__}: {redact(str(exc)) or type(exc).__name__}") from exc
        self._note_clock(response, sent_at)
        level = logging.DEBUG if response.is_success else logging.INFO
        logger.log(level, "%s %s -> %d (attempt %d)", method, redact_url(url), response.status_code, number)
        return response

    def _raise_for_status(self, response: httpx.Response) -> httpx.Response:
        """The errors layer: a failed answer is its TranslatorError; a 429/503 Retry-After holds every call."""
        if response.is_success:
            return response
        error = error_from_response(response, retry_after=_retry_after(response))
        if error.retry_after is not None and response.status_code in (429, 503):
            self._pacer.hold(error.retry_after)
        raise error

    def _note_clock(self, response: httpx.Response, sent_at: datetime) -> None:
        date = response.headers.get("Date")
        if not date:
            return
        try:
            server_time = parsedate_to_datetime(date)
        except (TypeError, ValueError):
            return
        received_at = datetime.now(UTC)
        # The header has a second's resolution: compare it with the middle of the exchange.
        self._clock_offset = server_time - (sent_at + (received_at - sent_at) / 2)

    @staticmethod
    def _json_object(response: httpx.Response) -> dict[str, Any]:
        try:
            body = json.loads(response.text) if response.content else {}
        except ValueError as exc:
            raise ServiceError(
                f"the service answered {response.status_code} with a body that is not JSON: "
                f"{' '.join(response.text.split())[:200]!r}",
                status_code=response.status_code,
            ) from exc
        if not isinstance(body, dict):
            raise ServiceError(
                f"the service answered {response.status_code} with JSON that is not an object",
                status_code=response.status_code,
            )
        return body


class Pageable(Generic[T]):
    """The items of a list operation, read page by page as they are iterated (like azure-core's
    ItemPaged); `by_page()` gives the pages themselves, one request each."""

    def __init__(self, pages: Callable[[], Iterator[Page[T]]], top: int | None = None) -> None:
        self._pages = pages
        self._top = top

    def by_page(self) -> Iterator[Page[T]]:
        return self._pages()

    def __iter__(self) -> Iterator[T]:
        return _items(self._pages(), self._top)


def _items(pages: Iterator[Page[T]], top: int | None) -> Iterator[T]:
    # `top` caps the total across pages; a server that sends more must not make us return more.
    count = 0
    for page in pages:
        for item in page.items:
            if top is not None and count >= top:
                return
            count += 1
            yield item


def _uncertain_submission(error: TranslatorError) -> SubmissionUncertainError | None:
    """The uncertainty layer: a batch submission that failed after it may have reached the service
    (a transport error once bytes may have left, or a 5xx) is never repeated; the caller reconciles."""
    cause = error.__cause__
    if isinstance(error, ServiceUnreachableError):
        if isinstance(cause, _NOT_SENT_ERRORS):
            return None
        name = type(cause).__name__
        reason = redact(str(cause)) or name
        return SubmissionUncertainError(
            f"batch submission is uncertain: {name} ({reason}) after the request "
            "may have reached the service; the batch may exist, so reconcile (list recent jobs) "
            "before submitting again"
        )
    if error.status_code in _UNCERTAIN_SUBMIT_STATUSES:
        return SubmissionUncertainError(
            f"batch submission is uncertain: the service answered {error}; the batch may exist, "
            "so reconcile (list recent jobs) before submitting again",
            status_code=error.status_code,
            code=error.code,
            inner_code=error.inner_code,
            target=error.target,
            retry_after=error.retry_after,
            request_id=error.request_id,
        )
    return None


def _retry_after(response: httpx.Response) -> float | None:
    seconds = parse_retry_after(response.headers.get("Retry-After"))
    if seconds is None:
        for name in ("retry-after-ms", "x-ms-retry-after-ms"):
            milliseconds = parse_retry_after(response.headers.get(name))
            if milliseconds is not None:
                return milliseconds / 1000
    return seconds
