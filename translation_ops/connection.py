"""Which deployment the tool talks to: the local stack's settings, or an Azure storage account."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass

from devstack.local_settings import merged_environment
from shared.pipeline.context import PipelineContext
from shared.settings import STORAGE_CONNECTION, Settings

AZURE_STORAGE_SUFFIX = "core.windows.net"
DEAD_LETTER_CONTAINER = "eventgrid-deadletter"


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
        return PipelineContext(Settings.from_env(self.environment()))
