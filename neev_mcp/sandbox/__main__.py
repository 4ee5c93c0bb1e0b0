"""``python -m neev_mcp.sandbox``: serve the simulated VM Service over HTTP on loopback."""

import sys

from .server import main

if __name__ == "__main__":
    sys.exit(main())
