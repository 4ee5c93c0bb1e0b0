"""What the whole-project tallies must not let through now that they read pages unscrubbed and scrub only their
answer (found by a review of that change; each test failed before its fix): an exception carrying an echoed value into
an unfiltered log, a case change that hides a token from the case-sensitive scrub, and a body framed past the
NEEV_MAX_RESPONSE_BYTES cap.
"""

from __future__ import annotations

import json
import logging
import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager

import httpx2
import pytest
from mcp import Client

from neev_mcp.sandbox import make_token

from .support import hygiene as _hygiene
from .support.upstream import Recording, everything_in, fragments_in, result_text, sample_vm, server_on

TOKEN = make_token(sub="review-victim-" + "y" * 40)
_hygiene.watch(TOKEN, "the review test token")


def bearer_of(request: httpx2.Request) -> str:
    return request.headers["authorization"].removeprefix("Bearer ")


def page(items: list[dict], **paging: object) -> httpx2.Response:
    return httpx2.Response(200, json={"data": items, "pagination": {"current_page": 1, "total_pages": 1,
                                                                     "total_items": len(items), **paging}})


# -- finding 1: a tally that raises on an echoed value puts the raw token into the SDK's (unfiltered) log -----------
@pytest.mark.anyio
async def test_an_overview_resource_whose_pages_echo_the_token_in_total_pages_logs_no_fragment(
        caplog: pytest.LogCaptureFixture) -> None:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        return page([], total_pages=bearer_of(request))  # int(...) in walker.Collection.accept raises with it

    with caplog.at_level(logging.DEBUG):
        async with Client(server_on(Recording(handler).transport(), TOKEN)) as client:
            with pytest.raises(Exception):  # noqa: B017 - any MCP error; what matters is the log
                await client.read_resource("neev://overview")
    assert fragments_in(TOKEN, caplog.text) == []


# -- finding 2: an echoed status is capitalised before the scrub, so the scrub no longer recognises it --------------
@pytest.mark.anyio
async def test_an_echoed_status_does_not_reach_the_overview_text_in_another_case() -> None:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/root_disks"):
            return page([])
        return page([{**sample_vm(), "status": bearer_of(request)}])

    async with Client(server_on(Recording(handler).transport(), TOKEN)) as client:
        result = await client.call_tool("project_overview", {})
    assert not result.is_error
    # before 0398a7a the page was scrubbed first: "[redacted] (1): web-1 (…)"
    assert fragments_in(TOKEN.lower(), result_text(result).lower()) == [], result_text(result)[:300]
    assert fragments_in(TOKEN, everything_in(result)) == []


# -- finding 3: Content-Length + Transfer-Encoding: chunked -> h11 frames by chunks, the fast path reads them all ----
@contextmanager
def raw_upstream(response: bytes) -> Iterator[str]:
    """A TCP server answering every request with `response`, as bytes, then closing."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve() -> None:
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            with conn:
                data = b""
                while b"\r\n\r\n" not in data:
                    more = conn.recv(65536)
                    if not more:
                        break
                    data += more
                conn.sendall(response)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(timeout=5)
        sock.close()


def chunked(body: bytes, size: int = 16384) -> bytes:
    parts = [b"%x\r\n%s\r\n" % (len(body[i:i + size]), body[i:i + size]) for i in range(0, len(body), size)]
    return b"".join(parts) + b"0\r\n\r\n"


@pytest.mark.anyio
async def test_a_small_content_length_beside_chunked_framing_does_not_lift_the_cap() -> None:
    cap = 64 * 1024
    paging = {"total_pages": 1, "total_items": 0}
    body = json.dumps({"data": [], "pagination": paging, "pad": "x" * (16 * cap)}).encode()
    head = (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n"
            b"transfer-encoding: chunked\r\nconnection: close\r\n\r\n")
    with raw_upstream(head + chunked(body)) as origin:
        server = server_on(None, TOKEN, base_url=f"{origin}/vm", max_response_bytes=cap, max_attempts=1)
        async with Client(server) as client:
            result = await client.call_tool("list_vms", {})
    assert result.is_error, f"a {len(body):,}-byte body was read whole under a {cap:,}-byte cap"
    assert "larger than 65536 bytes (NEEV_MAX_RESPONSE_BYTES)" in result_text(result)


# -- control: the same echo through a tool call is caught by neev_mcp's own handler, whose logger is filtered -------
@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["project_overview", "vm_options", "dashboard_snapshot"])
async def test_control_the_same_echo_through_a_tool_call_logs_no_fragment(tool: str,
                                                                          caplog: pytest.LogCaptureFixture) -> None:
    from mcp.client.extension import advertise

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return page([], total_pages=bearer_of(request))

    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    with caplog.at_level(logging.DEBUG):
        async with Client(server_on(Recording(handler).transport(), TOKEN), extensions=[apps]) as client:
            result = await client.call_tool(tool, {})
    assert result.is_error and result_text(result) == (
        "NeevCloud answered list_vms page 1 with a pagination block whose total_pages or total_items is not a whole "
        "number.")
    assert fragments_in(TOKEN, caplog.text + everything_in(result)) == []


@pytest.mark.anyio
async def test_an_echoed_disk_size_counts_as_nothing_instead_of_failing_the_overview(
        caplog: pytest.LogCaptureFixture) -> None:
    disk = {"id": "d-1", "name": "spare", "region": "in-mum-1", "size_gb": "x", "status": "ready",
            "is_attached": False, "vm_id": None}

    async def handler(request: httpx2.Request) -> httpx2.Response:
        if request.url.path.endswith("/root_disks"):
            return page([{**disk, "size_gb": bearer_of(request)}, {**disk, "id": "d-2", "size_gb": 40}])
        return page([])

    with caplog.at_level(logging.DEBUG):
        async with Client(server_on(Recording(handler).transport(), TOKEN)) as client:
            result = await client.call_tool("project_overview", {})
    assert not result.is_error, result_text(result)
    assert result.structured_content["unattached_total_gb"] == 40 and "(d-1) · [redacted] GB" in result_text(result)
    assert fragments_in(TOKEN, caplog.text + everything_in(result)) == []
