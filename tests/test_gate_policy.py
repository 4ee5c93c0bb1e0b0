"""Policies around the gate: read-only, off, mutating, and requests refused before any confirmation round."""

from __future__ import annotations

import re
import uuid
from pathlib import Path

import pytest
from mcp import Client

from neev_mcp.sandbox import Sandbox, SimClock

from .conftest import CREATE, MakeServer, vm_path
from .support import disk_id, text, vm_id
from .support.gate import MODES, User, events, upstream

pytestmark = pytest.mark.anyio

READ_TOOLS = ["list_vms", "get_vm", "list_root_disk_volumes", "get_root_disk_volume", "project_overview",
              "wait_for_vm", "vm_options"]


# -- read-only -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
async def test_read_only_mode_lists_only_read_only_tools(mode: str, make_server: MakeServer) -> None:
    async with Client(make_server(read_only=True), mode=mode) as client:
        tools = (await client.list_tools()).tools
    assert [t.name for t in tools] == READ_TOOLS
    assert all(t.annotations.read_only_hint for t in tools)


@pytest.mark.parametrize("tool", ["delete_vm", "delete_root_disk_volume", "create_vm", "start_vm", "stop_vm",
                                  "restart_vm"])
async def test_read_only_mode_refuses_a_hidden_tool_called_by_name_and_sends_nothing(
    tool: str, make_server: MakeServer, sandbox: Sandbox
) -> None:
    user = User("accept", "web-1")
    async with Client(make_server(read_only=True), elicitation_callback=user) as client:
        result = await client.call_tool(tool, {"vm_id": vm_id(sandbox, "web-1")})
    assert result.is_error
    assert text(result) == (f"{tool} is disabled: this server runs in read-only mode (--read-only / NEEV_READ_ONLY). "
                            "Nothing was changed.")
    assert sandbox.requests == []
    assert user.asked == []


# -- off -------------------------------------------------------------------------------------------------------------
async def test_with_confirm_off_a_delete_runs_at_once_and_the_tool_has_no_token_argument(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    server = make_server(confirm="off")
    web = vm_id(sandbox, "web-1")
    async with Client(server) as client:
        delete_vm = next(t for t in (await client.list_tools()).tools if t.name == "delete_vm")
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert "confirmation_token" not in delete_vm.input_schema["properties"]
    assert delete_vm.annotations.destructive_hint is True
    assert not result.is_error
    assert upstream(sandbox, "DELETE") == [vm_path(web)]


def test_confirm_off_is_announced_loudly_at_start_up(caplog: pytest.LogCaptureFixture) -> None:
    from neev_mcp.cli import announce
    from neev_mcp.config import CONFIRM_OFF_WARNING, Settings

    with caplog.at_level("WARNING"):
        announce(Settings(confirm="off", api_token="a" * 20))
    assert CONFIRM_OFF_WARNING in caplog.text
    assert CONFIRM_OFF_WARNING.startswith("NEEV_CONFIRM=off: destructive tools run WITHOUT human confirmation")


# -- destructive (default) -------------------------------------------------------------------------------------------
async def test_by_default_only_the_two_destructive_tools_take_a_confirmation_token(client: Client) -> None:
    tools = (await client.list_tools()).tools
    gated = [t.name for t in tools if "confirmation_token" in t.input_schema["properties"]]
    assert gated == ["delete_vm", "delete_root_disk_volume"]
    assert all(t.annotations.destructive_hint for t in tools if t.name in gated)


async def test_by_default_actions_are_not_gated(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("stop_vm", {"vm_id": vm_id(sandbox, "web-1")})
    assert not result.is_error, text(result)
    assert upstream(sandbox, "POST") == [vm_path(vm_id(sandbox, "web-1"), "/stop")]


# -- mutating --------------------------------------------------------------------------------------------------------
async def test_the_mutating_policy_gates_create_start_stop_and_restart_too(make_server: MakeServer) -> None:
    async with Client(make_server(confirm="mutating")) as client:
        tools = (await client.list_tools()).tools
    gated = [t.name for t in tools if "confirmation_token" in t.input_schema["properties"]]
    assert gated == ["create_vm", "delete_vm", "delete_root_disk_volume", "start_vm", "stop_vm", "restart_vm"]


@pytest.mark.parametrize("mode", MODES)
async def test_under_the_mutating_policy_a_stop_is_asked_for_and_sent_once_after_confirmation(
    mode: str, make_server: MakeServer, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    user = User("accept", "web-1")
    async with Client(make_server(confirm="mutating"), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("stop_vm", {"vm_id": web})
    assert not result.is_error, text(result)
    assert user.asked[0].message.startswith(
        f"Stop VM web-1 ({web}): status running, public IP 203.0.113.10. It shuts down: running processes stop and "
        "unsaved in-memory state is lost.\n\nTo stop VM web-1, type its name exactly: web-1"
    )
    assert upstream(sandbox, "POST") == [vm_path(web, "/stop")]


async def test_under_the_mutating_policy_a_create_previews_the_requested_spec_reading_only_the_vm_names(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    lookup = ("GET", vm_path(), {"page": "1", "limit": "100"})  # which VMs already have the name (none here)
    async with Client(make_server(confirm="mutating")) as client:
        preview = await client.call_tool("create_vm", CREATE)
        assert [(r.method, r.path, r.query) for r in sandbox.requests] == [lookup]
        token = preview.structured_content["confirmation_token"]
        other = await client.call_tool("create_vm", {**CREATE, "plan_id": "monthly", "confirmation_token": token})
        assert other.is_error
        assert [(r.method, r.path, r.query) for r in sandbox.requests] == [lookup, lookup]
        created = await client.call_tool("create_vm", {**CREATE, "confirmation_token": token})
        replay = await client.call_tool("create_vm", {**CREATE, "confirmation_token": token})
    assert text(preview).startswith(
        "Create VM web-2 in region in-mum-1 with configuration vcpu-4-ram-16, plan hourly, a new 40 GB root disk "
        "web-2-root from image ubuntu-24.04. Exposed ports: 443/tcp. SSH keys: 0. On VM deletion the root disk will "
        "be deleted with it. It starts accruing charges once it is running."
    )
    assert preview.structured_content["target"] == {"id": None, "name": "web-2"}
    assert text(other) == ("VM web-2 (new) was not created: confirmation_token is not valid for this call: it is "
                           "malformed, forged, or was issued for another VM, other arguments or another tool. Call "
                           "create_vm again without confirmation_token for a fresh preview, show it to the user, and "
                           "use the token it returns.")
    assert not created.is_error, text(created)
    assert replay.is_error
    assert text(replay) == ("VM web-2 (new) was not created: this confirmation has already been used. Each "
                            "confirmation runs once; call create_vm again without confirmation_token if the user "
                            "wants it done again.")
    assert upstream(sandbox, "POST") == [vm_path()]
    assert [r.body for r in sandbox.requests if r.method == "POST"] == [CREATE]


async def test_a_restart_token_replayed_in_the_same_process_restarts_only_once(
    make_server: MakeServer, sandbox: Sandbox, clock: SimClock, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(confirm="mutating", audit_log=audit)) as client:
        preview = await client.call_tool("restart_vm", {"vm_id": web})
        token = preview.structured_content["confirmation_token"]
        first = await client.call_tool("restart_vm", {"vm_id": web, "confirmation_token": token})
        clock.advance(60)  # running again: every fact the preview stated holds, so only the replay store stops it
        second = await client.call_tool("restart_vm", {"vm_id": web, "confirmation_token": token})
    assert not first.is_error, text(first)
    assert second.is_error
    assert text(second).startswith(f"VM web-1 ({web}) was not restarted: this confirmation has already been used.")
    assert upstream(sandbox, "POST") == [vm_path(web, "/restart")]
    assert [e[0] for e in events(audit)] == ["requested", "confirmed", "executed", "confirmed", "invalid"]


# -- impossible requests: refused before any confirmation round --------------------------------------------------------
@pytest.mark.parametrize("mode", MODES)
async def test_a_vm_that_does_not_exist_is_refused_without_asking(
    mode: str, server, sandbox: Sandbox
) -> None:
    ghost = str(uuid.UUID(int=42))
    user = User("accept", "anything")
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_vm", {"vm_id": ghost})
    assert result.is_error
    assert text(result) == (f"VM {ghost} was not deleted: it does not exist in project demo-org/demo-project "
                            "(HTTP 404). Take ids from list_vms.")
    assert user.asked == []
    assert upstream(sandbox, "DELETE") == []


@pytest.mark.parametrize("mode", MODES)
async def test_an_attached_root_disk_is_refused_without_asking_and_the_vm_holding_it_is_named(
    mode: str, server, sandbox: Sandbox
) -> None:
    disk, web = disk_id(sandbox, "web-1-root"), vm_id(sandbox, "web-1")
    user = User("accept", "web-1-root")
    async with Client(server, mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_root_disk_volume", {"root_disk_id": disk})
    assert result.is_error
    assert text(result) == (
        f"root disk web-1-root ({disk}) was not deleted: it is attached to VM web-1 ({web}). Only unattached root "
        "disks can be deleted: delete that VM first (its root disk is then detached and kept unless the VM was "
        "created with delete_root_disk=true)."
    )
    assert user.asked == []
    assert upstream(sandbox, "DELETE") == []


async def test_a_vm_already_deleting_is_refused_without_asking_or_minting_a_token(
    server, sandbox: Sandbox, tmp_path: Path
) -> None:
    web = vm_id(sandbox, "web-1")
    sandbox.state.delete_vm(sandbox.org_id, sandbox.project_id, web)
    async with Client(server) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error
    assert "confirmation_token" not in result.structured_content
    assert text(result) == (f"VM web-1 ({web}) was not deleted: it is already being deleted (status 'deleting'). "
                            "Follow it with wait_for_vm target_status=deleted.")
    assert upstream(sandbox, "DELETE") == []


async def test_the_audit_log_gets_one_json_line_per_decision_and_never_a_token(
    make_server: MakeServer, sandbox: Sandbox, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    caplog.set_level("INFO", logger="neev_mcp.audit")
    async with Client(make_server(audit_log=audit)) as client:
        preview = await client.call_tool("delete_vm", {"vm_id": web})
        token = preview.structured_content["confirmation_token"]
        await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    lines = audit.read_text().splitlines()
    assert lines == [r.getMessage() for r in caplog.records if r.name == "neev_mcp.audit"]
    # in-process (no inbound auth) the caller is `local`; over HTTP it is the token's subject or bearer hash; the trace
    # id joins the line with the call's trace
    assert re.fullmatch('{"time":"2026-11-28T12:00:00Z","event":"requested","caller":"local","tool":"delete_vm",'
                        f'"target_id":"{web}","target_name":"web-1","channel":"token",'
                        '"trace_id":"[0-9a-f]{32}"}', lines[0]), lines[0]
    assert [e[0] for e in events(audit)] == ["requested", "confirmed", "executed"]
    assert token not in audit.read_text() and token not in caplog.text
    assert "test-secret-for-neev-mcp" not in audit.read_text() + caplog.text
