"""Issue 12, findings 5 and 6: a stuck or flooding upstream costs a bounded time, a bounded share of the connection pool
and a bounded number of bytes.

The deadline tests drip a body over real HTTP on loopback (uvicorn in a thread), so the timing path is the real one:
one byte every 0.2 s never trips a 0.5 s read timeout, only the 1 s total deadline.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import anyio
import httpx2
import pytest
from mcp import Client
from starlette.types import Receive, Scope, Send

from neev_mcp.bounds import RequestBounds
from neev_mcp.client import NeevClient, RetryPolicy, Timeouts
from neev_mcp.errors import CallerBusy, Timeout, TooLarge
from neev_mcp.registry import build_registry, spec_operations
from neev_mcp.sandbox import make_token
from neev_mcp.server import MAX_RESULT_TEXT

from .conftest import ORG, PROJECT
from .support import hygiene as _hygiene
from .support.upstream import Recording, result_text, sample_vm, served, server_on

TOKEN = make_token(sub="bounds-tests")
OTHER = make_token(sub="bounds-tests-other-tenant")
_hygiene.watch(TOKEN, "the bounds test token")
_hygiene.watch(OTHER, "the other tenant's token")
VM = sample_vm()
SCOPE = {"org_id": ORG, "project_id": PROJECT}


def op(tool: str) -> Any:
    return next(o for o in spec_operations() if o.tool_name == tool)


class Drip:
    """An upstream that answers 200 at once, then sends its body one byte every `every` seconds, forever."""

    def __init__(self, every: float = 0.2) -> None:
        self.every = every
        self.requests: list[str] = []
        self.bytes_sent = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        self.requests.append(f"{scope['method']} {scope['path']}")
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]})
        while True:
            await send({"type": "http.response.body", "body": b" ", "more_body": True})
            self.bytes_sent += 1
            await anyio.sleep(self.every)


# -- finding 5: one total deadline per request ------------------------------------------------------------------------

@pytest.mark.anyio
async def test_a_dripped_body_fails_at_the_deadline_not_at_n_times_the_read_timeout() -> None:
    drip = Drip()
    with served(drip) as origin:
        server = server_on(None, TOKEN, base_url=f"{origin}/vm", request_deadline=1, read_timeout=0.5)
        async with Client(server, raise_exceptions=True) as client:
            began = time.monotonic()
            with anyio.fail_after(6):  # the old code never returns: fail instead of hanging the suite
                result = await client.call_tool("list_vms", {})
            took = time.monotonic() - began
    assert result.is_error
    assert result_text(result) == ("NeevCloud did not answer list_vms completely within 1 s (the total limit per "
                                   "request is NEEV_REQUEST_DEADLINE).")
    assert 0.9 <= took < 2.5, took
    assert drip.requests == [f"GET /vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms"]  # no retry past the deadline
    assert (result.structured_content or {})["error"] == "Timeout"


@pytest.mark.anyio
async def test_a_mutation_that_hits_the_deadline_says_it_may_have_been_applied() -> None:
    drip = Drip()
    with served(drip) as origin:
        client = NeevClient(f"{origin}/vm", TOKEN, timeouts=Timeouts(connect=1, read=0.5),
                            retry=RetryPolicy(backoff=0), bounds=RequestBounds(deadline=1))
        body = {"name": "web-9", "region_id": "in-mum-1", "vm_config_id": "c", "plan_id": "p",
                "root_disk": {"create_disk_request": {"name": "r", "size_gb": 40, "image_id": "ubuntu-24.04"}}}
        with pytest.raises(Timeout) as info, anyio.fail_after(6):
            try:
                create = {t.name: t for t in build_registry()}["create_vm"]  # its declared retry class and advice
                await client.call(op("create_vm"), SCOPE, None, body, repeatable=create.repeatable,
                                  unsure=create.unsure)
            finally:
                await client.aclose()
    assert info.value.message == (
        "NeevCloud did not answer create_vm completely within 1 s (the total limit per request is "
        "NEEV_REQUEST_DEADLINE). The VM may or may not have been created: call list_vms and look for its name before "
        "trying again, so that no duplicate VM is created.")
    assert info.value.to_structured()["may_have_applied"] is True
    assert len(drip.requests) == 1


@pytest.mark.anyio
async def test_one_caller_cannot_take_the_whole_pool_and_another_caller_is_served_meanwhile() -> None:
    release = anyio.Event()

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.headers["authorization"] == f"Bearer {TOKEN}":
            await release.wait()  # a stuck upstream, for this tenant's requests
        return httpx2.Response(200, json=VM)

    upstream = Recording(handler)
    client = NeevClient("http://upstream.test/vm", None, transport=upstream.transport(),
                        bounds=RequestBounds(deadline=2, per_caller=2, slot_wait=0.2), retry=RetryPolicy(backoff=0))
    path = {**SCOPE, "vm_id": VM["id"]}
    outcomes: list[str] = []

    async def stuck_call() -> None:
        await client.call(op("get_vm"), path, token=TOKEN)
        outcomes.append("stuck call answered")

    try:
        async with anyio.create_task_group() as tg:
            tg.start_soon(stuck_call)
            tg.start_soon(stuck_call)
            await anyio.sleep(0.05)
            with pytest.raises(CallerBusy) as busy:
                await client.call(op("get_vm"), path, token=TOKEN)  # a third one for the same caller waits, then fails
            other = await client.call(op("get_vm"), path, token=OTHER)  # another tenant is not held up
            outcomes.append("other tenant answered")
            release.set()
    finally:
        await client.aclose()
    assert other.data == VM
    assert busy.value.message == (
        "get_vm was not sent: this caller already has 2 requests to NeevCloud in flight and none finished within "
        "0.2 s. Wait for the running calls to finish, then retry."
    )
    assert busy.value.to_structured()["may_have_applied"] is False
    sent_by = [r.headers["authorization"].removeprefix("Bearer ") for r in upstream.seen]
    assert sorted(sent_by) == sorted([TOKEN, TOKEN, OTHER])  # the refused third request never left
    assert outcomes == ["other tenant answered", "stuck call answered", "stuck call answered"]


# -- finding 6: bodies capped while streaming; result text capped --------------------------------------------------

class Flood:
    """A body of `total` bytes streamed in 64 KiB chunks; counts what the client actually pulled."""

    CHUNK = 64 * 1024

    def __init__(self, total: int = 200 * 1024 * 1024, declare: bool = False) -> None:
        self.total, self.declare, self.pulled = total, declare, 0

    async def body(self) -> AsyncIterator[bytes]:
        while self.pulled < self.total:
            self.pulled += self.CHUNK
            yield b"[" + b" " * (self.CHUNK - 1)

    async def __call__(self, request: httpx2.Request) -> httpx2.Response:
        headers = {"content-type": "application/json"}
        if self.declare:
            headers["content-length"] = str(self.total)
        return httpx2.Response(200, headers=headers, stream=_Stream(self.body()))


class _Stream(httpx2.AsyncByteStream):
    def __init__(self, source: AsyncIterator[bytes]) -> None:
        self.source = source

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self.source:
            yield chunk


@pytest.mark.anyio
@pytest.mark.parametrize("declare", [False, True], ids=["chunked", "content-length"])
async def test_a_200_mb_list_stops_at_the_cap_with_a_clear_error(declare: bool) -> None:
    flood = Flood(declare=declare)
    upstream = Recording(flood)
    server = server_on(upstream.transport(), TOKEN, max_response_bytes=1024 * 1024)
    async with Client(server, raise_exceptions=True) as client:
        result = await client.call_tool("list_vms", {})
    assert result.is_error
    assert result_text(result) == (
        "NeevCloud's answer to list_vms is larger than 1048576 bytes (NEEV_MAX_RESPONSE_BYTES); it was not read to "
        "the end. For a list, ask for a smaller page (limit).")
    assert (result.structured_content or {})["error"] == "TooLarge"
    assert len(upstream.seen) == 1  # not retried: the same flood would come back
    assert flood.pulled <= 1024 * 1024 + Flood.CHUNK  # read stopped at the cap (a declared length: before reading)
    if declare:
        assert flood.pulled == 0


@pytest.mark.anyio
async def test_the_cap_is_on_decoded_bytes_so_a_compressed_flood_is_caught_too() -> None:
    import gzip

    packed = gzip.compress(b"[" + b" " * (8 * 1024 * 1024) + b"]")  # ~8 KB on the wire, 8 MiB decoded

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=packed, headers={"content-encoding": "gzip",
                                                               "content-type": "application/json"})

    client = NeevClient("http://upstream.test/vm", TOKEN, transport=Recording(handler).transport(),
                        bounds=RequestBounds(max_response_bytes=1024 * 1024))
    with pytest.raises(TooLarge):
        try:
            await client.call(op("list_vms"), SCOPE)
        finally:
            await client.aclose()


@pytest.mark.anyio
async def test_a_body_under_the_cap_is_read_whole_and_decoded() -> None:
    import gzip
    import json

    page = {"data": [VM] * 100, "pagination": {"total_items": 100, "total_pages": 1, "current_page": 1,
                                               "items_per_page": 100}}

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, content=gzip.compress(json.dumps(page).encode()),
                               headers={"content-encoding": "gzip", "content-type": "application/json"})

    client = NeevClient("http://upstream.test/vm", TOKEN, transport=Recording(handler).transport())
    try:
        assert (await client.call(op("list_vms"), SCOPE)).data == page
    finally:
        await client.aclose()


@pytest.mark.anyio
async def test_one_results_text_is_capped() -> None:
    vms = [{**VM, "id": f"{i:08d}-0000-4000-8000-000000000000", "name": f"vm-{i}-" + "n" * 2000} for i in range(100)]
    page = {"data": vms, "pagination": {"total_items": 100, "total_pages": 1, "current_page": 1,
                                        "items_per_page": 100}}

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return httpx2.Response(200, json=page)

    async with Client(server_on(Recording(handler).transport(), TOKEN), raise_exceptions=True) as client:
        result = await client.call_tool("list_vms", {"limit": 100})
    text = result_text(result)
    assert not result.is_error
    assert text.endswith("\n… [clipped: one result's text is capped at 64,000 characters]")
    assert len(text) == MAX_RESULT_TEXT
    assert len((result.structured_content or {})["data"]) == 100  # the full answer stays in structuredContent


def test_the_bounds_are_read_from_the_environment_and_checked() -> None:
    from neev_mcp.config import ConfigurationError, Settings

    settings = Settings.load({"NEEV_REQUEST_DEADLINE": "2.5", "NEEV_MAX_RESPONSE_BYTES": "4194304.0"})
    assert (settings.request_deadline, settings.max_response_bytes) == (2.5, 4194304)
    assert (Settings().request_deadline, Settings().max_response_bytes) == (30.0, 4 * 1024 * 1024)
    with pytest.raises(ConfigurationError, match=r"NEEV_MAX_RESPONSE_BYTES: must be greater than or equal to 1024$"):
        Settings.load({"NEEV_MAX_RESPONSE_BYTES": "12"})
    with pytest.raises(ConfigurationError, match=r"NEEV_REQUEST_DEADLINE: must be greater than 0$"):
        Settings.load({"NEEV_REQUEST_DEADLINE": "0"})
