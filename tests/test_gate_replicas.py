"""Statelessness: a confirmation started on one server is honoured by another that shares NEEV_MCP_SECRET.

In process: a 2026-07-28 round whose retry lands on a second server instance. Across processes: two real
`python -m neev_mcp` stdio servers on one sandbox served over HTTP, the token minted on A and used on B.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx2
import pytest
from mcp import Client, MCPError, StdioServerParameters
from mcp.types import ElicitResult, InputRequiredResult

from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SimClock

from .conftest import MakeServer, vm_path
from .support import text, vm_id
from .support.gate import User, upstream
from .support.http import free_port

pytestmark = pytest.mark.anyio


async def first_round(client: Client, args: dict) -> InputRequiredResult:
    """Round one driven by hand, so that round two can go to another server."""
    result = await client.session.call_tool("delete_vm", args, allow_input_required=True)
    assert isinstance(result, InputRequiredResult)
    return result


async def test_a_modern_confirmation_round_can_finish_on_another_replica_sharing_the_secret(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(), elicitation_callback=lambda *_: None) as a:
        asked = await first_round(a, {"vm_id": web})
    assert sandbox.requests and upstream(sandbox, "DELETE") == []
    request = asked.input_requests["confirm"]
    assert request.params.message.startswith(f"Delete VM web-1 ({web}): status running")
    answer = {"confirm": ElicitResult(action="accept", content={"confirm_name": "web-1"})}
    async with Client(make_server(), elicitation_callback=lambda *_: None) as b:
        result = await b.call_tool("delete_vm", {"vm_id": web}, input_responses=answer,
                                   request_state=asked.request_state)
    assert not result.is_error, text(result)
    assert upstream(sandbox, "DELETE") == [vm_path(web)]


async def test_a_modern_round_is_rejected_by_a_replica_with_another_secret(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(), elicitation_callback=lambda *_: None) as a:
        asked = await first_round(a, {"vm_id": web})
    answer = {"confirm": ElicitResult(action="accept", content={"confirm_name": "web-1"})}
    other = make_server(mcp_secret="another-secret-0123456789abcdef-0123456")
    async with Client(other, elicitation_callback=lambda *_: None) as b:
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await b.call_tool("delete_vm", {"vm_id": web}, input_responses=answer, request_state=asked.request_state)
    assert upstream(sandbox, "DELETE") == []


async def test_a_modern_round_state_cannot_be_moved_to_another_vm(make_server: MakeServer, sandbox: Sandbox) -> None:
    web, db = vm_id(sandbox, "web-1"), vm_id(sandbox, "db-1")
    server = make_server()
    async with Client(server, elicitation_callback=lambda *_: None) as a:
        asked = await first_round(a, {"vm_id": web})
        answer = {"confirm": ElicitResult(action="accept", content={"confirm_name": "db-1"})}
        with pytest.raises(MCPError, match="Invalid or expired requestState"):
            await a.call_tool("delete_vm", {"vm_id": db}, input_responses=answer, request_state=asked.request_state)
    assert upstream(sandbox, "DELETE") == []


async def test_a_modern_round_state_replayed_on_the_same_replica_runs_once(
    make_server: MakeServer, sandbox: Sandbox, clock: SimClock
) -> None:
    web = vm_id(sandbox, "web-1")
    server = make_server(confirm="mutating")  # a restart leaves the VM actionable, so only the replay store stops it
    answer = {"confirm": ElicitResult(action="accept", content={"confirm_name": "web-1"})}
    async with Client(server, elicitation_callback=lambda *_: None) as client:
        asked = await client.session.call_tool("restart_vm", {"vm_id": web}, allow_input_required=True)
        assert isinstance(asked, InputRequiredResult)
        first = await client.call_tool("restart_vm", {"vm_id": web}, input_responses=answer,
                                       request_state=asked.request_state)
        clock.advance(60)  # running again: every fact the preview stated holds, so only the replay store stops it
        again = await client.call_tool("restart_vm", {"vm_id": web}, input_responses=answer,
                                       request_state=asked.request_state)
    assert not first.is_error, text(first)
    assert again.is_error
    assert text(again).startswith(f"VM web-1 ({web}) was not restarted: this confirmation has already been used.")
    assert upstream(sandbox, "POST") == [vm_path(web, "/restart")]


# -- two server processes -------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def sandbox_url() -> Iterator[str]:
    """The sandbox served over HTTP on a free loopback port, frozen clock; yields its origin."""
    proc = subprocess.Popen([sys.executable, "-m", "neev_mcp.sandbox", "--port", "0", "--speed", "0"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stderr is not None
        line = proc.stderr.readline()
        found = re.search(r"(http://127\.0\.0\.1:\d+)/vm", line)
        assert found, line
        origin = found.group(1)
        for _ in range(100):
            try:
                if httpx2.get(f"{origin}/_sandbox/healthz", timeout=1).status_code == 200:
                    break
            except httpx2.TransportError:
                pass
            time.sleep(0.05)
        yield origin
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        if proc.stderr is not None:
            proc.stderr.close()


def server_process(origin: str, secret: str) -> StdioServerParameters:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "NEEV_API_BASE_URL": f"{origin}/vm",
        "NEEV_API_TOKEN": DEFAULT_TOKEN,
        "NEEV_ORG_ID": "demo-org",
        "NEEV_PROJECT_ID": "demo-project",
        "NEEV_MCP_SECRET": secret,
        "NEEV_MCP_LOG_LEVEL": "WARNING",
    }
    return StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env=env)


def upstream_deletes(origin: str) -> list[str]:
    return [r["path"] for r in httpx2.get(f"{origin}/_sandbox/requests").json() if r["method"] == "DELETE"]


async def test_a_token_minted_by_one_server_process_is_honoured_once_by_another(sandbox_url: str) -> None:
    httpx2.post(f"{sandbox_url}/_sandbox/reset")
    secret = "shared-replica-secret-0123456789abcdef-01"
    async with Client(server_process(sandbox_url, secret), mode="legacy") as a:
        vms = (await a.call_tool("list_vms", {})).structured_content["data"]
        db = next(vm["id"] for vm in vms if vm["name"] == "db-1")
        preview = await a.call_tool("delete_vm", {"vm_id": db})
        token = preview.structured_content["confirmation_token"]
        async with Client(server_process(sandbox_url, secret)) as b:
            assert upstream_deletes(sandbox_url) == []
            done = await b.call_tool("delete_vm", {"vm_id": db, "confirmation_token": token})
            assert not done.is_error, text(done)
            replay_b = await b.call_tool("delete_vm", {"vm_id": db, "confirmation_token": token})
        replay_a = await a.call_tool("delete_vm", {"vm_id": db, "confirmation_token": token})
    for replay in (replay_b, replay_a):
        assert replay.is_error
        assert text(replay) == (f"VM db-1 ({db}) was not deleted: it is already being deleted (status 'deleting'). "
                                "Follow it with wait_for_vm target_status=deleted.")
    assert upstream_deletes(sandbox_url) == [f"/vm/api/v1/orgs/demo-org/projects/demo-project/vms/{db}"]


async def test_over_stateless_http_a_client_that_declares_elicitation_falls_back_to_a_token(sandbox_url: str) -> None:
    """Stateless HTTP has no back-channel on the handshake era: elicitation cannot happen, the token path must."""
    httpx2.post(f"{sandbox_url}/_sandbox/reset")
    port = free_port()
    params = server_process(sandbox_url, "stateless-secret-0123456789abcdef-0123456")
    args = [*params.args, "--transport", "http", "--stateless", "--port", str(port)]
    proc = subprocess.Popen([sys.executable, *args], env=params.env, stdin=subprocess.DEVNULL,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        for _ in range(200):
            try:
                httpx2.get(f"http://127.0.0.1:{port}/healthz", timeout=1)
                break
            except httpx2.TransportError:
                time.sleep(0.05)
        user = User("accept", "web-1")
        async with Client(f"http://127.0.0.1:{port}/mcp", mode="legacy", elicitation_callback=user) as client:
            vms = (await client.call_tool("list_vms", {})).structured_content["data"]
            web = next(vm["id"] for vm in vms if vm["name"] == "web-1")
            preview = await client.call_tool("delete_vm", {"vm_id": web})
            assert not preview.is_error and upstream_deletes(sandbox_url) == []
            token = preview.structured_content["confirmation_token"]
            done = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    assert user.asked == []
    assert not done.is_error, text(done)
    assert upstream_deletes(sandbox_url) == [f"/vm/api/v1/orgs/demo-org/projects/demo-project/vms/{web}"]
