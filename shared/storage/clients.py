"""Storage SDK clients for the `TRANSLATION_STORAGE` connection, created on first use and reused.

A connection string (Azurite, or a key-based account) or identity-based service URIs (Azure,
the app's managed identity) - the same two forms the Functions host accepts for a binding.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

import requests
import requests.adapters
from azure.core.credentials import TokenCredential
from azure.core.pipeline.transport import RequestsTransport
from azure.data.tables import TableClient, TableServiceClient
from azure.storage.blob import BlobServiceClient, ContainerClient, ExponentialRetry, LinearRetry
from azure.storage.queue import ExponentialRetry as QueueExponentialRetry
from azure.storage.queue import LinearRetry as QueueLinearRetry
from azure.storage.queue import QueueClient, TextBase64DecodePolicy, TextBase64EncodePolicy

from shared.identity import app_credential
from shared.settings import OutcomeEventSink, Settings

logger = logging.getLogger(__name__)

# The blobs extension moves a blob whose trigger failed maxDequeueCount times to this queue, in
# the storage account of the triggering blob (the documents account here).
BLOB_TRIGGER_POISON_QUEUE = "webjobs-blobtrigger-poison"
# Prefixed to the SDK's own user agent on every storage call the app makes.
USER_AGENT = "drop-folder-translation"
# Retries of one storage call fit in a few seconds, so a ServerBusy never stalls a tick or an
# invocation for long (the SDKs' defaults wait 15, 18 and 24 s between retries of a blob or queue
# call): 1, 3 and 5 s here (give or take one); a table call is retried at once, then after 2 and 4 s.
STORAGE_RETRIES = 3
CONNECTION_TIMEOUT_SECONDS = 10
READ_TIMEOUT_SECONDS = 30


@dataclass(frozen=True)
class CallLimits:
    """How long one storage call may wait and how often it is tried again. The app's clients keep
    the pooled transport and the retries above; a person at a terminal (the operator tool) wants a
    quick answer when storage is out of reach, so its clients carry their own, short limits."""

    retries: int
    connection_timeout_seconds: float
    read_timeout_seconds: float
    # Between retries, exactly: one person waits, not a herd of instances (no jitter).
    backoff_seconds: int


_transport: RequestsTransport | None = None
_transport_lock = threading.Lock()


def pooled_transport() -> RequestsTransport:
    """One connection pool for every storage client of this process, so calls reuse connections.
    `trust_env` is off: requests would otherwise look for ~/.netrc, proxy variables and CA-bundle
    paths on every single call (a tenth of the host's CPU in `make bench`); a Functions app
    reaches its storage directly."""
    global _transport
    with _transport_lock:
        if _transport is None:
            session = requests.Session()
            session.trust_env = False
            adapter = requests.adapters.HTTPAdapter(pool_connections=16, pool_maxsize=64)
            session.mount("https://", adapter)
            session.mount("http://", adapter)
            # The timeouts belong here: a client given a transport does not pass its own on.
            _transport = RequestsTransport(
                session=session,
                session_owner=False,
                connection_timeout=CONNECTION_TIMEOUT_SECONDS,
                read_timeout=READ_TIMEOUT_SECONDS,
            )
        return _transport


class StorageClients:
    """Lazily built clients for the containers, the records table and the results queues."""

    def __init__(
        self, settings: Settings, credential: TokenCredential | None = None, *, limits: CallLimits | None = None
    ):
        self._settings = settings
        self._credential = credential
        self._limits = limits
        self._lock = threading.Lock()

    @property
    def limits(self) -> CallLimits | None:
        return self._limits

    @cached_property
    def transport(self) -> RequestsTransport:
        if self._limits is None:
            return pooled_transport()
        # A transport given to a client keeps its own timeouts (the client's timeout options apply
        # only to a transport the client builds), so limited clients get a transport of their own.
        # It honours proxy variables: the operator's machine may need them to reach Azure.
        return RequestsTransport(
            connection_timeout=self._limits.connection_timeout_seconds,
            read_timeout=self._limits.read_timeout_seconds,
        )

    @property
    def _options(self) -> dict[str, Any]:
        # The user agent names the app in storage logs (and lets `make bench` tell its calls apart).
        return {
            "transport": self.transport,
            "user_agent": USER_AGENT,
            "connection_timeout": CONNECTION_TIMEOUT_SECONDS,
            "read_timeout": READ_TIMEOUT_SECONDS,
        }

    def _with_retries(self, exponential: Any, linear: Any) -> dict[str, Any]:
        """The options with a retry policy of the service's own package (blob and queue each have theirs)."""
        if self._limits is None:
            retry = exponential(initial_backoff=1, increment_base=2, retry_total=STORAGE_RETRIES, random_jitter_range=1)
        else:
            retry = linear(
                backoff=self._limits.backoff_seconds, retry_total=self._limits.retries, random_jitter_range=0
            )
        return {**self._options, "retry_policy": retry}

    @property
    def _blob_options(self) -> dict[str, Any]:
        return self._with_retries(ExponentialRetry, LinearRetry)

    @property
    def _queue_options(self) -> dict[str, Any]:
        return self._with_retries(QueueExponentialRetry, QueueLinearRetry)

    @property
    def _table_options(self) -> dict[str, Any]:
        if self._limits is None:
            retries, backoff = STORAGE_RETRIES, 1.0
        else:
            retries, backoff = self._limits.retries, float(self._limits.backoff_seconds)
        return {**self._options, "retry_total": retries, "retry_backoff_factor": backoff, "retry_backoff_max": 4}

    @property
    def credential(self) -> TokenCredential:
        with self._lock:
            if self._credential is None:
                self._credential = cast(TokenCredential, app_credential(self._settings.identity_client_id))
            return self._credential

    @property
    def uses_account_key(self) -> bool:
        return self._settings.storage.connection_string is not None

    @cached_property
    def blob_service(self) -> BlobServiceClient:
        storage = self._settings.storage
        if storage.connection_string:
            return BlobServiceClient.from_connection_string(storage.connection_string, **self._blob_options)
        return BlobServiceClient(
            account_url=_required(storage.blob_service_uri), credential=self.credential, **self._blob_options
        )

    def container(self, name: str) -> ContainerClient:
        return self.blob_service.get_container_client(name)

    @cached_property
    def records_table(self) -> TableClient:
        storage = self._settings.storage
        if storage.connection_string:
            service = TableServiceClient.from_connection_string(storage.connection_string, **self._table_options)
        else:
            service = TableServiceClient(
                endpoint=_required(storage.table_service_uri), credential=self.credential, **self._table_options
            )
        return service.get_table_client(self._settings.records_table)

    def queue(self, name: str) -> QueueClient:
        # The Functions host expects base64 messages; plain text would land in the poison queue.
        encode, decode = TextBase64EncodePolicy(), TextBase64DecodePolicy()
        storage = self._settings.storage
        if storage.connection_string:
            return QueueClient.from_connection_string(
                storage.connection_string,
                name,
                message_encode_policy=encode,
                message_decode_policy=decode,
                **self._queue_options,
            )
        return QueueClient(
            account_url=_required(storage.queue_service_uri),
            queue_name=name,
            credential=self.credential,
            message_encode_policy=encode,
            message_decode_policy=decode,
            **self._queue_options,
        )

    @cached_property
    def results_queue(self) -> QueueClient:
        return self.queue(self._settings.results_queue)

    @cached_property
    def poison_queue(self) -> QueueClient:
        return self.queue(self._settings.poison_queue)

    @cached_property
    def blob_trigger_poison_queue(self) -> QueueClient:
        return self.queue(BLOB_TRIGGER_POISON_QUEUE)

    @cached_property
    def poll_shards_queue(self) -> QueueClient:
        return self.queue(self._settings.poll_shards_queue)

    @cached_property
    def outcome_queue(self) -> QueueClient:
        # Base64 like the others: a consumer is most likely a queue-triggered function.
        return self.queue(self._settings.outcome_queue)

    def ensure_resources(self) -> None:
        """Create containers, table and queues if missing (local stack; infra/ creates them in Azure)."""
        from azure.core.exceptions import ResourceExistsError

        settings = self._settings
        for name in (
            settings.source_container,
            settings.target_container,
            settings.glossary_container,
            settings.reports_container,
        ):
            try:
                self.container(name).create_container()
            except ResourceExistsError:
                pass
        try:
            self.records_table.create_table()
        except ResourceExistsError:
            pass
        queues = [self.results_queue, self.poison_queue, self.blob_trigger_poison_queue, self.poll_shards_queue]
        if settings.outcome_events is OutcomeEventSink.QUEUE:
            queues.append(self.outcome_queue)
        for queue in queues:
            try:
                queue.create_queue()
            except ResourceExistsError:
                pass


def _required(uri: str | None) -> str:
    if uri is None:  # Settings refuses identity-based storage without its three service URIs
        raise ValueError("a storage service URI is missing")
    return uri
