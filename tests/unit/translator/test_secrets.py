"""No SAS signature, key or bearer token reaches a log record, an exception message or a repr."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import httpx
import pytest

from shared.translator import (
    DocumentTranslationClient,
    InvalidRequestError,
    RetryPolicy,
    ServiceUnreachableError,
    SubmissionUncertainError,
    TranslationInput,
    TranslationTarget,
)
from shared.translator.auth import SubscriptionKeyAuth, TokenCredentialAuth
from tests.unit.translator.conftest import ENDPOINT, KEY, SAS_SIG, SOURCE_SAS_URL, TARGET_SAS_URL, json_response

BEARER = "eyJ0eXAiOiJKV1QiLCJhbGciOiJSUzI1NiJ9.PAYLOAD.SIGNATURE"
INPUTS = [TranslationInput(SOURCE_SAS_URL, (TranslationTarget(TARGET_SAS_URL, "fr"),))]


@dataclass
class Token:
    token: str
    expires_on: int


class Credential:
    def get_token(self, *scopes, **kwargs):
        return Token(BEARER, int(time.time()) + 3600)


def secrets_in(text: str) -> list[str]:
    return [secret for secret in (SAS_SIG, KEY, BEARER, "SECRETSIGNATURE") if secret in text]


@pytest.mark.parametrize("credential", [KEY, Credential()], ids=["key", "bearer"])
def test_a_whole_session_of_calls_and_failures_leaks_no_secret(credential, service, make_client, caplog, fake_time):
    # The service echoes the SAS URL in an error, hands a next link carrying a signature,
    # fails a submission with 503 and a read with a transport error whose text has the URL.
    echo = f"Cannot access source document {SOURCE_SAS_URL}"
    service.add(
        json_response(
            400, {"error": {"code": "InvalidRequest", "message": echo, "innerError": {"code": "X", "message": echo}}}
        ),
        json_response(503, {"error": {"code": "ServiceUnavailable", "message": echo}}),
        json_response(
            200,
            {
                "value": [{"id": "j1", "status": "Running"}],
                "nextLink": f"{ENDPOINT}/translator/document/batches?skip=1&sig={SAS_SIG}",
            },
        ),
        json_response(200, {"value": []}),
        httpx.ReadError(f"connection reset reading {SOURCE_SAS_URL}"),
    )
    errors: list[Exception] = []
    with caplog.at_level(logging.DEBUG):
        client = make_client(credential=credential, retry=RetryPolicy(max_attempts=1, sleep=fake_time.sleep))
        with pytest.raises(InvalidRequestError) as invalid:
            client.begin_translation(INPUTS)
        errors.append(invalid.value)
        with pytest.raises(SubmissionUncertainError) as uncertain:
            client.begin_translation(INPUTS)
        errors.append(uncertain.value)
        assert [job.id for job in client.list_translation_statuses()] == ["j1"]
        with pytest.raises(ServiceUnreachableError) as transport:
            client.get_translation_status("j1")
        errors.append(transport.value)
        logging.getLogger("tests").info("operator line: %r %r", client, errors)

    assert caplog.records, "the client should log its requests"
    for record in caplog.records:
        assert secrets_in(record.getMessage()) == [], record.getMessage()
    for error in errors:
        assert secrets_in(str(error)) == [] and secrets_in(repr(error)) == [] and secrets_in(error.message) == []
    assert "Cannot access source document" in str(invalid.value)
    assert secrets_in(repr(client)) == []
    # The request did carry the secrets, so the checks above could have failed.
    sent = service.requests[0]
    assert SAS_SIG in sent.content.decode()
    assert KEY in sent.headers.get("Ocp-Apim-Subscription-Key", "") or BEARER in sent.headers.get("Authorization", "")


def test_auth_reprs_hide_the_key_and_token():
    assert KEY not in repr(SubscriptionKeyAuth(KEY, "westeurope"))
    auth = TokenCredentialAuth(Credential())
    auth._get_token()
    assert BEARER not in repr(auth)


def test_client_repr_hides_the_key():
    with DocumentTranslationClient(ENDPOINT, KEY) as client:
        assert KEY not in repr(client)
