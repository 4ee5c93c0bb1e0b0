"""Per-call overhead: `get_vm` over stdio against the sandbox served over HTTP, vs the floor.

floor = (a bare one-tool `MCPServer` round trip over stdio) + (a direct httpx2 GET of the same VM from the same
sandbox over HTTP). All three are timed in one run, interleaved call by call (rotating order) after a warm-up, with the
same mcp.Client for both MCP servers; reported as medians with min–max and the ratio of medians.

    python bench_per_call.py [--calls 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client, StdioServerParameters

from neev_mcp.sandbox import DEFAULT_TOKEN

HERE = Path(__file__).resolve().parent
ORG, PROJECT = "demo-org", "demo-project"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_sandbox(port: int, command: list[str] | None = None) -> subprocess.Popen[bytes]:
    """The sandbox over HTTP on `port` (`command`: another way to serve it), once it answers its health check."""
    proc = subprocess.Popen(command or [sys.executable, str(HERE / "sandbox_http.py"), str(port)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx2.get(f"http://127.0.0.1:{port}/_sandbox/healthz", timeout=1).status_code == 200:
                return proc
        except httpx2.HTTPError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("the sandbox did not start")


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


async def measure(calls: int = 300, warmup: int = 30) -> dict[str, Any]:
    port = free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/vm"
    env = {**os.environ, "NEEV_API_TOKEN": DEFAULT_TOKEN, "NEEV_API_BASE_URL": base, "NEEV_ORG_ID": ORG,
           "NEEV_PROJECT_ID": PROJECT, "NEEV_MCP_LOG_LEVEL": "WARNING"}
    ours = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env=env)
    bare = StdioServerParameters(command=sys.executable, args=[str(HERE / "bare_server.py")], env=dict(os.environ))
    try:
        headers = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
        async with Client(ours) as neev, Client(bare) as floor_mcp, httpx2.AsyncClient(headers=headers) as http:
            listing = await http.get(f"{base}/api/v1/orgs/{ORG}/projects/{PROJECT}/vms")
            vm_id = next(v["id"] for v in listing.json()["data"] if v["name"] == "web-1")
            vm_url = f"{base}/api/v1/orgs/{ORG}/projects/{PROJECT}/vms/{vm_id}"

            async def get_vm() -> None:
                result = await neev.call_tool("get_vm", {"vm_id": vm_id})
                assert not result.is_error, result

            async def bare_call() -> None:
                await floor_mcp.call_tool("ping", {"text": ""})

            async def direct_get() -> None:
                (await http.get(vm_url)).raise_for_status()

            probes: dict[str, Callable[[], Awaitable[None]]] = {
                "neev-mcp get_vm": get_vm, "bare MCPServer call": bare_call, "direct httpx2 GET": direct_get}
            names = list(probes)
            samples: dict[str, list[float]] = {n: [] for n in names}
            for i in range(warmup + calls):
                for name in names[i % 3:] + names[:i % 3]:
                    started = time.perf_counter()
                    await probes[name]()
                    if i >= warmup:
                        samples[name].append(time.perf_counter() - started)
    finally:
        sandbox.kill()
        sandbox.wait(timeout=10)
    floor = [b + h for b, h in zip(samples["bare MCPServer call"], samples["direct httpx2 GET"], strict=True)]
    stats = {n: summary(s) for n, s in samples.items()}
    stats["floor (bare + GET)"] = summary(floor)
    return {"calls": calls, "warmup": warmup, "stats": stats,
            "ratio": stats["neev-mcp get_vm"]["median"] / stats["floor (bare + GET)"]["median"]}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=300)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = anyio.run(measure, args.calls)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, s in result["stats"].items():
        print(f"{name:<22} median {s['median'] * 1000:6.2f} ms (min {s['min'] * 1000:.2f}, max {s['max'] * 1000:.2f})")
    print(f"ratio get_vm / floor: {result['ratio']:.2f}x")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
