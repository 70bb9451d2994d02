"""The context wires the parts: the Translator client from the settings, with the app's identity."""

from __future__ import annotations

import pytest

from shared.pipeline.context import translator_client
from shared.settings import Settings

ENDPOINT = "https://contoso-translator.cognitiveservices.azure.com"


def settings(**overrides: str) -> Settings:
    env = {"TRANSLATION_STORAGE": "UseDevelopmentStorage=true", "TRANSLATOR_ENDPOINT": ENDPOINT, **overrides}
    return Settings.from_env(env)


def test_the_translator_client_without_a_key_defers_default_azure_credential(monkeypatch):
    import azure.identity

    built: list[str | None] = []

    class NotYet:
        def __init__(self, managed_identity_client_id=None):
            built.append(managed_identity_client_id)

    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", NotYet)
    with translator_client(settings(AZURE_CLIENT_ID="client-123")) as client:
        assert "auth='token'" in repr(client)
    assert built == []  # nothing probed the environment until a token is needed


def test_the_translator_client_is_told_the_settings_timeouts_and_route():
    with translator_client(
        settings(TRANSLATOR_KEY="k" * 32, TRANSLATOR_API_VERSION="v1.1", TRANSLATOR_TIMEOUT_SECONDS="7")
    ) as client:
        assert (client.api_version, client.endpoint) == ("v1.1", ENDPOINT)
        assert client._retry.total_budget_seconds == 14


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"AZURE_CLIENT_ID": "app-id"}, "app-id"),
        ({"AZURE_CLIENT_ID": "app-id", "TRANSLATION_STORAGE__clientId": "storage-id"}, "storage-id"),
        ({}, None),
    ],
)
def test_storage_and_the_translator_name_one_identity(overrides, expected):
    assert settings(**overrides).identity_client_id == expected
