"""A local stand-in for Azure AI Document Translation (never deployed).

It answers the service's REST routes in all three flavours, reads and writes blobs through
the URLs it is given (so Azurite's SAS checks apply) and "translates" with a visibly marked
pseudo-translation. See docs/emulator.md.
"""

from devstack.emulator.options import EmulatorOptions
from devstack.emulator.server import EmulatorServer

__all__ = ["EmulatorOptions", "EmulatorServer"]
