"""The blob URLs handed to Document Translation, in the access mode the settings choose.

SAS mode: least privilege and short-lived - read on the source blob, write+list on the target
container, read+list on the glossary container. Signed with the account key when the connection
has one (Azurite), otherwise with a user-delegation key from the app's identity.
Managed-identity mode: plain URLs; the Translator's own identity holds a storage role, and a
SAS on such a request would make it fail.

No SAS carries a start time: a SAS without one is valid as soon as storage receives it, so a
clock running ahead of storage's (seen: 7 minutes) cannot make a fresh SAS "not yet valid".
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

from azure.storage.blob import (
    BlobSasPermissions,
    ContainerSasPermissions,
    UserDelegationKey,
    generate_blob_sas,
    generate_container_sas,
)

from shared.settings import Settings, StorageAccessMode
from shared.storage.clients import StorageClients

logger = logging.getLogger(__name__)

# A user-delegation key may start in the past: this much covers any clock skew seen in practice.
_DELEGATION_KEY_BACKDATE = timedelta(hours=1)
# The app's own copies (staging -> published translation) finish in seconds.
_COPY_SAS_LIFETIME = timedelta(minutes=30)


class ServiceAccess:
    def __init__(self, settings: Settings, clients: StorageClients, *, now: Callable[[], datetime] | None = None):
        self._settings = settings
        self._clients = clients
        self._now = now or (lambda: datetime.now(UTC))
        self._delegation_key: UserDelegationKey | None = None
        self._delegation_key_expiry: datetime | None = None
        self._lock = threading.Lock()

    @property
    def uses_sas(self) -> bool:
        return self._settings.storage_access_mode is StorageAccessMode.SAS

    def blob_url(self, container: str, name: str) -> str:
        """The plain URL of a blob (no query): how the service reports source and target paths."""
        base = self._clients.blob_service.url.rstrip("/")
        return f"{base}/{container}/{quote(name, safe='/~')}"

    def source_url(self, container: str, name: str) -> str:
        if not self.uses_sas:
            return self.blob_url(container, name)
        return self._signed(container, name, BlobSasPermissions(read=True), self._service_lifetime(), blob=True)

    def target_url(self, container: str, name: str) -> str:
        # One file as target: the URL names the file, the SAS is on the container (write+list).
        if not self.uses_sas:
            return self.blob_url(container, name)
        permission = ContainerSasPermissions(write=True, list=True)
        return self._signed(container, name, permission, self._service_lifetime(), blob=False)

    def glossary_url(self, container: str, name: str) -> str:
        if not self.uses_sas:
            return self.blob_url(container, name)
        permission = ContainerSasPermissions(read=True, list=True)
        return self._signed(container, name, permission, self._service_lifetime(), blob=False)

    def copy_source_url(self, container: str, name: str) -> str:
        """A short-lived read SAS for the app's own server-side copies, in every access mode: Copy
        Blob reads its source through the URL it is given."""
        return self._signed(container, name, BlobSasPermissions(read=True), _COPY_SAS_LIFETIME, blob=True)

    def _service_lifetime(self) -> timedelta:
        return timedelta(minutes=self._settings.sas_expiry_minutes)

    def _signed(self, container: str, name: str, permission: Any, lifetime: timedelta, *, blob: bool) -> str:
        url = self.blob_url(container, name)
        expiry = self._now() + lifetime
        signing: dict[str, Any] = (
            {"account_key": self._clients.blob_service.credential.account_key}
            if self._clients.uses_account_key
            else {"user_delegation_key": self._user_delegation_key(expiry), "protocol": "https"}
        )
        scope = {"blob_name": name} if blob else {}
        generate: Callable[..., str] = generate_blob_sas if blob else generate_container_sas
        sas = generate(
            account_name=self._clients.blob_service.account_name,
            container_name=container,
            permission=permission,
            expiry=expiry,
            **scope,
            **signing,
        )
        return f"{url}?{sas}"

    def _user_delegation_key(self, needed_until: datetime) -> UserDelegationKey:
        # A delegation key may be valid for up to 7 days; we ask for one a day and renew it
        # well before any SAS signed with it could outlive it.
        with self._lock:
            now = self._now()
            if (
                self._delegation_key is None
                or self._delegation_key_expiry is None
                or self._delegation_key_expiry < needed_until
            ):
                expiry = now + timedelta(days=1, minutes=self._settings.sas_expiry_minutes)
                self._delegation_key = self._clients.blob_service.get_user_delegation_key(
                    now - _DELEGATION_KEY_BACKDATE, expiry
                )
                self._delegation_key_expiry = expiry
                logger.info("obtained a user-delegation key valid until %s", expiry.isoformat())
            return self._delegation_key
