"""Blob access the way the service does it: through the URLs in the request.

A URL with a SAS is used with that SAS alone, so Azurite's permission checks decide what
the emulator may do. A URL without a query string is managed-identity mode: the emulator
stands in for the Translator's identity with the account key of `--storage-connection-string`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, quote, unquote, urlsplit

from azure.core.credentials import AzureNamedKeyCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.storage.blob import ContainerClient

from shared.redaction import redact, redact_url
from shared.storage.clients import pooled_transport

logger = logging.getLogger(__name__)

# The emulator's storage calls fail fast: a job that cannot reach storage fails validation.
# The user agent tells the emulator's storage calls (the service's own work) from the app's.
USER_AGENT = "document-translation-emulator"
_CLIENT_OPTIONS: dict[str, Any] = {
    "retry_total": 1,
    "connection_timeout": 5,
    "read_timeout": 60,
    "user_agent": USER_AGENT,
}


class StorageAccessError(Exception):
    """Storage refused or could not be reached; `not_found` when the container or blob is missing."""

    def __init__(self, message: str, *, not_found: bool = False):
        super().__init__(message)
        self.not_found = not_found


@dataclass(frozen=True)
class BlobLocation:
    """A container URL, a virtual folder in it, or one blob, split the way the service reads it."""

    account_url: str  # scheme://host[:port][/account] (path-style for Azurite and IP hosts)
    container: str
    path: str  # blob name or folder prefix within the container; "" for the container itself
    sas: str  # the query string, "" in managed-identity mode

    @classmethod
    def parse(cls, url: str) -> BlobLocation:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"not an absolute http(s) URL: {redact_url(url)}")
        segments = parts.path.lstrip("/").split("/")
        host = parts.hostname or ""
        account_prefix = ""
        if _is_path_style(host):
            account_prefix = "/" + segments.pop(0) if segments else ""
        if not segments or not segments[0]:
            raise ValueError(f"the URL names no container: {redact_url(url)}")
        container = unquote(segments[0])
        path = unquote("/".join(segments[1:]))
        return cls(f"{parts.scheme}://{parts.netloc}{account_prefix}", container, path, parts.query)

    @property
    def folder_prefix(self) -> str:
        """`path` as a folder prefix ("docs/" or "")."""
        return self.path.rstrip("/") + "/" if self.path.strip("/") else ""

    def container_url(self) -> str:
        return f"{self.account_url}/{quote(self.container)}"

    def blob_url(self, blob_name: str) -> str:
        """The blob's URL without any query string (what the service reports as `path`)."""
        return f"{self.container_url()}/{quote(blob_name, safe='/')}"

    def sas_permissions(self) -> str | None:
        """The `sp` field of the SAS, None without a SAS."""
        if not self.sas:
            return None
        return parse_qs(self.sas).get("sp", [""])[0]


def _is_path_style(host: str) -> bool:
    # Azure puts the account in the host name (<account>.blob.core.windows.net); Azurite, IP
    # addresses and other emulators put it in the first path segment.
    return ".blob." not in host


def _connection_string_credential(connection_string: str) -> AzureNamedKeyCredential:
    fields = dict(part.split("=", 1) for part in connection_string.split(";") if "=" in part)
    try:
        return AzureNamedKeyCredential(fields["AccountName"], fields["AccountKey"])
    except KeyError as exc:
        raise ValueError("the storage connection string needs AccountName and AccountKey") from exc


class StorageGateway:
    """Makes container clients for request URLs, with the SAS they carry or the emulator's identity."""

    def __init__(self, connection_string: str | None):
        self._identity = _connection_string_credential(connection_string) if connection_string else None

    def container(self, location: BlobLocation) -> ContainerClient:
        if location.sas:
            credential: str | AzureNamedKeyCredential = location.sas
        elif self._identity is not None:
            credential = self._identity
        else:
            raise StorageAccessError(
                "the URL carries no SAS and the emulator has no managed identity "
                "(start it with --storage-connection-string)"
            )
        return ContainerClient(
            location.account_url,
            location.container,
            credential=credential,
            transport=pooled_transport(),
            **_CLIENT_OPTIONS,
        )


def describe(exc: Exception) -> StorageAccessError:
    """A StorageAccessError for an Azure SDK failure, its message free of secrets."""
    if isinstance(exc, StorageAccessError):
        return exc
    if isinstance(exc, ResourceNotFoundError):
        return StorageAccessError(f"not found ({_error_code(exc)})", not_found=True)
    if isinstance(exc, HttpResponseError):
        return StorageAccessError(f"storage answered {exc.status_code} ({_error_code(exc)})")
    if isinstance(exc, AzureError):
        return StorageAccessError(redact(f"storage could not be reached: {type(exc).__name__}"))
    return StorageAccessError(redact(f"{type(exc).__name__}: {exc}"))


def _error_code(exc: HttpResponseError) -> str:
    return str(getattr(exc, "error_code", None) or exc.reason or "unknown")
