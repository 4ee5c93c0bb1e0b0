"""The dashboard in a real browser: headless Debian chromium, a test host built on the official ext-apps AppBridge.

The host page (tests/browser/host.*) renders `ui://neev-mcp/dashboard` in a sandboxed iframe with the CSP the
resource declares, and forwards the view's requests to a real neev-mcp process (stdio, `python -m neev_mcp`) through
a Python `mcp.Client` that advertises MCP Apps; that server talks to the sandbox over HTTP (`neev-mcp sandbox`), whose
request log shows exactly what reached "NeevCloud". Screenshots land in a temporary folder, or in docs/ for the README
with NEEV_UPDATE_SCREENSHOTS=1 (a test run never edits tracked files otherwise).

Needs chromium, the Python playwright package and the ext-apps bundle (scripts/ext-apps.sh); see tests/components.py.
"""

from __future__ import annotations

import json
import os
import re
import sys
import tempfile
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client, StdioServerParameters
from mcp.client.extension import advertise

from neev_mcp.sandbox import DEFAULT_TOKEN

from . import components
from .support.http import ORG, PROJECT, VM_IDS, Proc, base_env, free_port, sandbox_requests, spawn, wait_ready

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
HOST_DIR = Path(__file__).parent / "browser"
DOCS = Path(__file__).resolve().parent.parent / "docs"
SHOTS = DOCS if os.environ.get("NEEV_UPDATE_SCREENSHOTS") == "1" else Path(tempfile.mkdtemp(prefix="neev-shots-"))
APPS = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
TIMEOUT_MS = 20_000


@pytest.fixture(scope="module")
def sandbox() -> Iterator[Proc]:
    """The simulated NeevCloud over HTTP with a frozen clock: a VM stays in transition until a test advances time."""
    port = free_port()
    proc = spawn("sandbox", ["-m", "neev_mcp.sandbox", "--port", str(port), "--speed", "0"], base_env(), port)
    try:
        wait_ready(proc)
        yield proc
    finally:
        proc.stop()


def server_params(sandbox: Proc, **env: str) -> StdioServerParameters:
    values = base_env() | {"NEEV_API_BASE_URL": f"{sandbox.url}/vm", "NEEV_API_TOKEN": DEFAULT_TOKEN,
                           "NEEV_ORG_ID": ORG, "NEEV_PROJECT_ID": PROJECT, "NEEV_MAX_ATTEMPTS": "1"} | env
    return StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env=values)


async def _forward(client: Client, method: str, params: dict[str, Any]) -> dict[str, Any]:
    """One request of the host page, sent by a real MCP client; the wire form (camelCase) back."""
    if method == "tools/list":
        result: Any = await client.list_tools()
    elif method == "resources/read":
        result = await client.read_resource(params["uri"])
    elif method == "tools/call":
        result = await client.call_tool(params["name"], params.get("arguments") or {})
    else:
        raise ValueError(f"the test host does not forward {method}")
    return result.model_dump(by_alias=True, exclude_none=True, mode="json")


@asynccontextmanager
async def dashboard(sandbox: Proc, *, theme: str = "light", width: int = 960, **env: str) -> AsyncIterator[Any]:
    """A chromium page showing the dashboard, its host wired to a fresh neev-mcp (NEEV_* overrides in `env`)."""
    executable = components.chromium()
    components.playwright_api()
    bundle = components.ext_apps_host_bundle()
    from playwright.async_api import async_playwright

    files = {"/host.html": (HOST_DIR / "host.html", "text/html"), "/host.bundle.js": (bundle, "text/javascript")}

    async def serve(route: Any) -> None:
        path = "/" + route.request.url.split("/", 3)[3]
        if path not in files:  # nothing else may load: no network at all
            await route.abort()
            return
        file, mime = files[path]
        await route.fulfill(status=200, body=file.read_bytes(), content_type=mime)

    async with Client(server_params(sandbox, **env), extensions=[APPS]) as client, async_playwright() as pw:
        browser = await pw.chromium.launch(executable_path=executable, args=components.CHROMIUM_ARGS)
        try:
            page = await browser.new_page(viewport={"width": width, "height": 900}, color_scheme=theme)
            await page.route("**/*", serve)

            async def mcp(method: str, params: str) -> str:
                return json.dumps(await _forward(client, method, json.loads(params)))

            await page.expose_function("__mcp", mcp)
            await page.goto("http://host.test/host.html")
            await page.evaluate("(theme) => window.hostStart({ theme })", theme)
            view = page.frame_locator("iframe")
            await view.locator("li.vm").first.wait_for(timeout=TIMEOUT_MS)
            yield page, view
        finally:
            await browser.close()


def _row(view: Any, name: str) -> Any:
    return view.locator("li.vm", has=view.locator(".name", has_text=name))


async def _upstream_vms(sandbox: Proc) -> list[dict[str, Any]]:
    async with httpx2.AsyncClient() as http:
        answer = await http.get(f"{sandbox.url}/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms?limit=100",
                                headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})
    return answer.json()["data"]


async def _screenshot(page: Any, name: str) -> None:
    """The whole host page at its full height (Chromium paints no iframe content below the viewport)."""
    await page.wait_for_timeout(600)  # the view's last size-change applied
    height = await page.evaluate("document.documentElement.scrollHeight")
    await page.set_viewport_size({"width": page.viewport_size["width"], "height": height})
    await page.screenshot(path=str(SHOTS / name))


def _advance(sandbox: Proc, seconds: float) -> None:
    httpx2.post(f"{sandbox.url}/_sandbox/clock/advance", json={"seconds": seconds}, timeout=5.0).raise_for_status()


async def _calls(page: Any, name: str) -> int:
    return int(await page.evaluate("(name) => window.__host.calls.filter((c) => c.name === name).length", name))


async def _set_hidden(page: Any, hidden: bool) -> None:
    """What the browser does when the user switches tab or the host hides the view."""
    await page.frames[1].evaluate("""(hidden) => {
        Object.defineProperty(document, "hidden", { configurable: true, get: () => hidden });
        const state = hidden ? "hidden" : "visible";
        Object.defineProperty(document, "visibilityState", { configurable: true, get: () => state });
        document.dispatchEvent(new Event("visibilitychange"));
    }""", hidden)


async def test_the_view_shows_the_sandbox_vms_by_status_and_a_dark_screenshot(sandbox: Proc) -> None:
    truth = {vm["name"]: vm["status"] for vm in await _upstream_vms(sandbox)}
    assert truth["etl-2"] == "provisioning"  # the seed's VM in transition (the clock is frozen)
    async with dashboard(sandbox, theme="dark") as (page, view):
        for name, status in truth.items():
            await _row(view, name).locator(".pill", has_text=status).wait_for(timeout=TIMEOUT_MS)
        tiles = {await t.locator(".k").inner_text(): await t.locator(".v").inner_text()
                 for t in await view.locator(".tile").all()}
        assert tiles == {"Running": str(sum(s == "running" for s in truth.values())),
                         "Stopped": str(sum(s == "stopped" for s in truth.values())),
                         "In transition": "1",
                         "Failed": str(sum(s == "failed" for s in truth.values()))}
        failed = view.locator("#failed li")
        assert await failed.count() == 1
        assert "no H100 capacity" in await failed.first.inner_text()
        assert "old-root-disk" in await view.locator("#disks").inner_text()
        await _screenshot(page, "dashboard-dark.png")


async def test_clicking_stop_sends_exactly_one_stop_vm_upstream_and_the_view_shows_it_stopped(sandbox: Proc) -> None:
    web = VM_IDS["api-staging"]
    async with dashboard(sandbox, theme="light") as (page, view):
        row = _row(view, "api-staging")
        await row.locator(".pill", has_text="running").wait_for(timeout=TIMEOUT_MS)
        await _screenshot(page, "dashboard-light.png")
        before = len(sandbox_requests(sandbox, "POST"))
        heights = [(await view.locator("#vms").bounding_box())["height"]]
        await row.get_by_role("button", name="Stop api-staging").click()
        await row.locator(".pill", has_text="stopping").wait_for(timeout=TIMEOUT_MS)
        heights.append((await view.locator("#vms").bounding_box())["height"])
        _advance(sandbox, 10)  # the stop completes upstream; the view's next get_vm sees it
        await row.locator(".pill", has_text="stopped").wait_for(timeout=TIMEOUT_MS)
        heights.append((await view.locator("#vms").bounding_box())["height"])
        assert len(set(heights)) == 1, f"the VM list changed height while refreshing: {heights}"
        stops = [r for r in sandbox_requests(sandbox, "POST")[before:] if r["path"].endswith("/stop")]
        assert [r["path"] for r in stops] == [f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms/{web}/stop"]
        assert await row.get_by_role("button", name="Start api-staging").is_visible()
        calls = await page.evaluate("window.__host.calls.map((c) => c.name)")
        assert calls.count("stop_vm") == 1 and "get_vm" in calls  # the transition was followed by polling get_vm
        assert await view.get_by_role("button", name=re.compile("delete", re.IGNORECASE)).count() == 0  # no shortcut


async def test_read_only_mode_shows_no_action_buttons(sandbox: Proc) -> None:
    async with dashboard(sandbox, NEEV_READ_ONLY="1") as (_, view):
        await view.locator("#vm-hint", has_text="in total").wait_for(timeout=TIMEOUT_MS)
        assert await view.locator("li.vm").count() == len(await _upstream_vms(sandbox))
        assert await view.locator("button[data-action]").count() == 0


async def test_under_neev_confirm_mutating_a_button_shows_the_servers_preview_and_acts_only_on_confirm(
    sandbox: Proc,
) -> None:
    db = VM_IDS["web-1"]
    async with dashboard(sandbox, NEEV_CONFIRM="mutating") as (_, view):
        row = _row(view, "web-1")
        await row.locator(".pill", has_text="running").wait_for(timeout=TIMEOUT_MS)
        before = len(sandbox_requests(sandbox, "POST"))
        await row.get_by_role("button", name="Stop web-1").click()
        confirm = row.locator(".confirm")
        await confirm.wait_for(timeout=TIMEOUT_MS)
        assert "web-1" in await confirm.locator("pre").inner_text()
        await confirm.get_by_role("button", name="Cancel").click()
        assert [r for r in sandbox_requests(sandbox, "POST")[before:] if r["path"].endswith("/stop")] == []
        await row.get_by_role("button", name="Stop web-1").click()
        await row.locator(".confirm").get_by_role("button", name="Stop web-1").click()
        await row.locator(".pill", has_text="stopping").wait_for(timeout=TIMEOUT_MS)
        _advance(sandbox, 10)
        await row.locator(".pill", has_text="stopped").wait_for(timeout=TIMEOUT_MS)
        stops = [r["path"] for r in sandbox_requests(sandbox, "POST")[before:] if r["path"].endswith("/stop")]
        assert stops == [f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms/{db}/stop"]


async def test_at_a_narrow_width_nothing_overflows(sandbox: Proc) -> None:
    async with dashboard(sandbox, width=380) as (page, view):
        await view.locator("#vm-hint", has_text="in total").wait_for(timeout=TIMEOUT_MS)
        overflow = await view.locator("body").evaluate(
            "() => document.documentElement.scrollWidth - document.documentElement.clientWidth")
        assert overflow <= 0
        await _screenshot(page, "dashboard-narrow.png")


async def test_polling_follows_a_transition_and_stops_while_the_view_is_hidden(sandbox: Proc) -> None:
    async with dashboard(sandbox) as (page, view):
        row = _row(view, "db-1")
        await row.get_by_role("button", name="Start db-1").click()
        await row.locator(".pill", has_text="starting").wait_for(timeout=TIMEOUT_MS)
        await view.locator("#live[data-state='polling']").wait_for(timeout=TIMEOUT_MS)
        await page.wait_for_function("window.__host.calls.some((c) => c.name === 'get_vm')", timeout=TIMEOUT_MS)
        await _set_hidden(page, True)
        await view.locator("#live-text", has_text="Paused while hidden").wait_for(timeout=TIMEOUT_MS)
        await page.wait_for_timeout(500)  # a poll already in flight may still land
        paused = await _calls(page, "get_vm")
        await page.wait_for_timeout(6000)  # more than two polling intervals
        assert await _calls(page, "get_vm") == paused
        await _set_hidden(page, False)
        await page.wait_for_function(f"window.__host.calls.filter((c) => c.name === 'get_vm').length > {paused}",
                                     timeout=TIMEOUT_MS)
        _advance(sandbox, 10)
        await row.locator(".pill", has_text="running").wait_for(timeout=TIMEOUT_MS)
        await row.get_by_role("button", name="Stop db-1").wait_for(timeout=TIMEOUT_MS)
