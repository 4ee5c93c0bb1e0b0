"""Every tool through a real MCP client against a sandbox that fails the ways real networks and gateways do.

For each tool and each fault mode: no crash and no JSON-RPC error (the client raises on one), an `isError` result with
text an agent can act on (or the answer itself, when a retry got through), the server answers the next call normally,
and the upstream log shows no mutation sent twice. Faults hit the tool's own request (method + path).
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any, Literal

import pytest
from mcp import Client

from neev_mcp.sandbox import Fault, Sandbox
from neev_mcp.server import NeevServer

from .conftest import MakeServer
from .support import text as text_of

READ_TIMEOUT = 0.1  # NEEV_READ_TIMEOUT for this suite: a `slow` fault of 2 s is a timeout
ATTEMPTS = 3
NEW_VM = "fault-vm"

Kind = Literal["read", "idempotent", "once"]


@dataclass(frozen=True)
class ToolCase:
    tool: str
    kind: Kind  # read / idempotent action: may be retried; once: never re-sent after it may have arrived
    method: str
    path: str  # regex on the API path after the base path (what Fault.path_regex matches)
    args: Callable[[Sandbox], dict[str, Any]]


def vm(name: str) -> Callable[[Sandbox], dict[str, Any]]:
    return lambda sb: {"vm_id": sb.vm_by_name(name).id}


def old_disk(sb: Sandbox) -> dict[str, Any]:
    return {"root_disk_id": next(d.id for d in sb.root_disks.values() if d.name == "old-root-disk")}


CREATE_ARGS = {
    "name": NEW_VM, "region_id": "in-mum-1", "vm_config_id": "vcpu-4-ram-16", "plan_id": "hourly",
    "root_disk": {"create_disk_request": {"name": "fault-vm-root", "size_gb": 40, "image_id": "ubuntu-24.04"}},
}
VM_ITEM = "/vms/[0-9a-f-]+"
CASES = [
    ToolCase("list_vms", "read", "GET", "/vms$", lambda sb: {}),
    ToolCase("create_vm", "once", "POST", "/vms$", lambda sb: dict(CREATE_ARGS)),
    ToolCase("get_vm", "read", "GET", VM_ITEM + "$", vm("web-1")),
    ToolCase("delete_vm", "once", "DELETE", VM_ITEM + "$", vm("db-1")),
    ToolCase("start_vm", "idempotent", "POST", VM_ITEM + "/start$", vm("db-1")),
    ToolCase("stop_vm", "idempotent", "POST", VM_ITEM + "/stop$", vm("web-1")),
    ToolCase("restart_vm", "once", "POST", VM_ITEM + "/restart$", vm("api-staging")),
    ToolCase("list_root_disk_volumes", "read", "GET", "/root_disks$", lambda sb: {}),
    ToolCase("get_root_disk_volume", "read", "GET", "/root_disks/[0-9a-f-]+$", old_disk),
    ToolCase("delete_root_disk_volume", "once", "DELETE", "/root_disks/[0-9a-f-]+$", old_disk),
    ToolCase("project_overview", "read", "GET", "/vms$", lambda sb: {}),
    ToolCase("vm_options", "read", "GET", "/vms$", lambda sb: {}),
    ToolCase("wait_for_vm", "read", "GET", VM_ITEM + "$", lambda sb: {**vm("web-1")(sb), "target_status": "running"}),
]
IDS = [c.tool for c in CASES]


@dataclass(frozen=True)
class Mode:
    name: str
    fault: dict[str, Any]
    reaches_service: bool  # did the (first) request act on the simulated cloud?
    text: str  # what the error text of a request that is not retried contains


# One hit each: a read or an idempotent action gets through on the retry; a mutation that may have arrived does not.
ONE_SHOT = [
    Mode("burst of two 500s", {"kind": "status", "status": 500, "count": 2}, False, "HTTP 500 [internal_error]"),
    Mode("429 with Retry-After", {"kind": "status", "status": 429, "retry_after": 0.05}, False,
         "Rate limited; retry after 0.05 s."),
    Mode("slow answer (timeout)", {"kind": "slow", "delay": 2.0}, False, "did not answer"),
    Mode("malformed JSON", {"kind": "malformed"}, True, "is not valid JSON"),
    Mode("HTML instead of JSON", {"kind": "non_json", "status": 502}, False, "HTTP 502"),
    Mode("dropped connection", {"kind": "drop"}, False, "The connection to NeevCloud broke"),
    Mode("500 after the service acted", {"kind": "status", "status": 500, "when": "after"}, True, "HTTP 500"),
    Mode("dropped after the service acted", {"kind": "drop", "when": "after"}, True,
         "The connection to NeevCloud broke"),
    Mode("slow after the service acted", {"kind": "slow", "delay": 2.0, "when": "after"}, True, "did not answer"),
]

UNSURE = {
    "create_vm": "The VM may or may not have been created: call list_vms and look for its name before trying again, "
    "so that no duplicate VM is created.",
    "delete_vm": "The deletion may or may not have been accepted: call get_vm to see whether the VM is 'deleting' "
    "before asking again.",
    "delete_root_disk_volume": "The deletion may or may not have been accepted: call get_root_disk_volume to check "
    "before asking again.",
    "restart_vm": "The restart may or may not have been accepted: call get_vm to check its status first.",
}
# a mutation whose last attempt may have come after the service acted: the server looks what happened (unclear.py)
SETTLED = {"create_vm": ("and the VM was not created", "created after all"),
           "restart_vm": ("and was not applied", "but it was applied"),
           "start_vm": ("and was not applied", "but it was applied"),
           "stop_vm": ("and was not applied", "but it was applied")}
EARLIER_ATTEMPT = ("An earlier attempt of this call got no clear answer and may have been applied already, which would "
                   "explain this refusal: call get_vm to see the VM's current status before trying again.")


@pytest.fixture
def fault_server(make_server: MakeServer) -> NeevServer:
    # Confirmation is the gate's business (tested there); here deletes must reach the client's retry logic.
    return make_server(confirm="off", read_timeout=READ_TIMEOUT, max_attempts=ATTEMPTS, retry_backoff=0.0)


@pytest.fixture
async def mcp_client(fault_server: NeevServer) -> AsyncIterator[Client]:
    async with Client(fault_server, raise_exceptions=True) as c:
        yield c



def hits(sb: Sandbox, case: ToolCase) -> list[Any]:
    return [r for r in sb.requests
            if r.method == case.method and re.search(case.path, r.path[len(sb.base_path):])]


async def answers_normally(client: Client, sb: Sandbox) -> None:
    sb.clear_faults()
    follow_up = await client.call_tool("get_vm", {"vm_id": sb.vm_by_name("web-1").id})
    assert not follow_up.is_error, text_of(follow_up)
    assert "web-1" in text_of(follow_up)


@pytest.mark.anyio
@pytest.mark.parametrize("mode", ONE_SHOT, ids=[m.name for m in ONE_SHOT])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_one_fault_is_retried_away_for_reads_and_never_duplicates_a_mutation(
    case: ToolCase, mode: Mode, sandbox: Sandbox, mcp_client: Client
) -> None:
    args = case.args(sandbox)
    sandbox.add_faults(Fault(**mode.fault, method=case.method, path_regex=case.path))
    sandbox.clear_requests()
    vms_before = {v.name for v in sandbox.vms.values()}

    result = await mcp_client.call_tool(case.tool, args)

    sent = hits(sandbox, case)
    if case.kind == "once" and case.tool in SETTLED and mode.fault.get("status") != 429:  # 429: nothing done
        not_applied, applied = SETTLED[case.tool]
        assert result.is_error is not mode.reaches_service, text_of(result)
        assert (applied if mode.reaches_service else not_applied) in text_of(result)
        assert mode.text in text_of(result)
        assert len(sent) == (0 if mode.fault["kind"] == "slow" else 1), "a mutation was sent more than once"
    elif case.kind == "once":
        assert result.is_error, text_of(result)
        assert mode.text in text_of(result)
        if mode.fault.get("status") != 429:
            assert text_of(result).endswith(UNSURE[case.tool])
        timed_out_before_recording = mode.fault["kind"] == "slow"
        assert len(sent) == (0 if timed_out_before_recording else 1), "a mutation was sent more than once"
    elif case.kind == "idempotent" and mode.reaches_service:
        # The first start/stop took effect but its answer was lost; the retry meets a VM in transition and is
        # refused. Nothing is applied twice, and the agent is told why it sees a refusal.
        assert result.is_error, text_of(result)
        assert text_of(result).endswith(EARLIER_ATTEMPT)
        assert sandbox.vms[args["vm_id"]].status in ("starting", "stopping")
    else:
        assert not result.is_error, text_of(result)
        assert len(sent) >= 1 + (mode.fault.get("count", 1) if mode.fault["kind"] != "slow" else 0)
    if case.tool == "create_vm":
        created = [v for v in sandbox.vms.values() if v.name == NEW_VM]
        assert len(created) == (1 if mode.reaches_service else 0)
        assert NEW_VM not in vms_before
    await answers_normally(mcp_client, sandbox)


PERSISTENT = [
    Mode("500s that never stop", {"kind": "status", "status": 500, "count": -1}, False, "HTTP 500"),
    Mode("503 with a Retry-After beyond the cap", {"kind": "status", "status": 503, "retry_after": 3600, "count": -1},
         False, "It asked to retry after 3600 s."),
    Mode("every answer malformed", {"kind": "malformed", "count": -1}, True, "is not valid JSON"),
    Mode("every connection dropped", {"kind": "drop", "count": -1}, False, "The connection to NeevCloud broke"),
    Mode("always slower than the timeout", {"kind": "slow", "delay": 2.0, "count": -1}, False, "did not answer"),
]


@pytest.mark.anyio
@pytest.mark.parametrize("mode", PERSISTENT, ids=[m.name for m in PERSISTENT])
@pytest.mark.parametrize("case", CASES, ids=IDS)
async def test_a_fault_that_persists_gives_a_clear_error_and_the_server_recovers(
    case: ToolCase, mode: Mode, sandbox: Sandbox, mcp_client: Client
) -> None:
    args = case.args(sandbox)
    sandbox.add_faults(Fault(**mode.fault, method=case.method, path_regex=case.path))
    sandbox.clear_requests()

    result = await mcp_client.call_tool(case.tool, args)

    text = text_of(result)
    if case.tool in SETTLED and (case.kind == "once" or not mode.reaches_service):
        # the look-up says what happened (every fault here hits only the mutation itself)
        not_applied, applied = SETTLED[case.tool]
        assert result.is_error is not mode.reaches_service, text
        assert (applied if mode.reaches_service else not_applied) in text and mode.text in text
        assert len(hits(sandbox, case)) <= (1 if case.kind == "once" else ATTEMPTS)
        await answers_normally(mcp_client, sandbox)
        return
    assert result.is_error
    if not (case.kind == "idempotent" and mode.reaches_service):  # the retry's refusal is the error shown
        assert mode.text in text
    assert "Traceback" not in text and "internal error in neev-mcp" not in text
    structured = result.structured_content or {}
    assert structured.get("message") == text
    sent = hits(sandbox, case)
    if case.kind == "once":
        assert text.endswith(UNSURE[case.tool])
        assert len(sent) <= 1
    elif case.kind == "idempotent" and mode.reaches_service:
        assert text.endswith(EARLIER_ATTEMPT)
        assert "(gave up after 2 attempts)" in text
    elif "beyond the cap" in mode.name:
        assert len(sent) == 1  # an hour's pause is the agent's call, not a hung tool call
        assert structured.get("retry_after") == 3600
    else:
        assert "(gave up after 3 attempts)" in text
        if mode.fault["kind"] != "slow":  # a timed-out request is cancelled before the sandbox records it
            assert len(sent) == ATTEMPTS
    await answers_normally(mcp_client, sandbox)


@pytest.mark.anyio
async def test_a_burst_of_500s_on_every_route_still_lets_project_overview_through(
    sandbox: Sandbox, mcp_client: Client
) -> None:
    sandbox.add_faults(Fault(kind="status", status=503, count=2))  # first two requests of any kind
    result = await mcp_client.call_tool("project_overview", {})
    assert not result.is_error, text_of(result)
    assert [r.status for r in sandbox.requests][:3] == [503, 503, 200]
