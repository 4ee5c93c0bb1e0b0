"""Summaries: full-output snapshots of every pure summariser, then the same texts as agents get them over MCP.

Snapshots live in `tests/__snapshots__/summaries/<case>.txt`. A changed text must be a reviewed change:
`UPDATE_SNAPSHOTS=1 pytest tests/test_summaries.py` rewrites them; a missing snapshot fails.
"""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from neev_mcp import overview, summaries
from neev_mcp.kinds import VM
from neev_mcp.registry import build_registry
from neev_mcp.sandbox import Fault, Sandbox, SimClock
from neev_mcp.server import NeevServer

from .conftest import ORG, PROJECT, START, MakeServer, api_requests, vm_path

SNAPSHOTS = Path(__file__).parent / "__snapshots__" / "summaries"
UPDATE = os.environ.get("UPDATE_SNAPSHOTS") == "1"
SCOPE = {"org_id": ORG, "project_id": PROJECT}
NOW = START

TOOLS = {t.name: t for t in build_registry()}


def check_snapshot(name: str, text: str) -> None:
    path = SNAPSHOTS / f"{name}.txt"
    if UPDATE:
        SNAPSHOTS.mkdir(parents=True, exist_ok=True)
        path.write_text(text + "\n", encoding="utf-8")
        return
    assert path.exists(), f"{path.name}: missing snapshot (run with UPDATE_SNAPSHOTS=1 and review it)"
    assert text + "\n" == path.read_text(encoding="utf-8"), f"{path.name} differs (UPDATE_SNAPSHOTS=1 after review)"


def seeded(bulk: int = 0) -> Sandbox:
    sandbox = Sandbox(org_id=ORG, project_id=PROJECT, clock=SimClock(speed=0, start=START))
    if bulk:
        sandbox.seed_bulk(bulk)
    return sandbox


def vm_objects(sandbox: Sandbox) -> list[dict[str, Any]]:
    """The VMs as the API lists them (creation order), straight from the simulated cloud."""
    vms = sorted(sandbox.vms.values(), key=lambda v: (v.created_at, v.id))
    return [v.to_json(sandbox.root_disks.get(v.root_disk_id or "")) for v in vms]


def disk_objects(sandbox: Sandbox) -> list[dict[str, Any]]:
    return [d.to_json() for d in sorted(sandbox.root_disks.values(), key=lambda d: (d.created_at, d.id))]


def page(items: list[dict[str, Any]], number: int = 1, size: int = 100) -> dict[str, Any]:
    total = len(items)
    return {"data": items[(number - 1) * size:number * size],
            "pagination": {"total_items": total, "total_pages": max(1, -(-total // size)), "current_page": number,
                           "items_per_page": size}}


def by_name(sandbox: Sandbox, name: str) -> dict[str, Any]:
    return next(v for v in vm_objects(sandbox) if v["name"] == name)


def everything(sandbox: Sandbox) -> dict[str, Any]:
    """What project_overview gathers: every VM and root disk, and a complete walk of the pages."""
    vms, disks = vm_objects(sandbox), disk_objects(sandbox)
    reads = {key: {"pages_read": p, "total_pages": p, "items_read": len(items), "total_items": len(items)}
             for key, items in (("vms", vms), ("root_disks", disks))
             for p in [page(items)["pagination"]["total_pages"]]}
    return {"vms": vms, "root_disks": disks, "reads": reads}


# -- list_vms ------------------------------------------------------------------------------------------------------
def test_a_single_page_list_counts_every_status_and_gives_one_line_per_vm() -> None:
    text = summaries.vm_list(SCOPE, page(vm_objects(seeded())), NOW)
    check_snapshot("vm_list_seed", text)
    assert text.splitlines()[0] == "6 VMs: 3 running, 1 stopped, 1 failed, 1 provisioning."
    assert len(text.splitlines()) == 2 + 6


def test_a_failed_vm_shows_its_message_and_a_vm_in_transition_is_flagged() -> None:
    text = summaries.vm_list(SCOPE, page(vm_objects(seeded())), NOW)
    batch = next(line for line in text.splitlines() if line.startswith("- batch-7 "))
    etl = next(line for line in text.splitlines() if line.startswith("- etl-2 "))
    assert batch.endswith("— FAILED: provisioning failed: no H100 capacity in in-mum-1; retry later or pick another "
                          "region")
    assert " · provisioning (in transition: allocating compute and cloning root disk) · " in etl


def test_a_middle_page_says_where_it_is_and_how_to_get_the_next_one() -> None:
    text = summaries.vm_list(SCOPE, page(vm_objects(seeded()), number=2, size=2), NOW)
    check_snapshot("vm_list_page_2_of_3", text)
    assert text.splitlines()[0] == ("6 VMs, page 2 of 3 — call with page=3 for more. On this page: 2 running. "
                                    "(project_overview counts every page.)")


def test_a_page_past_the_end_says_which_pages_exist() -> None:
    text = summaries.vm_list(SCOPE, page(vm_objects(seeded()), number=9, size=5), NOW)
    assert text == "6 VMs, page 9 of 2: past the last page; pages run 1–2. No VMs here."


def test_an_empty_project_says_so_and_suggests_create_vm() -> None:
    assert summaries.vm_list(SCOPE, page([]), NOW) == "0 VMs. No VMs here; create one with create_vm."


def test_a_full_page_of_a_thousand_vm_project_names_its_position() -> None:
    text = summaries.vm_list(SCOPE, page(vm_objects(seeded(1000)), number=1), NOW)
    check_snapshot("vm_list_bulk_page_1", text)
    assert text.splitlines()[0].startswith("1006 VMs, page 1 of 11 — call with page=2 for more. On this page: ")


# -- get_vm --------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["web-1", "train-gpu-1", "db-1", "batch-7", "api-staging", "etl-2"])
def test_get_vm_gives_a_paragraph_and_the_next_steps_for_its_status(name: str) -> None:
    check_snapshot(f"vm_{name}", summaries.vm(SCOPE, by_name(seeded(), name), NOW))


def test_next_steps_follow_the_status() -> None:
    sandbox = seeded()
    last = {n: summaries.vm(SCOPE, by_name(sandbox, n), NOW).splitlines()[-1] for n in ("web-1", "db-1", "etl-2")}
    assert last["web-1"].startswith("Next: stop_vm or restart_vm")
    assert last["db-1"].startswith("Next: start_vm to boot it, or delete_vm")
    assert last["etl-2"] == f"Next: wait_for_vm vm_id={by_name(sandbox, 'etl-2')['id']} target_status=running."
    failed = summaries.vm(SCOPE, by_name(sandbox, "batch-7"), NOW).splitlines()
    assert failed[1] == ("Failure: provisioning failed: no H100 capacity in in-mum-1; retry later or pick another "
                         "region.")
    assert failed[-1].startswith("Next: it cannot be started. Fix the cause above, then delete_vm and create_vm")


# -- create / start / stop / restart -------------------------------------------------------------------------------
CREATE_ARGS = {**SCOPE, "name": "web-2", "region_id": "in-mum-1", "vm_config_id": "vcpu-2-ram-8", "plan_id": "hourly",
               "gpu_config_count": 1, "delete_root_disk": True, "exposed_ports": [{"port": 443, "protocol": "tcp"}],
               "root_disk": {"create_disk_request": {"name": "web-2-root", "size_gb": 60, "image_id": "ubuntu-24.04"}}}
CREATED = {"id": "11111111-2222-5333-8444-555555555555", "name": "web-2", "region_id": "in-mum-1",
           "status": "pending", "message": "queued for scheduling", "vm_config_id": "vcpu-2-ram-8",
           "gpu_config_count": 1, "plan_id": "hourly", "image_id": "ubuntu-24.04",
           "exposed_ports": [{"port": 443, "protocol": "tcp"}], "delete_root_disk": True,
           "created_at": "2026-11-28T12:00:00Z", "updated_at": "2026-11-28T12:00:00Z"}


def test_create_says_what_was_requested_the_status_now_and_how_to_wait() -> None:
    text = summaries.vm_created(CREATE_ARGS, CREATED, NOW)
    check_snapshot("vm_created", text)
    assert text.endswith(f"wait_for_vm vm_id={CREATED['id']} target_status=running.")


@pytest.mark.parametrize(("tool", "status", "message", "case"), [
    ("stop_vm", "stopping", "shutting down guest OS", "stop_running"),
    ("start_vm", "starting", "booting", "start_stopped"),
    ("restart_vm", "restarting", "rebooting guest OS", "restart_running"),
    ("stop_vm", "stopped", None, "stop_already_stopped"),
    ("start_vm", "running", None, "start_already_running"),
    ("restart_vm", "stopped", None, "restart_stopped"),
])
def test_actions_say_what_was_requested_and_how_to_await_the_end_state(
    tool: str, status: str, message: str | None, case: str
) -> None:
    data = {**by_name(seeded(), "web-1"), "status": status, "message": message}
    check_snapshot(f"action_{case}", summaries.vm_action(SCOPE, data, NOW, tool=tool, action=TOOLS[tool].action))


def test_an_action_in_progress_points_at_wait_for_vm_with_the_right_target() -> None:
    data = {**by_name(seeded(), "web-1"), "status": "stopping", "message": None}
    assert summaries.vm_action(SCOPE, data, NOW, tool="stop_vm", action=TOOLS["stop_vm"].action).endswith(
        f"Next: wait_for_vm vm_id={data['id']} target_status=stopped.")


# -- deletes -------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("name", ["web-1", "api-staging"])
def test_a_vm_deletion_says_what_happens_to_its_root_disk(name: str) -> None:
    target = by_name(seeded(), name)
    check_snapshot(f"deleted_{name}", summaries.deleted({**SCOPE, "vm_id": target["id"]}, target, VM))


def test_a_deletion_without_a_preview_still_names_the_id_and_the_way_to_confirm() -> None:
    vm_id = by_name(seeded(), "db-1")["id"]
    assert summaries.deleted({"vm_id": vm_id}, None, VM) == (
        f"Deletion of VM {vm_id} accepted; it is now 'deleting'. Confirm it is gone with wait_for_vm vm_id={vm_id} "
        "target_status=deleted.")


# -- root disks ----------------------------------------------------------------------------------------------------
def test_a_root_disk_list_names_attached_vms_and_calls_out_unattached_disks() -> None:
    sandbox = seeded()
    names = {v["id"]: v["name"] for v in vm_objects(sandbox)}
    text = summaries.disk_list(SCOPE, page(disk_objects(sandbox)), NOW, vm_names=names)
    check_snapshot("disk_list_seed", text)
    assert text.splitlines()[0] == "7 root disks: 6 attached, 1 unattached (100 GB, deletable)."
    assert " · UNATTACHED: deletable with delete_root_disk_volume · " in text.splitlines()[1]


def test_a_root_disk_whose_vm_name_is_unknown_is_named_by_vm_id() -> None:
    sandbox = seeded()
    disk = next(d for d in disk_objects(sandbox) if d["name"] == "web-1-root")
    text = summaries.disk(SCOPE, disk, NOW)
    check_snapshot("disk_attached_unnamed", text)
    assert f"attached to VM {disk['vm_id']} · " in text


# -- project overview ----------------------------------------------------------------------------------------------
def test_the_overview_of_the_demo_project() -> None:
    data = everything(seeded())
    text = overview.overview({**SCOPE, "per_status": 5}, data, NOW)
    check_snapshot("overview_seed", text)
    assert text.splitlines()[0] == ("Project demo-org/demo-project: 6 VMs — 3 running, 1 stopped, 1 failed, "
                                    "1 provisioning.")


def test_the_overview_of_a_thousand_vms_stays_under_six_thousand_characters() -> None:
    data = everything(seeded(1000))
    text = overview.overview({**SCOPE, "per_status": 5}, data, NOW)
    check_snapshot("overview_bulk_1000", text)
    assert len(text) < 6000
    assert "Running (703): " in text and ", and 698 more (list_vms pages through all)." in text
    structured = overview.overview_structured(SCOPE, data)
    assert structured["vm_total"] == 1006 and structured["vm_by_status"]["failed"] == 101
    assert len(structured["failed"]) == overview.STRUCTURED_CAP


def test_the_overview_groups_failures_by_message_and_bounds_the_number_of_groups() -> None:
    vms = [{"id": f"id-{i}", "name": f"vm-{i}", "status": "failed", "message": f"reason {i % 12}"} for i in range(30)]
    text = overview.overview({**SCOPE, "per_status": 2}, {"vms": vms, "root_disks": []}, NOW)
    check_snapshot("overview_many_failure_messages", text)
    assert "- and 8 more failed VMs with 4 other messages (get_vm shows each)." in text


def test_an_overview_cut_short_by_its_deadline_says_how_far_it_got_and_how_to_read_the_rest() -> None:
    data = everything(seeded(1000))
    data["reads"]["vms"] = {"pages_read": 3, "total_pages": 11, "items_read": 300, "total_items": 1006,
                            "missing_pages": "3, 5–11"}
    data["reads"]["root_disks"] = {"pages_read": 0, "total_pages": 0, "items_read": 0, "total_items": 0,
                                   "missing_pages": "1"}
    data["walk"] = {"deadline_seconds": 2.5}
    data["vms"] = data["vms"][:200] + data["vms"][300:400]
    data["root_disks"] = []
    text = overview.overview({**SCOPE, "per_status": 5}, data, NOW)
    assert text.splitlines()[1:3] == [
        "INCOMPLETE: the 2.5 s deadline (NEEV_OVERVIEW_DEADLINE) passed after 3 of 11 pages of VMs; 300 of 1006 VMs "
        "were read and the figures below cover only those. list_vms with limit=100 and page = 3, 5–11 shows the rest "
        "(or ask again: a larger NEEV_OVERVIEW_DEADLINE lets the overview read everything).",
        "INCOMPLETE: the 2.5 s deadline (NEEV_OVERVIEW_DEADLINE) passed before the first page of root disks was "
        "answered, so the figures below include none. list_root_disk_volumes with limit=100 and page = 1 shows the "
        "rest (or ask again: a larger NEEV_OVERVIEW_DEADLINE lets the overview read everything)."]
    assert text.splitlines()[0] == "Project demo-org/demo-project: 300 VMs — 210 running, 60 stopped, 30 failed."
    structured = overview.overview_structured(SCOPE, data)
    assert structured["complete"] is False and structured["reads"]["vms"]["missing_pages"] == "3, 5–11"


def test_an_empty_project_overview_suggests_creating_a_vm() -> None:
    empty = {"vms": [], "root_disks": [], "reads": {}}
    assert overview.overview({**SCOPE}, empty, NOW) == (
        "Project demo-org/demo-project: 0 VMs.\nRoot disks: 0 (0 attached, none unattached).\n"
        "No VMs yet: create one with create_vm.")


def test_ages_use_the_clock_that_is_passed_in() -> None:
    created = "2026-11-28T11:00:00Z"
    assert summaries.age(created, NOW) == "1h old"
    assert summaries.age(created, NOW + dt.timedelta(days=2)) == "2d old"
    assert summaries.age("not a date", NOW) == "age unknown"


# -- over MCP ------------------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_list_vms_over_mcp_gives_the_summary_as_text_and_the_api_page_as_structured_content(
    client: Client, sandbox: Sandbox
) -> None:
    result = await client.call_tool("list_vms", {"limit": 100})
    assert not result.is_error
    assert result.content[0].text == summaries.vm_list(SCOPE, page(vm_objects(sandbox)), NOW)
    assert result.structured_content == page(vm_objects(sandbox))


@pytest.mark.anyio
async def test_listing_root_disks_names_their_vms_with_one_extra_list_call(client: Client, sandbox: Sandbox) -> None:
    result = await client.call_tool("list_root_disk_volumes", {})
    assert [(r.method, r.path, r.query) for r in api_requests(sandbox)] == [
        ("GET", f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/root_disks", {}),
        ("GET", vm_path(), {"page": "1", "limit": "100"}),
    ]
    check_snapshot("mcp_list_root_disk_volumes", result.content[0].text)
    assert "attached to VM web-1 (" in result.content[0].text
    assert result.structured_content == page(disk_objects(sandbox), size=20)


@pytest.mark.anyio
async def test_getting_one_root_disk_names_its_vm_with_one_get_vm(client: Client, sandbox: Sandbox) -> None:
    disk = next(d for d in disk_objects(sandbox) if d["name"] == "db-1-root")
    result = await client.call_tool("get_root_disk_volume", {"root_disk_id": disk["id"]})
    assert [r.path for r in api_requests(sandbox)] == [
        f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/root_disks/{disk['id']}", vm_path(disk["vm_id"])]
    assert result.content[0].text == (
        f"Root disk db-1-root ({disk['id']}) · 100 GB · debian-12 · ready · attached to VM db-1 ({disk['vm_id']}) · "
        "30d old. Delete or re-create the VM to free it; an attached disk cannot be deleted.")


@pytest.mark.anyio
async def test_a_failed_name_lookup_still_answers_with_vm_ids(client: Client, sandbox: Sandbox) -> None:
    sandbox.add_faults(Fault(kind="status", status=503, count=3, method="GET", path_regex=r"/vms$"))
    result = await client.call_tool("list_root_disk_volumes", {})
    assert not result.is_error
    web = next(d for d in disk_objects(sandbox) if d["name"] == "web-1-root")
    assert f"· attached to VM {web['vm_id']} · " in result.content[0].text


@pytest.mark.anyio
async def test_an_ungated_delete_names_the_vm_id_and_how_to_confirm(make_server: MakeServer, sandbox: Sandbox) -> None:
    server: NeevServer = make_server(confirm="off")
    vm_id = by_name(sandbox, "db-1")["id"]
    async with Client(server) as c:
        result = await c.call_tool("delete_vm", {"vm_id": vm_id})
    assert result.content[0].text == summaries.deleted({"vm_id": vm_id}, None, VM)
    assert result.structured_content == {"accepted": True, "status": "deleting", "id": vm_id, "kind": "vm",
                                         "target": None}


@pytest.mark.parametrize(("message_length", "per_status"), [(40, 5), (300, 5), (2000, 5), (40, 50), (2000, 50)])
def test_the_overview_stays_within_its_character_budget_whatever_the_messages_or_list_lengths(
    message_length: int, per_status: int
) -> None:
    data = everything(seeded(bulk=1000))
    for i, vm in enumerate(v for v in data["vms"] if v["status"] == "failed"):
        vm["message"] = f"reason {i % 12}: " + "x" * message_length  # twelve distinct, long upstream messages
    text = overview.overview({"org_id": ORG, "project_id": PROJECT, "per_status": per_status}, data, NOW)
    assert len(text) <= overview.OVERVIEW_BUDGET
    assert text.startswith(f"Project {ORG}/{PROJECT}: 1006 VMs — ")
    assert "x" * (overview.MAX_MESSAGE + 1) not in text  # each message is clipped
    if per_status == 50:
        assert "(Lists shortened to " in text
