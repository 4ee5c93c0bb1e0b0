"""DNS-rebinding protection for the sandbox served over HTTP, as neev-mcp guards `/mcp`.

A web page can make a browser send requests to 127.0.0.1 under a name of its own (DNS rebinding): the Host header then
carries that foreign name (→ 421), or a cross-site request carries a foreign Origin (→ 403). Without this, any page
the user visits could read `/_sandbox/requests` or reset the sandbox.
"""

from __future__ import annotations

import json
from collections.abc import Iterable

from starlette.types import ASGIApp, Receive, Scope, Send

LOOPBACK_NAMES = ("127.0.0.1", "localhost", "[::1]")


def host_name(authority: str) -> str:
    """`name` of `name:port`, `[v6]` of `[v6]:port`, lower-cased."""
    authority = authority.strip().lower()
    if authority.startswith("["):
        return authority.split("]", 1)[0] + "]"
    return authority.rsplit(":", 1)[0] if authority.count(":") == 1 else authority


class HostGuard:
    """Admit a request only when its Host (any port) is allowed and its Origin, if any, names an allowed host."""

    def __init__(self, app: ASGIApp, hosts: Iterable[str]) -> None:
        self.app = app
        self.hosts = frozenset(host_name(f"[{h}]" if ":" in h and not h.startswith("[") else h) for h in hosts)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
            if host_name(headers.get("host", "")) not in self.hosts:
                await _refuse(send, 421, "misdirected_request", "this sandbox does not answer to that Host name")
                return
            origin = headers.get("origin")
            if origin is not None and host_name(origin.split("://", 1)[-1]) not in self.hosts:
                await _refuse(send, 403, "forbidden", "cross-origin requests to the sandbox are refused")
                return
        await self.app(scope, receive, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = json.dumps({"code": code, "message": message}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})
