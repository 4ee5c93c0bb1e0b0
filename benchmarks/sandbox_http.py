"""Serve the sandbox over HTTP for benchmarks, with TCP_NODELAY on the listening socket.

`neev-mcp sandbox` binds its socket without TCP_NODELAY; uvicorn (h11) writes a response's head and body separately,
so every answer then waits ~40 ms for the client's delayed ACK, which would swamp a per-call measurement.

    python sandbox_http.py PORT
"""

from __future__ import annotations

import socket
import sys

import uvicorn

from neev_mcp.sandbox import Sandbox


def main(port: int) -> None:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)  # inherited by every accepted connection
    sock.bind(("127.0.0.1", port))
    config = uvicorn.Config(Sandbox().app, log_level="warning", access_log=False, lifespan="off")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main(int(sys.argv[1]))
