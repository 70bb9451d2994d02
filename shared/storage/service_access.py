"""The blob URLs handed to Document Translation, in the access mode the settings choose.

SAS mode: least privilege and short-lived - read on the source blob, write+list on the target
container, read+list on the glossary container. Signed with the account key when the connection
has one (Azurite), otherwise with a user-delegation key from the app's identity.
Managed-identity mode: plain URLs; the Translator's own identity holds a storage role, and a
SAS on such a request would make it fail.
"""

from __future__ import annotations

import logging
import threading
from datetime import UTC, datetime, timedelta
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

# Clock skew between us, storage and the service must not make a fresh SAS "not yet valid".
_START_SKEW = timedelta(minutes=5)


class ServiceAccess:
    def __init__(self, settings: Settings, clients: StorageClients, *, now=lambda: datetime.now(UTC)):
        self._settings = settings
        self._clients = clients
        self._now = now
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
        return self._for_service(container, name, generate_blob_sas, BlobSasPermissions(read=True), blob_name=name)

    def target_url(self, container: str, name: str) -> str:
        # One file as target: the URL names the file, the SAS is on the container (write+list).
        return self._for_service(
            container, name, generate_container_sas, ContainerSasPermissions(write=True, list=True)
        )

    def glossary_url(self, container: str, name: str) -> str:
        return self._for_service(container, name, generate_container_sas, ContainerSasPermissions(read=True, list=True))

    def _for_service(self, container: str, name: str, generate, permission, **scope: str) -> str:
        url = self.blob_url(container, name)
        if not self.uses_sas:
            return url
        now = self._now()
        signing = (
            {"account_key": self._clients.blob_service.credential.account_key}
            if self._clients.uses_account_key
            else {"user_delegation_key": self._user_delegation_key(), "protocol": "https"}
        )
        sas = generate(
            account_name=self._clients.blob_service.account_name,
            container_name=container,
            permission=permission,
            start=now - _START_SKEW,
            expiry=now + timedelta(minutes=self._settings.sas_expiry_minutes),
            **scope,
            **signing,
        )
        return f"{url}?{sas}"

    def _user_delegation_key(self) -> UserDelegationKey:
        # A delegation key may be valid for up to 7 days; we ask for one a day and renew it
        # well before any SAS signed with it could outlive it.
        with self._lock:
            now = self._now()
            needed_until = now + timedelta(minutes=self._settings.sas_expiry_minutes)
            if (
                self._delegation_key is None
                or self._delegation_key_expiry is None
                or self._delegation_key_expiry < needed_until
            ):
                expiry = now + timedelta(days=1, minutes=self._settings.sas_expiry_minutes)
                self._delegation_key = self._clients.blob_service.get_user_delegation_key(now - _START_SKEW, expiry)
                self._delegation_key_expiry = expiry
                logger.info("obtained a user-delegation key valid until %s", expiry.isoformat())
            return self._delegation_key
