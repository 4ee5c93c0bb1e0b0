"""`neev-mcp demo`: a scripted ops conversation, printed as an agent sees it.

A real `mcp.Client` talks to the server running on the embedded sandbox (a simulated NeevCloud): the tool list, the
project overview, create → wait (with progress) → stop → start → a gated delete → wait until gone. The client has
no elicitation, so the delete comes back as a preview with a confirmation token; the script plays the user who
approves and calls again with the token. By default the server runs in this process; `--stdio` spawns
`python -m neev_mcp --sandbox` instead and talks to it over stdio, as a desktop client would.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import os
import sys
import textwrap
import time
from collections.abc import Sequence
from typing import Any

import anyio
from mcp import Client, StdioServerParameters
from mcp.types import CallToolResult

from .agent_tools import Limits
from .config import Settings

WIDTH = 100
CREATE = {
    "name": "demo-web",
    "region_id": "in-mum-1",
    "vm_config_id": "vcpu-2-ram-8",
    "plan_id": "hourly",
    "root_disk": {"create_disk_request": {"name": "demo-web-root", "size_gb": 50, "image_id": "ubuntu-24.04"}},
    "delete_root_disk": True,
    "exposed_ports": [{"port": 80, "protocol": "tcp"}],
}


def choose(found: dict[str, Any]) -> dict[str, Any]:
    """What the scripted agent picks from vm_options: the most used region, plan and image, and the most used
    configuration without GPUs (the CREATE defaults where vm_options has nothing)."""
    def first(key: str, usable: Any = lambda row: True) -> str | None:
        rows = (found.get(key) or {}).get("values") or []
        return next((row["id"] for row in rows if usable(row)), None)

    disk = dict(CREATE["root_disk"]["create_disk_request"])
    disk["image_id"] = first("images") or disk["image_id"]
    return {**CREATE, "region_id": first("regions") or CREATE["region_id"], "plan_id": first("plans") or
            CREATE["plan_id"], "vm_config_id": first("vm_configs", lambda row: not any(row.get("gpu_counts") or []))
            or CREATE["vm_config_id"], "root_disk": {"create_disk_request": disk}}


def header(number: int | str, title: str) -> None:
    print(f"\n── {number}. {title} " + "─" * max(3, WIDTH - len(title) - 8))


def elide(token: str) -> str:
    return f"{token[:10]}…"


def show(result: CallToolResult) -> None:
    flag = "  [isError]" if result.is_error else ""
    token = (result.structured_content or {}).get("confirmation_token")
    for block in result.content:
        text = getattr(block, "text", "")
        if isinstance(token, str) and token:
            text = text.replace(token, elide(token))  # the agent sees the whole token; a transcript needn't
        for line in text.splitlines() or [""]:
            print(textwrap.indent(textwrap.fill(line, WIDTH - 4, subsequent_indent="    ",
                                                break_on_hyphens=False, break_long_words=False), "  "))
    if flag:
        print(flag)


def args_line(name: str, args: dict[str, Any]) -> str:
    return f"{name} {json.dumps(args, separators=(', ', ': '))}" if args else name


async def call(client: Client, name: str, args: dict[str, Any], *, progress: bool = False) -> CallToolResult:
    print(textwrap.fill(f"→ {args_line(name, args)}", WIDTH - 2, initial_indent="  ", subsequent_indent="      ",
                        break_on_hyphens=False, break_long_words=False))

    async def on_progress(done: float, total: float | None, message: str | None) -> None:
        print(f"    … progress {done:.1f}/{total:.0f}s: {message}" if total else f"    … {message}")

    result = await client.call_tool(name, args, progress_callback=on_progress if progress else None)
    show(result)
    return result


async def session(client: Client) -> None:
    header(1, "tools/list — what the agent is offered")
    tools = (await client.list_tools()).tools
    for tool in tools:
        hints = tool.annotations
        kind = ("destructive" if hints and hints.destructive_hint else
                "read-only" if hints and hints.read_only_hint else "changes state")
        print(f"  {tool.name:<26}{kind:<15}{tool.title}")

    header(2, "project_overview — the whole project in one answer")
    await call(client, "project_overview", {})

    header(3, "vm_options, then create_vm with the values it shows")
    found = (await call(client, "vm_options", {})).structured_content or {}
    created = await call(client, "create_vm", choose(found))
    vm_id = (created.structured_content or {}).get("id")
    if created.is_error or not vm_id:
        raise SystemExit("demo: create_vm failed; see above")

    header(4, "wait_for_vm until it runs (MCP progress notifications)")
    await call(client, "wait_for_vm", {"vm_id": vm_id, "target_status": "running"}, progress=True)

    header(5, "stop_vm, then wait until stopped")
    await call(client, "stop_vm", {"vm_id": vm_id})
    await call(client, "wait_for_vm", {"vm_id": vm_id, "target_status": "stopped"}, progress=True)

    header(6, "start_vm, then wait until running")
    await call(client, "start_vm", {"vm_id": vm_id})
    await call(client, "wait_for_vm", {"vm_id": vm_id, "target_status": "running"}, progress=True)

    header(7, "delete_vm — destructive, so it needs the user's confirmation")
    first = await call(client, "delete_vm", {"vm_id": vm_id})
    token = (first.structured_content or {}).get("confirmation_token")
    if not token:
        print("  (no confirmation token came back: the VM was not deleted)")
        return
    print("  (the agent shows this preview to the user …)")
    print("  (the user approves)")
    print(f"  → delete_vm again with the same vm_id and confirmation_token={elide(token)} (elided here)")
    deleted = await client.call_tool("delete_vm", {"vm_id": vm_id, "confirmation_token": token})
    show(deleted)
    if deleted.is_error:
        return
    await call(client, "wait_for_vm", {"vm_id": vm_id, "target_status": "deleted"}, progress=True)

    header(8, "project_overview — the first line, afterwards")
    after = await client.call_tool("project_overview", {})
    print("  " + getattr(after.content[0], "text", "").splitlines()[0])


def _speed(text: str) -> float:
    """argparse type: a finite, positive number of simulated seconds per real second."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


async def run(speed: float, stdio: bool) -> None:
    if stdio:
        env = {**os.environ, "NEEV_SANDBOX_SPEED": str(speed), "NEEV_MCP_LOG_LEVEL": "WARNING"}
        params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp", "--sandbox"], env=env)
        async with Client(params) as client:
            await session(client)
        return
    from .sandbox import Sandbox, SimClock
    from .server import build_server

    # Poll a little faster than an agent would, so a few progress lines show even at high sandbox speed.
    server = build_server(Settings(sandbox=True), sandbox=Sandbox(clock=SimClock(speed=speed)),
                          limits=Limits(poll_initial=0.25, poll_factor=1.5, poll_max=1.0))
    async with Client(server) as client:
        await session(client)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="neev-mcp demo", description=__doc__.splitlines()[0])
    parser.add_argument("--speed", type=_speed, default=4.0,
                        help="simulated seconds per real second in the sandbox (default 4)")
    parser.add_argument("--stdio", action="store_true",
                        help="run the server as a subprocess (python -m neev_mcp --sandbox) and talk over stdio")
    args = parser.parse_args(list(argv or []))
    # stdout carries the demo; keep library chatter (one line per HTTP request) off it.
    logging.basicConfig(stream=sys.stderr, level=logging.WARNING)
    started = time.monotonic()
    print("neev-mcp demo: a real MCP client talking to neev-mcp, which runs against a simulated NeevCloud")
    print(f"(sandbox ×{args.speed:g}, {'stdio subprocess' if args.stdio else 'in-process'}; no account, no network)")
    anyio.run(run, args.speed, args.stdio)
    print(f"\nDone in {time.monotonic() - started:.1f}s.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
