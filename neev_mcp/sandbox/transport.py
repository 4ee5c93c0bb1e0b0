"""In-process httpx2 transport that behaves like a network for the failure modes clients must handle."""

from __future__ import annotations

import anyio
import httpx2
from starlette.types import ASGIApp

from .app import ConnectionDropped


class SandboxTransport(httpx2.AsyncBaseTransport):
    """Serve the sandbox app in-process via ``httpx2.ASGITransport``, adding two network behaviours.

    * a ``drop`` fault surfaces as ``httpx2.RemoteProtocolError``, as a real dropped connection would;
    * the client's read timeout is enforced (plain ASGITransport ignores timeouts), raising
      ``httpx2.ReadTimeout`` — so ``slow`` faults exercise client timeouts without sockets.
    """

    def __init__(self, app: ASGIApp) -> None:
        self._inner = httpx2.ASGITransport(app=app)

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        timeouts = request.extensions.get("timeout") or {}
        read_timeout = timeouts.get("read")
        try:
            if read_timeout is None:
                return await self._inner.handle_async_request(request)
            with anyio.fail_after(read_timeout):
                return await self._inner.handle_async_request(request)
        except ConnectionDropped:
            message = "Server disconnected without sending a response."
            raise httpx2.RemoteProtocolError(message, request=request) from None
        except TimeoutError:
            if read_timeout is None:
                raise
            raise httpx2.ReadTimeout(f"sandbox did not answer within {read_timeout:g}s", request=request) from None

    async def aclose(self) -> None:
        await self._inner.aclose()
