"""Hostile fake NeevCloud upstreams for the data-path tests: a recording httpx2 handler, and ASGI apps served over real
HTTP on loopback (uvicorn in a thread) when the timing path must be the real one."""

from __future__ import annotations

import json
import re
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
import uvicorn
from starlette.types import Receive, Scope, Send

from neev_mcp.config import Settings
from neev_mcp.sandbox import Sandbox, SimClock
from neev_mcp.scrub import MIN_FRAGMENT
from neev_mcp.server import NeevServer, build_server

from ..conftest import ORG, PROJECT, START
from . import text as result_text

Handler = Callable[[httpx2.Request], Awaitable[httpx2.Response]]


def fragments_in(token: str, text: str) -> list[str]:
    """Every run of MIN_FRAGMENT characters of `token` found in `text` once its whitespace is removed."""
    dense = re.sub(r"\s+", "", text)
    return [token[i:i + MIN_FRAGMENT] for i in range(len(token) - MIN_FRAGMENT + 1)
            if token[i:i + MIN_FRAGMENT] in dense]


def everything_in(result: Any) -> str:
    """The text and the structuredContent of a tool result, as one string."""
    return result_text(result) + json.dumps(result.structured_content)


def sample_vm(name: str = "web-1") -> dict[str, Any]:
    """A real VMResponse, as the sandbox renders it."""
    sb = Sandbox(org_id=ORG, project_id=PROJECT, clock=SimClock(speed=0, start=START))
    return sb.state.vm_json(sb.vm_by_name(name))


@dataclass
class Recording:
    """A fake upstream answering through `handler`, keeping every request it saw."""

    handler: Handler
    seen: list[httpx2.Request] = field(default_factory=list)

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        self.seen.append(request)
        return await self.handler(request)

    def transport(self) -> httpx2.MockTransport:
        return httpx2.MockTransport(self)


def server_on(transport: httpx2.AsyncBaseTransport | None, token: str, base_url: str = "http://upstream.test/vm",
              **overrides: Any) -> NeevServer:
    values: dict[str, Any] = {"api_token": token, "api_base_url": base_url, "org_id": ORG, "project_id": PROJECT,
                              "retry_backoff": 0.0, "mcp_secret": "test-secret-for-neev-mcp-0123456789abcdef",
                              **overrides}
    return build_server(Settings(**values), http_transport=transport, now=lambda: START)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def served(app: Callable[[Scope, Receive, Send], Awaitable[None]]) -> Iterator[str]:
    """Serve an ASGI app over real HTTP on 127.0.0.1 in a background thread; yields its base URL."""
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test upstream did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
