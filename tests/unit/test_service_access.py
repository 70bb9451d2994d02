"""The URLs handed to the service in each access mode."""

from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

from azure.storage.blob import UserDelegationKey

from shared.settings import Settings
from shared.storage.clients import StorageClients
from shared.storage.service_access import ServiceAccess

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
AZURITE = (
    "DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;"
    "AccountKey=Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==;"
    "BlobEndpoint=http://127.0.0.1:10000/devstoreaccount1;"
)
IDENTITY = {
    "TRANSLATION_STORAGE__blobServiceUri": "https://acct.blob.core.windows.net",
    "TRANSLATION_STORAGE__queueServiceUri": "https://acct.queue.core.windows.net",
    "TRANSLATION_STORAGE__tableServiceUri": "https://acct.table.core.windows.net",
}


class StaticTokenCredential:
    def get_token(self, *scopes, **kwargs):
        from azure.core.credentials import AccessToken

        return AccessToken("token", 2_000_000_000)


def access(env: dict[str, str]) -> tuple[ServiceAccess, StorageClients]:
    settings = Settings.from_env({"TRANSLATOR_ENDPOINT": "https://t.cognitiveservices.azure.com", **env})
    clients = StorageClients(settings, credential=StaticTokenCredential())  # type: ignore[arg-type]
    return ServiceAccess(settings, clients, now=lambda: NOW), clients


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def test_sas_mode_signs_least_privilege_short_lived_urls():
    service_access, _ = access(
        {"TRANSLATION_STORAGE": AZURITE, "SAS_EXPIRY_MINUTES": "30", "STUCK_JOB_AFTER_MINUTES": "20"}
    )
    source = query(service_access.source_url("source", "a b/c.txt"))
    target = query(service_access.target_url("target", "fr/a b/c.txt"))
    glossary = query(service_access.glossary_url("glossaries", "fr.csv"))
    assert (source["sp"], source["sr"]) == ("r", "b")
    assert (target["sp"], target["sr"]) == ("wl", "c")
    assert (glossary["sp"], glossary["sr"]) == ("rl", "c")
    assert source["se"] == "2026-11-23T12:30:00Z"
    assert (
        urlsplit(service_access.target_url("target", "fr/a b/c.txt")).path == "/devstoreaccount1/target/fr/a%20b/c.txt"
    )


def test_managed_identity_mode_hands_over_plain_urls():
    service_access, _ = access({**IDENTITY, "STORAGE_ACCESS_MODE": "managed-identity"})
    for url in (
        service_access.source_url("source", "a.txt"),
        service_access.target_url("target", "fr/a.txt"),
        service_access.glossary_url("glossaries", "fr.csv"),
    ):
        assert urlsplit(url).query == ""  # a SAS with managed identity makes the request fail
    assert service_access.source_url("source", "a.txt") == "https://acct.blob.core.windows.net/source/a.txt"


def test_sas_mode_under_an_identity_signs_with_a_user_delegation_key_asked_for_once(monkeypatch):
    service_access, clients = access({**IDENTITY, "STORAGE_ACCESS_MODE": "sas"})
    requests = []

    def fake_delegation_key(start, expiry):
        requests.append((start, expiry))
        key = UserDelegationKey()
        key.signed_oid, key.signed_tid = "oid", "tid"
        key.signed_start, key.signed_expiry = start.isoformat(), expiry.isoformat()
        key.signed_service, key.signed_version = "b", "2025-01-05"
        key.value = "dGVzdC1rZXk="
        return key

    monkeypatch.setattr(clients.blob_service, "get_user_delegation_key", fake_delegation_key)
    first = query(service_access.source_url("source", "a.txt"))
    service_access.target_url("target", "fr/a.txt")
    assert len(requests) == 1
    assert first["skoid"] == "oid" and first["spr"] == "https"
    assert requests[0][1] - NOW > timedelta(days=1)


def test_no_sas_carries_a_start_time_so_a_fast_clock_cannot_make_it_not_yet_valid():
    service_access, _ = access({"TRANSLATION_STORAGE": AZURITE})
    for url in (
        service_access.source_url("source", "a.txt"),
        service_access.target_url("target", "fr/a.txt"),
        service_access.glossary_url("glossaries", "fr.csv"),
        service_access.copy_source_url("target", ".inflight/k-1/fr.txt"),
    ):
        assert "st" not in query(url)


def test_the_apps_own_copies_get_a_short_read_sas_in_every_mode():
    service_access, _ = access({"TRANSLATION_STORAGE": AZURITE, "STORAGE_ACCESS_MODE": "managed-identity"})
    copy = query(service_access.copy_source_url("target", ".inflight/k-1/fr.txt"))
    assert (copy["sp"], copy["sr"]) == ("r", "b")
    assert copy["se"] == "2026-11-23T12:30:00Z"
