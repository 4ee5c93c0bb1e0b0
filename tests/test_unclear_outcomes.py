"""Issue 12, finding 7: a create or start/stop/restart whose answer was lost is looked up, and the agent is told which
case it is in: created (applied) after all, or not created (not applied) and safe to call again. Through a real MCP
client against the sandbox's fault modes; the sandbox's state is the ground truth."""

from __future__ import annotations

import pytest
from mcp import Client

from neev_mcp.sandbox import Fault, Sandbox
from neev_mcp.unclear import MAX_PAGES

from .conftest import CREATE, MakeServer
from .support.upstream import result_text

CREATE_PATH = "/vms$"


def named(sandbox: Sandbox, name: str) -> list[str]:
    return [vm.id for vm in sandbox.vms.values() if vm.name == name]


def posts(sandbox: Sandbox) -> int:
    return len([r for r in sandbox.requests if r.method == "POST"])


def list_pages_read(sandbox: Sandbox) -> list[str]:
    """The VM list pages read after the create was sent (before it, create_vm looks for VMs with the same name)."""
    sent = next((i for i, r in enumerate(sandbox.requests) if r.method == "POST"), 0)
    return [r.query.get("page", "") for r in sandbox.requests[sent:] if r.method == "GET" and r.path.endswith("/vms")]


@pytest.mark.anyio
async def test_a_create_whose_answer_was_lost_is_reported_as_created_after_all(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.add_faults(Fault(kind="drop", when="after", method="POST", path_regex=CREATE_PATH))
    async with Client(make_server(), raise_exceptions=True) as client:
        result = await client.call_tool("create_vm", dict(CREATE))
    [vm_id] = named(sandbox, "web-2")  # exactly one VM
    assert not result.is_error
    assert result_text(result) == (
        "create_vm got no clear answer (The connection to NeevCloud broke during create_vm (RemoteProtocolError)), so "
        f"neev-mcp looked for the name: created after all: VM web-2 ({vm_id}) is 'pending', created "
        "2026-11-28T12:00:00Z (evidence: list_vms page(s) 1 of 1 (7 VMs) read at 2026-11-28T12:00:00Z). Do not call "
        f"create_vm again; next: wait_for_vm vm_id={vm_id} target_status=running."
    )
    assert (result.structured_content or {})["id"] == vm_id
    assert posts(sandbox) == 1


@pytest.mark.anyio
async def test_a_create_that_never_arrived_is_reported_as_safe_to_repeat_and_repeating_makes_one_vm(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.add_faults(Fault(kind="status", status=502, method="POST", path_regex=CREATE_PATH))
    async with Client(make_server(), raise_exceptions=True) as client:
        failed = await client.call_tool("create_vm", dict(CREATE))
        assert failed.is_error
        assert result_text(failed) == (
            "create_vm failed (HTTP 502 [bad_gateway] bad gateway: upstream VM service did not answer) and the VM was "
            "not created: no VM named 'web-2' was created since 2026-11-28T11:59:00Z (evidence: list_vms page(s) 1 of "
            "1 (6 VMs) read at 2026-11-28T12:00:00Z, every page). It is safe to call create_vm again."
        )
        assert (failed.structured_content or {})["created"] is False
        assert named(sandbox, "web-2") == []
        again = await client.call_tool("create_vm", dict(CREATE))
    assert not again.is_error, result_text(again)
    assert len(named(sandbox, "web-2")) == 1
    assert posts(sandbox) == 2  # the refused one (it never reached the service) and the repeat


@pytest.mark.anyio
async def test_an_older_vm_with_the_same_name_is_not_taken_for_the_new_one(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.add_faults(Fault(kind="drop", method="POST", path_regex=CREATE_PATH))  # before the service: not created
    async with Client(make_server(), raise_exceptions=True) as client:
        result = await client.call_tool("create_vm", {**CREATE, "name": "web-1"})
    assert result.is_error
    assert "the VM(s) named 'web-1' that exist were created before this call" in result_text(result)
    assert result_text(result).endswith("It is safe to call create_vm again.")
    assert len(named(sandbox, "web-1")) == 1


@pytest.mark.anyio
async def test_the_name_look_up_is_bounded_and_reads_the_newest_pages(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    sandbox.seed_bulk(1300)  # 14 pages of 100: more than the look-up reads
    sandbox.add_faults(Fault(kind="drop", when="after", method="POST", path_regex=CREATE_PATH))
    async with Client(make_server(), raise_exceptions=True) as client:
        found = await client.call_tool("create_vm", dict(CREATE))
        pages = list_pages_read(sandbox)
        assert not found.is_error and "created after all" in result_text(found)
        assert pages == ["1", *map(str, range(14 - MAX_PAGES + 2, 15))]  # page 1, then the last pages

        sandbox.clear_requests()
        sandbox.add_faults(Fault(kind="drop", method="POST", path_regex=CREATE_PATH))
        unknown = await client.call_tool("create_vm", {**CREATE, "name": "web-3"})
    # pages 2..5 were not read: no verdict, the original error and its advice stand
    assert unknown.is_error
    assert result_text(unknown).endswith("call list_vms and look for its name before trying again, so that no "
                                         "duplicate VM is created.")
    assert len(list_pages_read(sandbox)) == MAX_PAGES
    assert len(named(sandbox, "web-2")) == 1 and named(sandbox, "web-3") == []


@pytest.mark.anyio
async def test_a_stop_whose_answers_were_all_lost_reports_the_vms_status_as_evidence(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    web = sandbox.vm_by_name("web-1").id
    sandbox.add_faults(Fault(kind="status", status=502, when="after", count=-1, method="POST", path_regex="/stop$"))
    async with Client(make_server(), raise_exceptions=True) as client:
        result = await client.call_tool("stop_vm", {"vm_id": web})
    assert not result.is_error
    assert result_text(result) == (
        "stop_vm got no clear answer (HTTP 502 [bad_gateway] bad gateway: upstream VM service did not answer), but it "
        f"was applied: VM web-1 ({web}) is now 'stopping' (evidence: get_vm at 2026-11-28T12:00:00Z: status "
        "'stopping', last change 2026-11-28T12:00:00Z). Do not call stop_vm again."
    )
    assert sandbox.vms[web].status == "stopping"


@pytest.mark.anyio
@pytest.mark.parametrize("when", ["before", "after"])
async def test_a_restart_whose_answer_was_lost_says_whether_it_happened(
    make_server: MakeServer, sandbox: Sandbox, when: str
) -> None:
    vm = sandbox.vm_by_name("api-staging").id
    sandbox.add_faults(Fault(kind="drop", when=when, method="POST", path_regex="/restart$"))
    async with Client(make_server(), raise_exceptions=True) as client:
        result = await client.call_tool("restart_vm", {"vm_id": vm})
    text = result_text(result)
    restarts = [r for r in sandbox.requests if r.path.endswith("/restart")]
    assert len(restarts) == 1  # never re-sent
    if when == "after":
        assert not result.is_error
        assert "but it was applied: VM api-staging" in text and "is now 'restarting'" in text
        assert sandbox.vms[vm].status == "restarting"
    else:
        assert result.is_error
        assert f"and was not applied: VM api-staging ({vm}) is still 'running'" in text
        assert text.endswith("It is safe to call restart_vm again.")
        assert sandbox.vms[vm].status == "running"
