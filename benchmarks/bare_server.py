"""The floor for stdio benchmarks: a bare `MCPServer` with one tool, nothing else.

    python bare_server.py   # serve over stdio
"""

from __future__ import annotations

from mcp.server import MCPServer

server = MCPServer("bare")


@server.tool()
def ping(text: str = "") -> str:
    """Answer at once."""
    return "pong" + text


if __name__ == "__main__":
    server.run("stdio")
