"""project_overview and wait_for_vm through a real mcp.Client against the sandbox.

The sandbox clock is frozen by default (tests/conftest.py); wait tests that need the VM to move set the clock's
speed, and every server here polls fast (`FAST`) so the suite stays quick.
"""

from __future__ import annotations

from typing import Any

import anyio
import httpx2
import jsonschema
import pytest
from mcp import Client

from neev_mcp.agent_tools import Limits
from neev_mcp.config import Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, SimClock
from neev_mcp.server import NeevServer, build_server

from .conftest import BASE_URL, ORG, PROJECT, MakeServer, api_requests, vm_path
from .support import vm_id

FAST = Limits(poll_initial=0.01, poll_factor=1.5, poll_max=0.05)
DISKS = f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/root_disks"


@pytest.fixture
def fast_server(make_server: MakeServer) -> NeevServer:
    return make_server(limits=FAST)


@pytest.fixture
async def fast_client(fast_server: NeevServer) -> Any:
    async with Client(fast_server, raise_exceptions=True) as c:
        yield c



def pages_requested(sandbox: Sandbox) -> list[tuple[str, str, str]]:
    return sorted((r.path, r.query["page"], r.query["limit"]) for r in api_requests(sandbox, "GET"))


# -- project_overview ----------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_the_overview_reads_page_one_of_vms_and_disks_and_summarises_the_project(
    fast_client: Client, sandbox: Sandbox
) -> None:
    result = await fast_client.call_tool("project_overview", {})
    assert not result.is_error
    assert pages_requested(sandbox) == [(DISKS, "1", "100"), (vm_path(), "1", "100")]
    lines = result.content[0].text.splitlines()
    assert lines[0] == "Project demo-org/demo-project: 6 VMs — 3 running, 1 stopped, 1 failed, 1 provisioning."
    assert lines[2] == (f"- provisioning failed: no H100 capacity in in-mum-1; retry later or pick another region (1): "
                        f"batch-7 ({vm_id(sandbox, 'batch-7')})")
    assert f"- etl-2 ({vm_id(sandbox, 'etl-2')}): provisioning (in transition: " in result.content[0].text
    assert "Root disks: 7 (6 attached, 1 unattached using 100 GB — " in result.content[0].text
    structured = result.structured_content
    assert structured["vm_by_status"] == {"running": 3, "stopped": 1, "failed": 1, "provisioning": 1}
    assert structured["unattached_total_gb"] == 100 and structured["complete"] is True


@pytest.mark.anyio
async def test_the_overview_of_a_thousand_vms_reads_every_page_once_and_stays_bounded(
    fast_client: Client, sandbox: Sandbox
) -> None:
    sandbox.seed_bulk(1000)
    result = await fast_client.call_tool("project_overview", {})
    expected = sorted([(path, str(p), "100") for path in (vm_path(), DISKS) for p in range(1, 12)])
    assert pages_requested(sandbox) == expected
    assert len(result.content[0].text) < 6000
    assert result.content[0].text.splitlines()[0] == (
        "Project demo-org/demo-project: 1006 VMs — 703 running, 201 stopped, 101 failed, 1 provisioning.")
    assert result.structured_content["vm_total"] == 1006
    assert result.structured_content["reads"]["vms"] == {"pages_read": 11, "total_pages": 11, "items_read": 1006,
                                                         "total_items": 1006}


class InFlight(httpx2.AsyncBaseTransport):
    """Counts concurrent requests on their way to the sandbox (a network stand-in, not a mock of our code)."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner, self.now, self.peak = inner, 0, 0

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        self.now += 1
        self.peak = max(self.peak, self.now)
        try:
            await anyio.sleep(0.005)  # hold the slot so overlapping requests are visible
            return await self.inner.handle_async_request(request)
        finally:
            self.now -= 1


@pytest.mark.anyio
async def test_the_overview_walks_pages_with_bounded_concurrency(sandbox: Sandbox, clock: SimClock) -> None:
    sandbox.seed_bulk(1000)
    counting = InFlight(sandbox.transport())
    server = build_server(Settings(api_token=DEFAULT_TOKEN, api_base_url=BASE_URL, org_id=ORG, project_id=PROJECT),
                          http_transport=counting, now=clock.now, limits=Limits(concurrency=3, max_concurrency=3))
    async with Client(server) as c:
        result = await c.call_tool("project_overview", {})
    assert not result.is_error
    assert counting.peak == 3
    assert len(api_requests(sandbox)) == 22


@pytest.mark.anyio
async def test_an_overview_whose_page_fails_is_an_error_with_the_api_message(
    fast_client: Client, sandbox: Sandbox
) -> None:
    sandbox.seed_bulk(150)
    sandbox.add_faults(Fault(kind="status", status=403, method="GET", path_regex=r"/root_disks$", count=-1))
    result = await fast_client.call_tool("project_overview", {})
    assert result.is_error
    assert result.content[0].text.startswith("NeevCloud refused list_root_disk_volumes: HTTP 403 [forbidden]")


# -- wait_for_vm ---------------------------------------------------------------------------------------------------
@pytest.mark.slow
@pytest.mark.anyio
async def test_a_client_that_gives_up_after_60_s_waits_for_a_slow_vm_without_an_error(
    make_server: MakeServer, sandbox: Sandbox, clock: SimClock
) -> None:
    """Issue 13: the TypeScript SDK times a request out after 60 s. With the production poll pace and the default
    timeout, a VM that takes longer is several calls, each ending in time and naming the next one. ~45 s real."""
    etl = vm_id(sandbox, "etl-2")  # frozen clock: provisioning until this test moves time
    seen: list[float] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(progress)

    async with Client(make_server(), raise_exceptions=True, read_timeout_seconds=60) as client:
        schema = next(t for t in (await client.list_tools()).tools if t.name == "wait_for_vm").input_schema
        assert schema["properties"]["timeout_seconds"]["default"] == 40
        assert schema["properties"]["timeout_seconds"]["maximum"] == 55
        started = anyio.current_time()
        first = await client.call_tool("wait_for_vm", {"vm_id": etl, "target_status": "running"},
                                       progress_callback=on_progress)  # an -32001 here would raise
        took = anyio.current_time() - started
        assert 40 <= took < 50, took
        assert not first.is_error and first.structured_content["timed_out"] is True
        assert first.content[0].text.startswith(f"Still waiting after 40s: VM etl-2 ({etl}) is provisioning")
        assert first.structured_content["status"] == "provisioning"
        assert 40 <= first.structured_content["elapsed_seconds"] < 50
        assert len(seen) >= 5 and seen == sorted(seen)  # progress arrived all along (1 s, then x1.5 up to 10 s)
        again = first.structured_content["continue_with"]
        assert again == {"tool": "wait_for_vm", "arguments": {"org_id": ORG, "project_id": PROJECT, "vm_id": etl,
                                                               "target_status": "running", "timeout_seconds": 40}}

        async def boot_later() -> None:
            await anyio.sleep(1.5)
            clock.advance(60)  # the VM gets there during the second call

        async with anyio.create_task_group() as tg:
            tg.start_soon(boot_later)
            second = await client.call_tool(again["tool"], again["arguments"])
    assert not second.is_error and second.structured_content["reached"] is True
    assert second.content[0].text.startswith("Reached running after ")


@pytest.mark.anyio
async def test_waiting_for_a_booting_vm_reports_progress_until_it_runs(
    fast_client: Client, sandbox: Sandbox, clock: SimClock
) -> None:
    seen: list[tuple[float, float | None, str | None]] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append((progress, total, message))

    etl = vm_id(sandbox, "etl-2")
    clock.speed = 40  # the 4 simulated seconds to 'running' pass in 0.1 s
    result = await fast_client.call_tool("wait_for_vm", {"vm_id": etl, "target_status": "running",
                                                         "timeout_seconds": 30}, progress_callback=on_progress)
    assert not result.is_error
    assert result.content[0].text.startswith("Reached running after ")
    assert f"VM etl-2 ({etl}) is running: in-mum-1, vcpu-8-ram-32" in result.content[0].text
    assert result.structured_content["reached"] is True and result.structured_content["status"] == "running"
    assert result.structured_content["vm"]["public_ip"]
    messages = [m or "" for _, _, m in seen]
    assert messages[0].startswith(f"etl-2 ({etl}): provisioning (in transition: ")
    assert messages[-1].startswith(f"etl-2 ({etl}): running after ")
    assert [p for p, _, _ in seen] == sorted({p for p, _, _ in seen})  # strictly increasing
    assert {t for _, t, _ in seen} == {30.0}
    gets = api_requests(sandbox, "GET")
    assert {r.path for r in gets} == {vm_path(etl)} and len(gets) == len(seen)


@pytest.mark.anyio
async def test_a_handshake_era_client_gets_the_same_progress(fast_server: NeevServer, sandbox: Sandbox,
                                                             clock: SimClock) -> None:
    seen: list[str] = []

    async def on_progress(progress: float, total: float | None, message: str | None) -> None:
        seen.append(message or "")

    clock.speed = 40
    async with Client(fast_server, mode="legacy") as c:
        result = await c.call_tool("wait_for_vm", {"vm_id": vm_id(sandbox, "etl-2"), "target_status": "running"},
                                   progress_callback=on_progress)
    assert not result.is_error
    assert " running after " in seen[-1]


@pytest.mark.anyio
async def test_waiting_stops_at_once_on_a_failed_vm_with_its_message(fast_client: Client, sandbox: Sandbox) -> None:
    batch = vm_id(sandbox, "batch-7")
    result = await fast_client.call_tool("wait_for_vm", {"vm_id": batch, "target_status": "running"})
    assert result.is_error
    assert result.content[0].text.splitlines()[0] == (
        f"VM batch-7 ({batch}) FAILED while waiting for running: provisioning failed: no H100 capacity in "
        "in-mum-1; retry later or pick another region.")
    assert len(api_requests(sandbox)) == 1
    assert result.structured_content["status"] == "failed" and result.structured_content["reached"] is False


@pytest.mark.anyio
async def test_a_deleted_vm_is_reached_when_the_api_answers_404(
    make_server: MakeServer, sandbox: Sandbox, clock: SimClock
) -> None:
    server = make_server(confirm="off", limits=FAST)
    db = vm_id(sandbox, "db-1")
    clock.speed = 40
    async with Client(server) as c:
        assert not (await c.call_tool("delete_vm", {"vm_id": db})).is_error
        result = await c.call_tool("wait_for_vm", {"vm_id": db, "target_status": "deleted"})
    assert not result.is_error
    assert result.content[0].text.startswith(f"VM db-1 ({db}) is deleted: it no longer exists (HTTP 404), checked ")
    assert result.structured_content["reached"] is True and result.structured_content["status"] == "deleted"
    assert api_requests(sandbox)[-1].status == 404


@pytest.mark.anyio
async def test_a_vm_settled_in_another_status_ends_the_wait_with_advice(fast_client: Client, sandbox: Sandbox) -> None:
    db = vm_id(sandbox, "db-1")
    result = await fast_client.call_tool("wait_for_vm", {"vm_id": db, "target_status": "running"})
    assert result.is_error
    assert result.content[0].text == (f"VM db-1 ({db}) is stopped and not changing: it will not become running by "
                                      "itself. Call start_vm first, then wait_for_vm again.")
    assert len(api_requests(sandbox)) == FAST.stable_checks


@pytest.mark.anyio
async def test_waiting_for_a_vm_that_does_not_exist_is_an_error(fast_client: Client, sandbox: Sandbox) -> None:
    ghost = "00000000-0000-4000-8000-000000000000"
    result = await fast_client.call_tool("wait_for_vm", {"vm_id": ghost, "target_status": "running"})
    assert result.is_error
    assert result.content[0].text == (f"VM {ghost} does not exist in project demo-org/demo-project (HTTP 404): it "
                                      "may have been deleted, or the id is wrong. It cannot become running; list_vms "
                                      "shows the VMs there are.")


@pytest.mark.anyio
async def test_a_timeout_is_not_an_error_and_says_the_last_status(fast_client: Client, sandbox: Sandbox) -> None:
    etl = vm_id(sandbox, "etl-2")  # the clock is frozen: it stays provisioning
    result = await fast_client.call_tool("wait_for_vm", {"vm_id": etl, "target_status": "running",
                                                         "timeout_seconds": 1})
    assert not result.is_error
    assert result.content[0].text == (
        f"Still waiting after 1s: VM etl-2 ({etl}) is provisioning (in transition: allocating compute and cloning "
        "root disk), not yet running. This is not a failure: call wait_for_vm again with the same arguments to keep "
        "waiting (structuredContent.continue_with has them), or get_vm to look.")
    assert result.structured_content["timed_out"] is True and result.structured_content["status"] == "provisioning"
    assert result.structured_content["continue_with"] == {
        "tool": "wait_for_vm",
        "arguments": {"org_id": ORG, "project_id": PROJECT, "vm_id": etl, "target_status": "running",
                      "timeout_seconds": 1}}
    assert len(api_requests(sandbox)) >= 10  # it kept polling (fast limits) until the deadline


@pytest.mark.anyio
async def test_cancelling_the_call_stops_the_polling(fast_client: Client, sandbox: Sandbox) -> None:
    etl = vm_id(sandbox, "etl-2")  # frozen clock: the wait would run for the full 55 s
    with anyio.move_on_after(0.2) as scope:
        await fast_client.call_tool("wait_for_vm", {"vm_id": etl, "target_status": "running", "timeout_seconds": 55})
    assert scope.cancelled_caught
    await anyio.sleep(0.1)  # let the cancellation reach the server
    polled = len(api_requests(sandbox))
    await anyio.sleep(0.3)  # six poll intervals at FAST.poll_max
    assert polled > 0 and len(api_requests(sandbox)) == polled


@pytest.mark.anyio
async def test_wait_for_vm_refuses_a_target_outside_its_enum(fast_client: Client, sandbox: Sandbox) -> None:
    result = await fast_client.call_tool("wait_for_vm", {"vm_id": vm_id(sandbox, "web-1"), "target_status": "paused"})
    assert result.is_error and "target_status" in result.content[0].text
    assert api_requests(sandbox) == []


@pytest.mark.anyio
async def test_every_helper_result_conforms_to_its_output_schema_errors_included(
    fast_client: Client, sandbox: Sandbox
) -> None:
    schemas = {t.name: t.output_schema for t in (await fast_client.list_tools()).tools}
    sandbox.add_faults(Fault(kind="status", status=403, method="GET", path_regex=r"/root_disks$", count=-1))
    results = {
        "project_overview": await fast_client.call_tool("project_overview", {}),  # error: 403 on root disks
        "wait_for_vm": await fast_client.call_tool("wait_for_vm", {"vm_id": vm_id(sandbox, "batch-7"),
                                                                   "target_status": "running"}),  # error: failed
    }
    for name, result in results.items():
        assert result.is_error  # mcp.Client validates successful results itself; errors are checked here
        jsonschema.validate(result.structured_content, schemas[name])


@pytest.mark.anyio
@pytest.mark.parametrize("target", ["deleted", "running"])
async def test_a_wrong_project_is_reported_as_such_and_never_as_a_deleted_vm(
    client: Client, sandbox: Sandbox, target: str
) -> None:
    web = sandbox.vm_by_name("web-1").id
    result = await client.call_tool("wait_for_vm", {"vm_id": web, "target_status": target,
                                                    "project_id": "typo-project"})
    assert result.is_error
    assert result.content[0].text == (  # type: ignore[union-attr]
        f"VM {web} could not be read: NeevCloud refused list_vms: HTTP 404 [not_found] project demo-org/typo-project "
        "not found. Check org_id and project_id: the project must exist and the token must have access to it "
        "(NEEV_ORG_ID / NEEV_PROJECT_ID set the values used when a call does not pass them)."
    )
    assert result.structured_content["reached"] is False
    assert sandbox.vms[web].status == "running"


@pytest.mark.anyio
@pytest.mark.parametrize("fault", [{"kind": "status", "status": 500, "count": -1},
                                   {"kind": "status", "status": 401, "count": -1},
                                   {"kind": "non_json", "status": 502, "count": -1}], ids=["500", "401", "502-html"])
async def test_helper_error_results_still_conform_to_the_declared_output_schema(
    make_server: MakeServer, sandbox: Sandbox, fault: dict[str, Any]
) -> None:
    # The Python SDK skips outputSchema validation for isError results; other clients may not: check it ourselves.
    server = make_server(max_attempts=1)
    web = sandbox.vm_by_name("web-1").id
    sandbox.add_faults(fault)
    async with Client(server) as c:
        schemas = {t.name: t.output_schema for t in (await c.list_tools()).tools}
        for name, args in (("wait_for_vm", {"vm_id": web, "target_status": "stopped"}), ("project_overview", {})):
            result = await c.call_tool(name, args)
            assert result.is_error
            jsonschema.validate(result.structured_content, schemas[name])
            assert result.structured_content["http_status"] == fault["status"]
