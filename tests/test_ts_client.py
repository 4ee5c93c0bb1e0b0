"""Client compatibility: the official MCP TypeScript SDK client (npm @modelcontextprotocol/sdk, Node 22) drives
neev-mcp over stdio and over streamable HTTP through what an agent does (tests/ts_client/flows.mjs): list tools,
list_vms, project_overview, create_vm, wait_for_vm, stop/start, and the gated delete_vm accepted, declined and by
confirmation token; over stdio also a wait on a VM slower than the SDK's 60 s request timeout (~40 s of real time).

Nothing is installed here: scripts/ts-client.sh puts Node 22 and the SDK under .cache/ (.ci/run calls it). Both flows
run at once against one HTTP sandbox (the slow wait against a second one whose clock is frozen); afterwards the
sandboxes' own records show that exactly the expected requests reached NeevCloud.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx2
import pytest

from neev_mcp.sandbox import DEFAULT_TOKEN

from .components import ROOT, TS_SDK_VERSION, node22, ts_sdk
from .support.http import (
    ORG,
    PROJECT,
    VM_IDS,
    Proc,
    base_env,
    sandbox_requests,
    spawn_sandbox,
    spawn_server,
    vm_path,
    wait_ready,
)

FLOWS = ROOT / "tests" / "ts_client" / "flows.mjs"
STEPS = ["tools/list", "list_vms", "project_overview", "create_vm", "wait running", "stop_vm", "wait stopped",
         "start_vm", "wait running again", "create_vm (second)", "wait second running", "delete declined",
         "wait deleted (accepted)", "delete accepted", "wait deleted (token)", "delete by token"]
SLOW_STEPS = ["create_vm (slow)", "slow wait", "slow wait continued"]

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stack() -> Iterator[dict[str, Proc]]:
    """A sandbox at 5x speed with `neev-mcp --transport http` on it, and a frozen sandbox for the slow wait."""
    procs: dict[str, Proc] = {}
    try:
        procs["sandbox"] = spawn_sandbox("--speed", "5")
        procs["frozen"] = spawn_sandbox()  # --speed 0: a VM stays pending until the flow moves the clock
        wait_ready(procs["sandbox"], procs["frozen"])
        procs["http"] = spawn_server(procs["sandbox"])
        wait_ready(procs["http"])
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


@pytest.fixture(scope="module")
def runs(stack: dict[str, Proc]) -> dict[str, dict[str, Any]]:
    """Both flows, started together; each one's steps and final record, or a failure with what it printed."""
    node, sdk = node22(), ts_sdk()
    env = {**base_env(), "NEEV_API_TOKEN": DEFAULT_TOKEN, "NEEV_ORG_ID": ORG, "NEEV_PROJECT_ID": PROJECT,
           "NEEV_MAX_ATTEMPTS": "1"}
    common = [node, str(FLOWS), "--sdk", sdk, "--sandbox", stack["sandbox"].url]
    commands = {
        "stdio": [*common, "--transport", "stdio", "--python", sys.executable, "--slow-sandbox", stack["frozen"].url],
        "http": [*common, "--transport", "http", "--url", stack["http"].url + "/mcp"],
    }
    started = {name: subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                      stdin=subprocess.DEVNULL) for name, cmd in commands.items()}
    results: dict[str, dict[str, Any]] = {}
    for name, popen in started.items():
        try:
            out, err = popen.communicate(timeout=180)
        except subprocess.TimeoutExpired:
            popen.kill()
            out, err = popen.communicate()
        lines = [json.loads(line) for line in out.decode().splitlines() if line.startswith("{")]
        results[name] = {"rc": popen.returncode, "lines": lines, "stderr": err.decode(errors="replace")[-4000:]}
    return results


def flow(runs: dict[str, dict[str, Any]], transport: str) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    run = runs[transport]
    failure = [line for line in run["stderr"].splitlines() if line.startswith("FAIL")]
    assert run["rc"] == 0, f"the TypeScript client's {transport} flow failed: {failure or run['stderr']}"
    *steps, done = run["lines"]
    assert done["done"] is True and done["transport"] == transport
    return steps, done["vms"]


def api_vms(sandbox: Proc) -> dict[str, str]:
    """name → status of every VM in the demo project, read from the sandbox's API as NeevCloud would answer."""
    answer = httpx2.get(f"{sandbox.url}/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms", params={"limit": 100},
                        headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=5.0)
    answer.raise_for_status()
    return {vm["name"]: vm["status"] for vm in answer.json()["data"]}


def test_the_installed_sdk_is_the_pinned_one() -> None:
    script = (ROOT / "scripts" / "ts-client.sh").read_text(encoding="utf-8")
    assert f'SDK_VERSION="{TS_SDK_VERSION}"' in script


@pytest.mark.parametrize("transport", ["stdio", "http"])
def test_every_step_of_the_agent_flow_succeeds_in_the_typescript_client(
    runs: dict[str, dict[str, Any]], transport: str
) -> None:
    steps, vms = flow(runs, transport)
    expected = STEPS + (SLOW_STEPS if transport == "stdio" else [])
    assert [s["step"] for s in steps] == expected
    assert all(s["ok"] for s in steps)
    assert vms["deleted"] == [vms["first"], vms["second"]]
    assert next(s for s in steps if s["step"] == "project_overview")["vm_total"] >= 6


def test_a_wait_longer_than_the_clients_60_s_ends_in_time_and_continues(runs: dict[str, dict[str, Any]]) -> None:
    steps, vms = flow(runs, "stdio")
    slow = next(s for s in steps if s["step"] == "slow wait")
    assert 40 <= slow["seconds"] < 50  # the tool's default, well inside the SDK's 60 s; no -32001
    assert slow["progress"] >= 5
    assert slow["continue_with"] == {"tool": "wait_for_vm", "arguments": {
        "org_id": ORG, "project_id": PROJECT, "vm_id": vms["slow"], "target_status": "running", "timeout_seconds": 40}}


def test_exactly_the_confirmed_deletes_reached_the_sandbox(runs: dict[str, dict[str, Any]],
                                                           stack: dict[str, Proc]) -> None:
    created = {t: flow(runs, t)[1] for t in ("stdio", "http")}
    deletes = sorted(r["path"] for r in sandbox_requests(stack["sandbox"], "DELETE"))
    # accepted and token-confirmed: one DELETE each; the declined dialog sent none (its VM was deleted once, later)
    assert deletes == sorted(vm_path(vms[key]) for vms in created.values() for key in ("first", "second"))
    creates = [r for r in sandbox_requests(stack["sandbox"], "POST") if re.search(r"/vms$", r["path"])]
    assert len(creates) == 4
    names = api_vms(stack["sandbox"])
    assert not any(name.startswith("ts-") for name in names)  # all four gone (5x clock: deletion took < 1 s)
    assert set(VM_IDS) <= set(names)  # the seeded VMs are untouched
    assert [r["method"] for r in sandbox_requests(stack["frozen"]) if r["method"] != "GET"] == ["POST"]
    assert api_vms(stack["frozen"])["ts-stdio-slow"] == "running"
