"""What the client needs to know of its deployment, and nothing else of the app's settings."""

from __future__ import annotations

from dataclasses import dataclass

from shared.translator.routes import DEFAULT_API_VERSION


@dataclass(frozen=True, repr=False)
class TranslatorConfig:
    """The Translator resource and how long one call may take; `key` None means token auth."""

    endpoint: str
    key: str | None = None
    region: str | None = None
    api_version: str = DEFAULT_API_VERSION
    timeout_seconds: float = 30.0
    # How long one call may keep retrying (429, 5xx, connection refused).
    retry_budget_seconds: float = 60.0

    def __repr__(self) -> str:  # the key must never reach a log line
        return (
            f"TranslatorConfig(endpoint={self.endpoint!r}, key={'***' if self.key else None}, "
            f"region={self.region!r}, api_version={self.api_version!r})"
        )
