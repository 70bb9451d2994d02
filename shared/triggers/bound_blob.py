"""The blob a blob trigger was bound to, taken from the Python worker without keeping its client.

The Python worker 4.x (the one Flex Consumption runs for Python 3.11 and 3.12) keeps every SDK
object it binds in `azure_functions_worker.bindings.meta.deferred_bindings_cache`, keyed by the
binding data, which names the blob. So each blob a trigger ever saw keeps a BlobClient of its
own (about 45 KiB: a service client, a transport and, under a managed identity, a credential of
its own) for the life of the process: a 10,000-file bulk and its 20,000 translations held about
1.3 GiB of them. The triggers take the blob's name, let the worker's entry go, and do their work
through the app's pooled clients: no connection and no token of the bound client's own either.

Where the worker keeps no such cache (the runtime library of Python 3.13 and later), there is
nothing to let go of and nothing is done.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

from azure.storage.blob import BlobClient

logger = logging.getLogger(__name__)

# Where the Python worker 4.x keeps what it bound (azure_functions_worker/bindings/meta.py); the
# local host keeps its imitation of that cache under the same module name.
WORKER_BINDINGS_MODULE = "azure_functions_worker.bindings.meta"
WORKER_BINDINGS_CACHE = "deferred_bindings_cache"


def take_bound_blob(client: BlobClient) -> tuple[str, str]:
    """The container and name of the blob `client` was bound to; the worker's cache lets it go."""
    container, name = client.container_name, client.blob_name
    forget_bound_object(client)
    return container, name


def forget_bound_object(bound: Any) -> int:
    """Drops `bound` from the worker's cache of SDK-type arguments: how many entries held it (an
    invocation still running with it keeps its own reference)."""
    cache = getattr(sys.modules.get(WORKER_BINDINGS_MODULE), WORKER_BINDINGS_CACHE, None)
    if not isinstance(cache, dict):
        return 0
    # A snapshot of the entries: the worker adds to the cache on its own thread meanwhile.
    held = [key for key, value in list(cache.items()) if value is bound]
    for key in held:
        cache.pop(key, None)
    return len(held)
