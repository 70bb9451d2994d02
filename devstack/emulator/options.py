"""Every knob of the emulator, with defaults fast enough for tests."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

MEGABYTE = 1024 * 1024
LOST_ANSWER_MODES = ("500", "503", "reset")


@dataclass(frozen=True)
class EmulatorOptions:
    key: str = "emulator-key"
    region: str | None = None
    # When set, `Authorization: Bearer <token>` is accepted as well as the key.
    bearer_token: str | None = None
    # Credential for managed-identity mode (URLs without a SAS); None: such jobs fail validation.
    storage_connection_string: str | None = None
    # Requests per second over all service routes; None: unlimited.
    rate_limit: float | None = None
    # Fraction of service requests answered 500/503 instead of being handled.
    fault_rate: float = 0.0
    # Fraction of start-batch calls whose job is created and whose answer is then lost:
    # a 500, a 503, or the connection dropped mid-answer ("reset").
    lost_answer_rate: float = 0.0
    lost_answer_modes: tuple[str, ...] = LOST_ANSWER_MODES
    # A new job is not listed (and lists no documents) for this long after it was created.
    list_delay_seconds: float = 0.0
    # Where jobs are kept so they survive a restart (None: in memory only).
    state_dir: Path | None = None
    latency_ms: int = 0
    chars_per_second: float = 1_000_000
    # Minimum time one document takes, whatever its size.
    document_seconds: float = 0.05
    # A document's status says Succeeded this long after its translation is written (the service's
    # status can lag the write that raised the blob event).
    status_lag_seconds: float = 0.0
    # Where each written translation's BlobCreated event is POSTed, as Event Grid would (None: nowhere).
    announce_writes_to: str | None = None
    seed: int = 0
    # Background threads running jobs (jobs run in parallel across them) ...
    workers: int = 4
    # ... and how many of one job's source documents each translates at once.
    documents_in_parallel: int = 8
    # Service limits (SERVICE_NOTES.md); tests shrink them to exercise the errors cheaply.
    max_document_bytes: int = 40 * MEGABYTE
    max_batch_bytes: int = 250 * MEGABYTE
    max_documents: int = 1000
    max_glossary_bytes: int = 10 * MEGABYTE
    max_target_languages: int = 10
    # Retry-After (seconds) answered with job status, 429 and 503.
    retry_after_seconds: int = 1

    def __post_init__(self) -> None:
        if not self.key:
            raise ValueError("the emulator needs a non-empty key")
        for name in ("fault_rate", "lost_answer_rate"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be within 0.0..1.0, got {getattr(self, name)}")
        unknown = set(self.lost_answer_modes) - set(LOST_ANSWER_MODES)
        if unknown or not self.lost_answer_modes:
            raise ValueError(
                f"lost_answer_modes must be some of {', '.join(LOST_ANSWER_MODES)}, got {unknown or 'none'}"
            )
        if self.list_delay_seconds < 0:
            raise ValueError("list_delay_seconds cannot be negative")
        if self.rate_limit is not None and self.rate_limit <= 0:
            raise ValueError(f"rate_limit must be positive, got {self.rate_limit}")
        if self.chars_per_second <= 0:
            raise ValueError(f"chars_per_second must be positive, got {self.chars_per_second}")
        if self.document_seconds < 0 or self.latency_ms < 0:
            raise ValueError("document_seconds and latency_ms cannot be negative")
        if self.workers < 1 or self.documents_in_parallel < 1:
            raise ValueError("the emulator needs at least one worker, translating at least one document at a time")

    def __repr__(self) -> str:
        # The key, token and connection string never belong in a log line.
        return (
            f"EmulatorOptions(region={self.region!r}, rate_limit={self.rate_limit}, fault_rate={self.fault_rate}, "
            f"latency_ms={self.latency_ms}, lost_answer_rate={self.lost_answer_rate}, "
            f"list_delay_seconds={self.list_delay_seconds}, state_dir={self.state_dir}, "
            f"chars_per_second={self.chars_per_second}, "
            f"document_seconds={self.document_seconds}, seed={self.seed}, workers={self.workers}, "
            f"documents_in_parallel={self.documents_in_parallel})"
        )
