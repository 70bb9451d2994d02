"""A local stand-in for the Azure Functions host (Core Tools cannot be installed here).

It serves the blob (Event Grid), timer and queue triggers declared on a Python v2
`func.FunctionApp` against Azurite. See docs/local-host.md.
"""

from devstack.host.bindings import FunctionInfo
from devstack.host.config import HostConfigError, QueueOptions, load_local_settings
from devstack.host.host import LocalFunctionsHost

__all__ = ["FunctionInfo", "HostConfigError", "LocalFunctionsHost", "QueueOptions", "load_local_settings"]
