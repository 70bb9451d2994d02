"""Key and bearer-token authentication, and the choice made by from_config."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import pytest

from shared.translator import (
    SCOPE,
    AuthenticationError,
    DocumentTranslationClient,
    TokenCredentialAuth,
    TranslatorConfig,
)
from tests.unit.translator.conftest import ENDPOINT, KEY, json_response

JOB = {"id": "job-1", "status": "Running"}


@dataclass
class AccessToken:
    token: str
    expires_on: int


@dataclass
class FakeCredential:
    """Issues token-1, token-2, ... each valid for `lifetime` seconds from `now`."""

    now: float = field(default_factory=time.time)
    lifetime: int = 3600
    calls: list[tuple[str, ...]] = field(default_factory=list)

    def get_token(self, *scopes: str, **kwargs) -> AccessToken:
        self.calls.append(scopes)
        return AccessToken(f"token-{len(self.calls)}", int(self.now + self.lifetime))


def test_key_auth_sends_key_and_region_headers(service, make_client):
    service.add(json_response(200, JOB))
    make_client(region="westeurope").get_translation_status("job-1")
    headers = service.requests[0].headers
    assert headers["Ocp-Apim-Subscription-Key"] == KEY
    assert headers["Ocp-Apim-Subscription-Region"] == "westeurope"
    assert "Authorization" not in headers


def test_key_auth_without_region_sends_no_region_header(service, make_client):
    service.add(json_response(200, JOB))
    make_client().get_translation_status("job-1")
    assert "Ocp-Apim-Subscription-Region" not in service.requests[0].headers


def test_bearer_auth_uses_the_cognitive_services_scope_and_caches_the_token(service, make_client):
    credential = FakeCredential()
    service.add(json_response(200, JOB), json_response(200, JOB))
    client = make_client(credential=credential)

    client.get_translation_status("job-1")
    client.get_translation_status("job-1")

    assert credential.calls == [(SCOPE,)]
    assert SCOPE == "https://cognitiveservices.azure.com/.default"
    for request in service.requests:
        assert request.headers["Authorization"] == "Bearer token-1"
        assert "Ocp-Apim-Subscription-Key" not in request.headers


def test_bearer_token_is_renewed_five_minutes_before_expiry():
    credential = FakeCredential()
    clock = [credential.now]
    auth = TokenCredentialAuth(credential, clock=lambda: clock[0])

    assert auth._get_token() == "token-1"
    clock[0] = credential.now + 3600 - 301  # still more than 5 minutes left
    assert auth._get_token() == "token-1"
    clock[0] = credential.now + 3600 - 299  # less than 5 minutes left
    assert auth._get_token() == "token-2"
    assert len(credential.calls) == 2


def test_a_401_with_a_cached_token_fetches_a_new_token_and_tries_once_more(service, make_client):
    credential = FakeCredential()
    service.add(json_response(401, {"error": {"code": "Unauthorized", "message": "expired"}}), json_response(200, JOB))

    make_client(credential=credential).get_translation_status("job-1")

    assert [request.headers["Authorization"] for request in service.requests] == ["Bearer token-1", "Bearer token-2"]


def test_an_object_that_is_neither_key_nor_credential_is_refused():
    with pytest.raises(TypeError, match="TokenCredential"):
        DocumentTranslationClient(ENDPOINT, object())


def test_from_config_uses_the_key_and_api_version():
    with DocumentTranslationClient.from_config(
        TranslatorConfig(ENDPOINT, key=KEY, api_version="v1.1", region="westeurope")
    ) as client:
        assert client.api_version == "v1.1"
        assert client.endpoint == ENDPOINT
        assert "auth='key'" in repr(client) and KEY not in repr(client)


def test_from_config_without_key_uses_the_given_credential(service):
    import httpx

    credential = FakeCredential()
    service.add(json_response(200, JOB))
    with DocumentTranslationClient.from_config(
        TranslatorConfig(ENDPOINT), credential, transport=httpx.MockTransport(service.handler)
    ) as client:
        client.get_translation_status("job-1")
    assert service.requests[0].headers["Authorization"] == "Bearer token-1"


def test_from_config_without_key_or_credential_is_refused():
    with pytest.raises(ValueError, match="needs a key or a TokenCredential"):
        DocumentTranslationClient.from_config(TranslatorConfig(ENDPOINT))


def test_the_config_repr_never_shows_the_key():
    assert KEY not in repr(TranslatorConfig(ENDPOINT, key=KEY))


def test_a_credential_that_cannot_give_a_token_is_an_authentication_error(service, make_client):
    class Broken:
        def get_token(self, *scopes, **kwargs):
            raise RuntimeError("no managed identity endpoint available")

    with pytest.raises(AuthenticationError, match="no managed identity endpoint"):
        make_client(credential=Broken()).get_translation_status("job-1")
    assert service.requests == []
