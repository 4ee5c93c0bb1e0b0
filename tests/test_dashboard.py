"""MCP Apps at the protocol level: the `ui://neev-mcp/dashboard` resource, the tools bound to it, and clients that
did not negotiate the extension (they must see exactly what they saw before). The browser test is
tests/test_dashboard_browser.py."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from mcp.client.extension import advertise

from neev_mcp import dashboard, view
from neev_mcp.registry import DASHBOARD_URI

from .conftest import ORG, PROJECT, MakeServer, api_requests
from .test_toolsnaps import SNAPS, UPDATE

pytestmark = pytest.mark.anyio
MIME = "text/html;profile=mcp-app"
APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": [MIME]})
APP_SNAPS = SNAPS / "apps"


def _dump(tool: Any) -> str:
    data = tool.model_dump(by_alias=True, exclude_none=True, mode="json")
    return json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


# -- clients without the extension ---------------------------------------------------------------------------------
@pytest.mark.parametrize("mode", ["auto", "legacy"])
@pytest.mark.parametrize("ext", [[], [advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html"]})]],
                         ids=["no-extension", "extension-without-the-mcp-app-mime-type"])
async def test_a_client_without_apps_sees_tools_list_byte_identical_to_the_toolsnaps(
    make_server: MakeServer, mode: str, ext: list[Any]
) -> None:
    server = make_server(org_id=None, project_id=None, mcp_secret="snapshot-secret-0123456789abcdef-012345")
    async with Client(server, mode=mode, extensions=ext) as client:
        tools = (await client.list_tools()).tools
        resources = (await client.list_resources()).resources
    assert {t.name: _dump(t) for t in tools} == {
        p.stem: p.read_text(encoding="utf-8") for p in sorted(SNAPS.glob("*.json"))}
    assert [str(r.uri) for r in resources] == []  # no ui:// resource either


async def test_a_client_without_apps_cannot_call_the_view_only_tool(make_server: MakeServer, sandbox) -> None:
    async with Client(make_server()) as client:
        result = await client.call_tool("dashboard_snapshot", {})
    assert result.is_error
    assert result.content[0].text.startswith("Unknown tool: dashboard_snapshot. The tools this server offers: list_vms")
    assert "dashboard_snapshot" not in result.content[0].text.split(". ", 1)[1]
    assert api_requests(sandbox) == []


async def test_project_overview_text_is_the_same_with_and_without_apps(make_server: MakeServer) -> None:
    server = make_server()
    async with Client(server) as plain, Client(server, extensions=[APPS]) as apps:
        a = await plain.call_tool("project_overview", {})
        b = await apps.call_tool("project_overview", {})
    assert a.content == b.content
    timeless = lambda r: {k: v for k, v in (r.structured_content or {}).items() if k != "walk"}  # noqa: E731
    assert timeless(a) == timeless(b)  # the same answer, but for how long the walk took
    assert a.content[0].text.startswith(f"Project {ORG}/{PROJECT}: 6 VMs")


# -- clients with the extension ------------------------------------------------------------------------------------
async def test_an_apps_client_sees_the_ui_bindings_and_nothing_else_changes(make_server: MakeServer) -> None:
    server = make_server(org_id=None, project_id=None, mcp_secret="snapshot-secret-0123456789abcdef-012345")
    async with Client(server, extensions=[APPS]) as client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
    ui = {name: (t.meta or {}).get("ui") for name, t in tools.items() if t.meta}
    assert ui == {"project_overview": {"resourceUri": DASHBOARD_URI, "visibility": ["model", "app"]},
                  "dashboard_snapshot": {"resourceUri": DASHBOARD_URI, "visibility": ["app"]}}
    plain = {p.stem: p.read_text(encoding="utf-8") for p in SNAPS.glob("*.json")}
    for name, tool in tools.items():
        if name in ui:
            path = APP_SNAPS / f"{name}.json"
            if UPDATE:
                APP_SNAPS.mkdir(exist_ok=True)
                path.write_text(_dump(tool), encoding="utf-8")
            assert path.exists(), f"{path}: missing snapshot (UPDATE_TOOLSNAPS=1 to write it, then review it)"
            assert _dump(tool) == path.read_text(encoding="utf-8"), f"{name}: differs from {path}"
        else:
            assert _dump(tool) == plain[name], name


async def test_the_dashboard_resource_is_an_mcp_app_with_no_network(make_server: MakeServer) -> None:
    async with Client(make_server(), extensions=[APPS]) as client:
        listed = [r for r in (await client.list_resources()).resources if str(r.uri) == DASHBOARD_URI]
        content = (await client.read_resource(DASHBOARD_URI)).contents[0]
    assert [(r.mime_type, r.name) for r in listed] == [(MIME, "dashboard")]
    assert content.mime_type == MIME
    assert content.meta == {"ui": {"csp": {"connectDomains": [], "resourceDomains": [], "frameDomains": []},
                                   "prefersBorder": True}}
    assert content.text == view.html()


def test_the_view_is_one_small_self_contained_document() -> None:
    html = view.html()
    size = len(html.encode())
    assert size < 40_000, f"the dashboard grew to {size} bytes"
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text(encoding="utf-8")
    assert f"{size:,} bytes" in readme, "the README states another size for the dashboard"
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", html, re.IGNORECASE)  # nothing from outside
    assert not re.search(r"@import|url\(|fetch\(|XMLHttpRequest|WebSocket|EventSource", html)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', html)
    assert csp and "connect-src 'none'" in csp.group(1) and "default-src 'none'" in csp.group(1)
    assert "innerHTML" not in html  # API strings are set as text, never parsed as markup
    assert '"delete' not in html and "delete_vm" not in html  # no delete shortcut in the view


async def test_dashboard_snapshot_is_the_whole_project_for_the_view(make_server: MakeServer, sandbox) -> None:
    async with Client(make_server(), extensions=[APPS]) as client:
        result = await client.call_tool("dashboard_snapshot", {})
    data = result.structured_content or {}
    assert not result.is_error
    assert result.content[0].text == (f"Dashboard data for project {ORG}/{PROJECT}: 6 VMs — 3 running, 1 stopped, "
                                      "1 failed, 1 provisioning. project_overview is the summary to read.")
    assert data["actions"] == ["start", "stop", "restart"] and data["confirm"] == "destructive"
    assert data["vm_by_status"] == {"running": 3, "stopped": 1, "failed": 1, "provisioning": 1}
    assert [(v["name"], v["status"]) for v in data["vms"]] == [
        ("batch-7", "failed"), ("etl-2", "provisioning"), ("api-staging", "running"), ("train-gpu-1", "running"),
        ("web-1", "running"), ("db-1", "stopped")]
    assert set(data["vms"][0]) == {"id", "name", "status", "message", "region_id", "vm_config_id",
                                   "gpu_config_count", "public_ip", "root_disk", "updated_at"}
    assert data["root_disks"]["unattached_gb"] == 100
    assert [d["name"] for d in data["root_disks"]["unattached"]] == ["old-root-disk"]
    assert {r.method for r in api_requests(sandbox)} == {"GET"}


async def test_read_only_mode_offers_the_view_no_actions(make_server: MakeServer) -> None:
    async with Client(make_server(read_only=True), extensions=[APPS]) as client:
        names = {t.name for t in (await client.list_tools()).tools}
        data = (await client.call_tool("dashboard_snapshot", {})).structured_content or {}
    assert data["actions"] == []
    assert not names & {"start_vm", "stop_vm", "restart_vm", "delete_vm"} and "dashboard_snapshot" in names


async def test_a_button_under_neev_confirm_mutating_gets_the_gate_unchanged(make_server: MakeServer, sandbox) -> None:
    """What the view's Stop button sends (the host forwards it as is): a preview and a token, nothing upstream."""
    async with Client(make_server(confirm="mutating"), extensions=[APPS]) as client:
        snapshot = (await client.call_tool("dashboard_snapshot", {})).structured_content or {}
        web = next(v["id"] for v in snapshot["vms"] if v["name"] == "web-1")
        result = await client.call_tool("stop_vm", {"vm_id": web})
    assert snapshot["confirm"] == "mutating"
    assert (result.structured_content or {}).get("confirmation_required") is True
    assert api_requests(sandbox, "POST") == []


def test_the_snapshot_of_a_huge_project_stays_bounded_with_exact_counts() -> None:
    tally = dashboard.DashboardTally()
    for page in range(1, 6):  # 500 running VMs, then one failed on the last page
        tally.add_vms(page, [{"id": f"{page}-{i}", "name": f"vm-{page}-{i:03}", "status": "running"}
                             for i in range(100)])
    tally.add_vms(6, [{"id": "bad", "name": "zz-broken", "status": "failed", "message": "no capacity"}])
    tally.add_disks(1, [{"id": "d1", "size_gb": 40, "is_attached": False}, {"id": "d2", "size_gb": 60,
                                                                           "is_attached": True, "vm_id": "x"}])
    text, data = dashboard.snapshot({"org_id": ORG, "project_id": PROJECT}, tally, True,
                                    actions=("start", "stop", "restart"), confirm="destructive")
    assert data["vm_total"] == 501 and data["vm_by_status"] == {"running": 500, "failed": 1}
    assert len(data["vms"]) == dashboard.VM_CAP and data["vms"][0]["name"] == "zz-broken"  # the failure is kept
    assert data["root_disks"] == {"total": 2, "attached": 1, "total_gb": 100, "unattached_gb": 40, "unattached": [
        {"id": "d1", "name": None, "size_gb": 40, "status": None, "created_at": None}]}
    assert text.startswith(f"Dashboard data for project {ORG}/{PROJECT}: 501 VMs — 500 running, 1 failed.")
