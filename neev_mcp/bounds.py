"""Bounds on what one upstream request may cost: time, bytes, and its caller's share of the connection pool.

A stuck or hostile upstream must not hold a tool call, the server's memory or the shared pool without limit:

- time: one total deadline per request, every read included (`NEEV_READ_TIMEOUT` is per read, so a body dripped one
  byte at a time would otherwise never time out), and retries only while they fit in it;
- bytes: the body is read as a stream and abandoned at `NEEV_MAX_RESPONSE_BYTES` (decoded bytes, so a compressed
  flood counts at its real size);
- pool: in pass-through mode every tenant shares one pool of connections, so each caller (keyed by its upstream token)
  may have at most `per_caller` requests in flight; more wait for a slot (at most `slot_wait`, within their
  deadline), then are refused unsent.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

import anyio
import httpx2

from .errors import CallerBusy, Timeout, TooLarge

MiB = 1024 * 1024


@dataclass(frozen=True)
class RequestBounds:
    deadline: float = 30.0  # seconds for one whole request (all attempts, all reads): NEEV_REQUEST_DEADLINE
    max_response_bytes: int = 4 * MiB  # NEEV_MAX_RESPONSE_BYTES; a list page of 100 VMs is about 100 KB
    # requests one upstream token may have in flight at once: the walker's ceiling (agent_tools.Limits.max_concurrency),
    # so a whole-project read of an API with room for parallelism is not queued behind its own share
    per_caller: int = 32
    slot_wait: float = 5.0  # longest wait for one of them to free up (a caller whose share is stuck hears so early)
    pool: int = 100  # connections in the shared pool (httpx2's default, stated so the share above is visible)


DEFAULT_BOUNDS = RequestBounds()


def deadline_exceeded(tool: str, seconds: float) -> Timeout:
    return Timeout(f"NeevCloud did not answer {tool} completely within {seconds:g} s (the total limit per request is "
                   "NEEV_REQUEST_DEADLINE).")


def too_large(tool: str, limit: int) -> TooLarge:
    return TooLarge(f"NeevCloud's answer to {tool} is larger than {limit} bytes (NEEV_MAX_RESPONSE_BYTES); it was not "
                    "read to the end. For a list, ask for a smaller page (limit).")


async def read_capped(response: httpx2.Response, limit: int, tool: str) -> httpx2.Response:
    """The response with its body read, refusing (and closing) a body above `limit` bytes as soon as it passes it."""
    try:
        declared = int(response.headers.get("content-length", ""))
    except ValueError:
        declared = None
    framed = "content-encoding" not in response.headers and "transfer-encoding" not in response.headers
    if declared is not None and framed:  # with Transfer-Encoding, h11 frames by chunks and ignores Content-Length
        if declared > limit:
            await response.aclose()
            raise too_large(tool, limit)
        try:  # HTTP/1.1 framing reads exactly `declared` bytes: no cap to watch, and no copy to make
            await response.aread()
        finally:
            await response.aclose()
        return response
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > limit:
                raise too_large(tool, limit)
            chunks.append(chunk)
    finally:
        await response.aclose()
    # A plain, already-decoded copy: the encoding headers no longer describe these bytes.
    headers = [(k, v) for k, v in response.headers.multi_items()
               if k.lower() not in ("content-encoding", "content-length", "transfer-encoding")]
    return httpx2.Response(response.status_code, headers=headers, content=b"".join(chunks), request=response.request)


class CallerSlots:
    """At most `per_caller` requests in flight per caller; entries exist only while a caller has requests."""

    def __init__(self, per_caller: int) -> None:
        self.per_caller = per_caller
        self._slots: dict[str, tuple[anyio.Semaphore, list[int]]] = {}

    def in_flight(self, caller: str) -> int:
        entry = self._slots.get(_key(caller))
        return self.per_caller - entry[0].value if entry else 0

    @asynccontextmanager
    async def hold(self, caller: str, within: float, tool: str) -> AsyncIterator[None]:
        key = _key(caller)
        if key not in self._slots:
            self._slots[key] = (anyio.Semaphore(self.per_caller), [0])
        slots, users = self._slots[key]
        users[0] += 1
        acquired = False
        try:
            with anyio.move_on_after(within):
                await slots.acquire()
                acquired = True
            if not acquired:
                raise CallerBusy(
                    f"{tool} was not sent: this caller already has {self.per_caller} requests to NeevCloud in flight "
                    f"and none finished within {within:.2g} s. Wait for the running calls to finish, then retry."
                )
            try:
                yield
            finally:
                slots.release()
        finally:
            users[0] -= 1
            if users[0] == 0:
                del self._slots[key]


def _key(caller: str) -> str:
    # a digest, so the table never holds a bearer token itself
    return hashlib.sha256(caller.encode()).hexdigest()
