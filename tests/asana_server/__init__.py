"""A local Asana-compatible HTTP server for tests, demos and benchmarks."""

from .admin import AdminClient, AdminError
from .config import FaultSettings, ServerConfig
from .server import AsanaServer

__all__ = ["AdminClient", "AdminError", "AsanaServer", "FaultSettings", "ServerConfig"]
