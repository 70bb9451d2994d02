"""A binding's `connection`, resolved the way the storage extensions resolve it: a connection string,
or an identity-based connection (`<NAME>__blobServiceUri`, `__queueServiceUri`, `__serviceUri`,
`__accountName`, `__credential`, `__clientId`).

The rules follow the extensions' shared `StorageClientProvider` (Microsoft.Azure.WebJobs.Extensions.Clients):
a setting holding a value is a connection string and wins; otherwise the `<NAME>__*` settings form a
section, where `accountName` gives `https://<account>.<service>.core.windows.net`, else
`<service>ServiceUri`, else `serviceUri` (the client constructor's own parameter, which the Azure
component factory binds). Its credential comes from the same section: `credential=managedidentity`
(with `clientId` for a user-assigned identity), a client secret (`tenantId`, `clientId`,
`clientSecret`), or else the default chain. Setting names are case-insensitive, as in .NET
configuration.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from azure.core.credentials import TokenCredential
from azure.storage.blob import BlobServiceClient, ContainerClient
from azure.storage.queue import QueueClient

from devstack.host.config import DEFAULT_CONNECTION, HostConfigError

SECTION_SEPARATOR = "__"
# The Functions host tries the name as given, then with this prefix (so "Storage" finds AzureWebJobsStorage).
WEBJOBS_PREFIX = "AzureWebJobs"
STORAGE_ENDPOINT_SUFFIX = "core.windows.net"
MANAGED_IDENTITY = "managedidentity"


@dataclass(frozen=True)
class StorageConnection:
    """Where a binding's storage is and how to authenticate to it; never logged with its secret."""

    # The app setting the connection was found under: what the worker's SDK-type converter reads.
    setting: str
    connection_string: str | None = field(default=None, repr=False)
    # The `<setting>__*` section of an identity-based connection, keys lower-cased.
    section: Mapping[str, str] = field(default_factory=dict, repr=False)

    @property
    def uses_identity(self) -> bool:
        return self.connection_string is None

    def service_uri(self, service: str) -> str:
        """The account endpoint for `service` ("blob", "queue") of an identity-based connection."""
        account = self.section.get("accountname")
        if account:
            return f"https://{account}.{service}.{STORAGE_ENDPOINT_SUFFIX}"
        uri = self.section.get(f"{service}serviceuri") or self.section.get("serviceuri")
        if not uri:
            raise HostConfigError(
                f"connection {self.setting!r} is identity-based but names no {service} endpoint: set "
                f"{self.setting}__{service}ServiceUri (or __serviceUri, or __accountName)"
            )
        return uri

    def credential(self) -> TokenCredential:
        """The token credential the section asks for, as Azure's component factory builds it."""
        import azure.identity  # only identity-based connections need it

        kind = (self.section.get("credential") or "").lower()
        client_id = self.section.get("clientid") or None
        if kind == MANAGED_IDENTITY:
            return azure.identity.ManagedIdentityCredential(client_id=client_id)
        tenant_id, secret = self.section.get("tenantid"), self.section.get("clientsecret")
        if tenant_id and client_id and secret:
            return azure.identity.ClientSecretCredential(tenant_id, client_id, secret)
        return azure.identity.DefaultAzureCredential()

    def blob_service(self, **options: Any) -> BlobServiceClient:
        if self.connection_string is not None:
            return BlobServiceClient.from_connection_string(self.connection_string, **options)
        return BlobServiceClient(self.service_uri("blob"), credential=self.credential(), **options)

    def container(self, name: str, **options: Any) -> ContainerClient:
        if self.connection_string is not None:
            return ContainerClient.from_connection_string(self.connection_string, name, **options)
        return ContainerClient(self.service_uri("blob"), name, credential=self.credential(), **options)

    def queue(self, name: str, **options: Any) -> QueueClient:
        if self.connection_string is not None:
            return QueueClient.from_connection_string(self.connection_string, name, **options)
        return QueueClient(self.service_uri("queue"), name, credential=self.credential(), **options)


def resolve_connection(connection: str | None, env: Mapping[str, str], *, function_name: str) -> StorageConnection:
    """The storage a binding's `connection` names (the host's default storage when it names none)."""
    name = connection or DEFAULT_CONNECTION
    candidates = (name,) if name.startswith(WEBJOBS_PREFIX) else (name, WEBJOBS_PREFIX + name)
    by_lower_name = {key.lower(): key for key in env}
    for candidate in candidates:
        key = by_lower_name.get(candidate.lower())
        value = (env.get(key) or "").strip() if key else ""
        if value:
            return StorageConnection(setting=key or candidate, connection_string=value)
        prefix = (candidate + SECTION_SEPARATOR).lower()
        section = {
            key[len(prefix) :].lower(): str(value)
            for key, value in env.items()
            if key.lower().startswith(prefix) and str(value).strip()
        }
        if section:
            return StorageConnection(setting=candidate, section=section)
    raise HostConfigError(
        f"function {function_name!r}: connection {name!r} is not set: put a storage connection string in "
        f"app setting {name}, or describe an identity-based connection with {name}__blobServiceUri and "
        f"{name}__queueServiceUri (local.settings.json Values or the environment)"
    )
