"""Authentication of requests to the Translator: a resource key, or a Microsoft Entra token."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import Any, Protocol

import httpx

from shared.translator.errors import AuthenticationError

logger = logging.getLogger(__name__)

SCOPE = "https://cognitiveservices.azure.com/.default"
KEY_HEADER = "Ocp-Apim-Subscription-Key"
REGION_HEADER = "Ocp-Apim-Subscription-Region"

# A token is renewed this long before it expires, so a request never leaves with a token
# that dies in flight (and so clock skew between us and Entra does not matter).
REFRESH_MARGIN_SECONDS = 300.0


class TokenCredential(Protocol):
    """What azure-identity's credentials offer (azure.core.credentials.TokenCredential)."""

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:  # returns an AccessToken(token, expires_on)
        ...


class SubscriptionKeyAuth(httpx.Auth):
    """`Ocp-Apim-Subscription-Key` (+ `Ocp-Apim-Subscription-Region` for regional resources)."""

    def __init__(self, key: str, region: str | None = None) -> None:
        if not key:
            raise ValueError("a Translator key is required for key authentication")
        self._key = key
        self._region = region or None

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[KEY_HEADER] = self._key
        if self._region:
            request.headers[REGION_HEADER] = self._region
        yield request

    def __repr__(self) -> str:
        return f"SubscriptionKeyAuth(key=***, region={self._region!r})"


class TokenCredentialAuth(httpx.Auth):
    """`Authorization: Bearer <token>` from a TokenCredential, cached until shortly before it expires.

    On a 401 with a cached token the token is fetched again and the request resent once:
    a token revoked or rotated early should not fail a whole poll cycle.
    """

    def __init__(
        self,
        credential: TokenCredential,
        *,
        scope: str = SCOPE,
        refresh_margin_seconds: float = REFRESH_MARGIN_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._credential = credential
        self._scope = scope
        self._refresh_margin = refresh_margin_seconds
        self._clock = clock
        self._token: str | None = None
        self._expires_on: float = 0.0
        self._lock = threading.Lock()

    def _get_token(self, *, force: bool = False) -> str:
        with self._lock:
            if force or self._token is None or self._clock() >= self._expires_on - self._refresh_margin:
                try:
                    access_token = self._credential.get_token(self._scope)
                except Exception as exc:  # azure-identity raises several unrelated types
                    raise AuthenticationError(
                        f"could not get a Microsoft Entra token for {self._scope} from "
                        f"{type(self._credential).__name__}: {type(exc).__name__}: {exc}"
                    ) from exc
                self._token = access_token.token
                self._expires_on = float(access_token.expires_on)
                logger.debug("Fetched a token for %s, valid until %s (epoch seconds)", self._scope, self._expires_on)
            return self._token

    # Getting a token does I/O and takes a lock: httpx's guidance puts such work in
    # sync_auth_flow (auth_flow is for flows that do neither).
    def sync_auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self._get_token()}"
        response = yield request
        if response.status_code == 401:
            logger.info("Translator answered 401 to a bearer token; fetching a new token and trying once more")
            request.headers["Authorization"] = f"Bearer {self._get_token(force=True)}"
            yield request

    async def async_auth_flow(self, request: httpx.Request) -> AsyncGenerator[httpx.Request, httpx.Response]:
        raise RuntimeError("TokenCredentialAuth serves the synchronous client only")
        yield request  # makes this an async generator, as httpx expects

    def __repr__(self) -> str:
        return f"TokenCredentialAuth(credential={type(self._credential).__name__}, scope={self._scope!r})"
