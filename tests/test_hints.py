"""What an agent is told to check after a refusal: each kind of thing a 404 is about has its own hint (declared on the
kinds in neev_mcp/kinds.py), and the client itself names no tool."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest
from mcp import Client

from neev_mcp.registry import build_registry
from neev_mcp.sandbox import Sandbox

from .conftest import CREATE, ORG, PROJECT, MakeServer
from .support import text

pytestmark = pytest.mark.anyio

UNKNOWN = "00000000-0000-4000-8000-000000000000"
IN_USE = "vm_options shows the values in use in the project."


async def test_an_unknown_vm_points_at_list_vms(client: Client) -> None:
    result = await client.call_tool("get_vm", {"vm_id": UNKNOWN})
    assert result.is_error and text(result) == (
        f"NeevCloud refused get_vm: HTTP 404 [not_found] VM {UNKNOWN} not found in project {ORG}/{PROJECT}. "
        "Check vm_id: list_vms shows the VMs of the project.")


async def test_an_unknown_root_disk_points_at_list_root_disk_volumes(client: Client) -> None:
    result = await client.call_tool("get_root_disk_volume", {"root_disk_id": UNKNOWN})
    assert result.is_error and text(result) == (
        f"NeevCloud refused get_root_disk_volume: HTTP 404 [not_found] root disk {UNKNOWN} not found in project "
        f"{ORG}/{PROJECT}. Check the root disk id: list_root_disk_volumes shows the root disks of the project.")


async def test_an_unknown_project_points_at_org_and_project_id_and_their_defaults_not_at_list_vms(
    client: Client,
) -> None:
    result = await client.call_tool("list_vms", {"project_id": "typo-project"})
    assert result.is_error and text(result) == (
        f"NeevCloud refused list_vms: HTTP 404 [not_found] project {ORG}/typo-project not found. Check org_id and "
        "project_id: the project must exist and the token must have access to it (NEEV_ORG_ID / NEEV_PROJECT_ID set "
        "the values used when a call does not pass them).")
    assert "list_vms shows" not in text(result)


@pytest.mark.parametrize(("change", "api_message", "check"), [
    ({"region_id": "mars-1"}, "region 'mars-1' not found; valid regions: in-mum-1, in-del-1", "region_id"),
    ({"root_disk": {"create_disk_request": {"name": "web-2-root", "size_gb": 40, "image_id": "windows-95"}}},
     "image 'windows-95' not found; valid images: ubuntu-24.04, ubuntu-22.04, debian-12", "image_id"),
])
async def test_an_unknown_region_or_image_on_create_points_at_vm_options(
    client: Client, sandbox: Sandbox, change: dict, api_message: str, check: str
) -> None:
    result = await client.call_tool("create_vm", {**CREATE, **change})
    assert result.is_error and text(result).startswith(  # then the valid values named (tests/test_vm_options.py)
        f"NeevCloud refused create_vm: HTTP 404 [not_found] {api_message}. Check {check}: {IN_USE} Valid values ")
    assert text(result).count("vm_options") == 1
    assert not [v for v in sandbox.vms.values() if v.name == "web-2"]


async def test_a_404_that_names_nothing_known_lists_what_the_call_refers_to(client: Client, sandbox: Sandbox) -> None:
    from neev_mcp.sandbox import Fault

    sandbox.add_faults(Fault(kind="status", status=404, method="POST", path_regex=r"/vms$"))
    result = await client.call_tool("create_vm", CREATE)
    assert result.is_error
    assert text(result).endswith(
        "Check org_id and project_id: the project must exist and the token must have access to it (NEEV_ORG_ID / "
        "NEEV_PROJECT_ID set the values used when a call does not pass them). Check region_id, image_id, plan_id or "
        f"vm_config_id: {IN_USE} Check the root disk id: list_root_disk_volumes shows the root disks of the "
        "project."), text(result)


def test_the_api_client_names_no_tool() -> None:
    """What to check after a refusal comes from the declarations (kinds, actions), never from client.py itself."""
    source = Path(__file__).parents[1] / "neev_mcp" / "client.py"
    strings = {node.value for node in ast.walk(ast.parse(source.read_text(encoding="utf-8")))
               if isinstance(node, ast.Constant) and isinstance(node.value, str)}
    names = {t.name for t in build_registry()}
    assert not [s for s in strings for n in names if n in s]


async def test_an_unknown_tool_names_the_tools_there_are_closest_first(client: Client, sandbox: Sandbox) -> None:
    listed = [t.name for t in (await client.list_tools()).tools]  # what tools/list offers this client
    result = await client.call_tool("list_vm", {})
    others = ", ".join(n for n in listed if n != "list_vms")
    assert result.is_error and text(result) == (
        f"Unknown tool: list_vm. Did you mean list_vms? The tools this server offers: list_vms, {others}.")
    assert "dashboard_snapshot" not in text(result) and sandbox.requests == []


async def test_an_unknown_tool_in_read_only_mode_names_only_the_tools_offered(make_server: MakeServer) -> None:
    async with Client(make_server(read_only=True)) as client:
        listed = [t.name for t in (await client.list_tools()).tools]
        result = await client.call_tool("delete_everything", {})
    assert "get_vm" in listed and "delete_vm" not in listed
    assert result.is_error and text(result) == (
        f"Unknown tool: delete_everything. The tools this server offers: {', '.join(listed)}.")
