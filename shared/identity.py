"""The app's Entra identity: one DefaultAzureCredential, built when the first token is asked for.

Storage and the Translator both authenticate with it, so both name the same managed identity
(`Settings.identity_client_id`).
"""

from __future__ import annotations

import threading
from typing import Any


class LazyDefaultAzureCredential:
    """DefaultAzureCredential built on the first token request, never at import or client creation
    (building it probes the environment, and a failure there must not stop the app from loading)."""

    def __init__(self, managed_identity_client_id: str | None) -> None:
        self._client_id = managed_identity_client_id
        self._credential: Any = None
        self._lock = threading.Lock()

    def get_token(self, *scopes: str, **kwargs: Any) -> Any:
        return self._built().get_token(*scopes, **kwargs)

    def _built(self) -> Any:
        with self._lock:
            if self._credential is None:
                from azure.identity import DefaultAzureCredential

                self._credential = DefaultAzureCredential(managed_identity_client_id=self._client_id)
            return self._credential

    def __repr__(self) -> str:
        return f"LazyDefaultAzureCredential(managed_identity_client_id={self._client_id!r})"


def app_credential(managed_identity_client_id: str | None) -> LazyDefaultAzureCredential:
    """The credential of the app's code; None: the system-assigned identity (or a developer's login)."""
    return LazyDefaultAzureCredential(managed_identity_client_id)
