"""Which deployment the tool talks to: the local stack's settings, or an Azure storage account."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from shared.local_settings import merged_environment
from shared.pipeline.context import PipelineContext
from shared.settings import STORAGE_CONNECTION, Settings
from shared.storage.clients import CallLimits, StorageClients

AZURE_STORAGE_SUFFIX = "core.windows.net"
DEAD_LETTER_CONTAINER = "eventgrid-deadletter"
# A person waits at the terminal: storage out of reach is told within about 5 s (a refused
# connection at once, a connection never answered after 2 + 1 + 2 s), not after the app's retries.
OPERATOR_CALL_LIMITS = CallLimits(retries=1, connection_timeout_seconds=2, read_timeout_seconds=10, backoff_seconds=1)


@dataclass(frozen=True)
class Target:
    """`account`: an Azure storage account name (identity-based access); None for the local stack."""

    account: str | None = None
    translator_endpoint: str | None = None

    def environment(self, base: Mapping[str, str] | None = None) -> dict[str, str]:
        base = dict(os.environ if base is None else base)
        if self.account is None:
            # local.settings.json, else the sample, for what the environment lacks (as the local host does)
            values = merged_environment({}, base)
        else:
            values = dict(base)
            values.pop(STORAGE_CONNECTION, None)
            for service in ("blob", "queue", "table"):
                values[f"{STORAGE_CONNECTION}__{service}ServiceUri"] = (
                    f"https://{self.account}.{service}.{AZURE_STORAGE_SUFFIX}"
                )
            # DefaultAzureCredential: the operator's `az login`, never a key.
            values.pop("TRANSLATOR_KEY", None)
            values.setdefault("TRANSLATOR_ENDPOINT", "https://translator.invalid")
        if self.translator_endpoint:
            values["TRANSLATOR_ENDPOINT"] = self.translator_endpoint
        return values

    def context(self) -> PipelineContext:
        settings = Settings.from_env(self.environment())
        return PipelineContext(settings, storage=StorageClients(settings, limits=OPERATOR_CALL_LIMITS))

    @property
    def storage_name(self) -> str:
        if self.account is not None:
            return f"storage account {self.account}"
        return f"the local stack's storage ({_blob_endpoint(self.environment()) or 'TRANSLATION_STORAGE'})"

    @property
    def unreachable_advice(self) -> str:
        if self.account is not None:
            return "check the account name, your network (VPN, proxy) and the account's firewall"
        return "start the local stack (`make up`), or point TRANSLATION_STORAGE at a running one"

    @property
    def denied_advice(self) -> str:
        if self.account is not None:
            return (
                "your login needs data roles on the account (Storage Blob Data Contributor, Storage Table "
                "Data Contributor, Storage Queue Data Contributor), and the firewall must let you in"
            )
        return "check the account key in TRANSLATION_STORAGE (local.settings.json)"


def _blob_endpoint(environment: Mapping[str, str]) -> str | None:
    """The blob endpoint of a connection string, to name it (never the whole string: it has the key)."""
    fields = {}
    for part in (environment.get(STORAGE_CONNECTION) or "").split(";"):
        name, _, value = part.partition("=")
        fields[name.strip().lower()] = value.strip()
    return fields.get("blobendpoint") or fields.get("accountname")
