"""neev-mcp: an MCP server for NeevCloud virtual machines."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("neev-mcp")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
