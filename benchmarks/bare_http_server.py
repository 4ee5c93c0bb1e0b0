"""The floor for the load benchmark: a bare `MCPServer` over the same streamable HTTP stack as `neev-mcp`.

One tool, `get_vm`, does one `httpx2` GET of the VM from the same upstream (the sandbox) on a pooled keep-alive
client, and returns the JSON. Same SDK app (`streamable_http_app`, SSE responses, the same Host allow-list), same
Starlette lifespan and the same uvicorn settings as `neev_mcp.http.serve_http`; no inbound auth, no validation, no
summary, no telemetry.

    BARE_UPSTREAM_TOKEN=… python bare_http_server.py PORT UPSTREAM_BASE_URL [--stateless]
"""

from __future__ import annotations

import os
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx2
import uvicorn
from mcp.server import MCPServer
from mcp.server.transport_security import TransportSecuritySettings
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Mount, Route

ORG, PROJECT = "demo-org", "demo-project"
LOOPBACK = ["127.0.0.1", "127.0.0.1:*", "localhost", "localhost:*"]


def build(base_url: str, token: str, stateless: bool) -> Starlette:
    server = MCPServer("bare-http")
    pool: dict[str, httpx2.AsyncClient] = {}

    @server.tool()
    async def get_vm(vm_id: str) -> dict[str, Any]:
        """One GET of the VM from the upstream."""
        if "http" not in pool:
            # the same timeouts as neev-mcp's defaults (NEEV_CONNECT_TIMEOUT 5 s, NEEV_READ_TIMEOUT 30 s)
            pool["http"] = httpx2.AsyncClient(base_url=base_url, headers={"Authorization": f"Bearer {token}"},
                                              timeout=httpx2.Timeout(30.0, connect=5.0))
        response = await pool["http"].get(f"/api/v1/orgs/{ORG}/projects/{PROJECT}/vms/{vm_id}")
        response.raise_for_status()
        return response.json()

    mcp_app = server.streamable_http_app(
        streamable_http_path="/mcp",
        stateless_http=stateless,
        json_response=False,
        transport_security=TransportSecuritySettings(
            enable_dns_rebinding_protection=True, allowed_hosts=LOOPBACK,
            allowed_origins=[f"http://{h}" for h in LOOPBACK]),
        host="127.0.0.1",
    )

    async def health(_: Request) -> JSONResponse:
        return JSONResponse({"status": "ok"})

    @asynccontextmanager
    async def lifespan(_: Starlette) -> AsyncIterator[None]:
        async with server.session_manager.run():
            yield
        if "http" in pool:
            await pool["http"].aclose()

    return Starlette(routes=[Route("/healthz", health), Mount("/", app=mcp_app)], lifespan=lifespan)


def main(argv: list[str]) -> None:
    port, base_url = int(argv[0]), argv[1]
    app = build(base_url, os.environ["BARE_UPSTREAM_TOKEN"], "--stateless" in argv)  # env: not on a command line
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, log_level="warning",
                            access_log=False, lifespan="on", timeout_graceful_shutdown=5, server_header=False)
    uvicorn.Server(config).run()


if __name__ == "__main__":
    main(sys.argv[1:])
