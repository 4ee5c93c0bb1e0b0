"""What the shared replay store costs a confirmed mutation: redeeming a `create_vm` token with the in-process guard
(baseline) vs with NEEV_MCP_REPLAY_STORE on a local redis-server, in one run.

Both servers run in this process on one frozen-clock sandbox, with a real mcp.Client each; calls are interleaved
(alternating order) after a warm-up, and only the redeem (second call) is timed. Reported: medians with min–max and
the ratio of medians. Needs `redis-server` on PATH (Debian: apt-get install redis-server).

    python benchmarks/bench_replay_store.py [--calls 200] [--json]
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import logging
import shutil
import socket
import statistics
import subprocess
import time
from typing import Any

import anyio
from mcp import Client

from neev_mcp.config import Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SimClock
from neev_mcp.server import build_server

CREATE = {"region_id": "in-mum-1", "vm_config_id": "vcpu-4-ram-16", "plan_id": "hourly",
          "root_disk": {"create_disk_request": {"name": "root", "size_gb": 40, "image_id": "ubuntu-24.04"}}}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def redeem_once(client: Client, name: str) -> float:
    args = {**CREATE, "name": name}
    preview = await client.call_tool("create_vm", args)
    token = preview.structured_content["confirmation_token"]
    start = time.perf_counter()
    done = await client.call_tool("create_vm", {**args, "confirmation_token": token})
    elapsed = time.perf_counter() - start
    assert not done.is_error, done.content
    return elapsed


async def measure(calls: int, redis_url: str) -> dict[str, Any]:
    clock = SimClock(speed=0, start=dt.datetime(2026, 11, 28, 12, tzinfo=dt.UTC))
    sandbox = Sandbox(token=DEFAULT_TOKEN, org_id="demo-org", project_id="demo-project", clock=clock)
    base = {"api_token": DEFAULT_TOKEN, "api_base_url": "http://sandbox.test/vm", "org_id": "demo-org",
            "project_id": "demo-project", "mcp_secret": "bench-secret-0123456789abcdef-0123456789",
            "confirm": "mutating"}
    local = build_server(Settings(**base), http_transport=sandbox.transport(), now=clock.now)
    shared = build_server(Settings(**base, replay_store=redis_url), http_transport=sandbox.transport(), now=clock.now)
    times: dict[str, list[float]] = {"in-process": [], "redis": []}
    async with Client(local) as on_local, Client(shared) as on_shared:
        clients = {"in-process": on_local, "redis": on_shared}
        for i in range(10):  # warm-up
            for label, client in clients.items():
                await redeem_once(client, f"warm-{label}-{i}")
        for i in range(calls):
            order = list(clients.items()) if i % 2 == 0 else list(reversed(clients.items()))
            for label, client in order:
                times[label].append(await redeem_once(client, f"vm-{label}-{i}"))
    report = {label: {"median_ms": statistics.median(v) * 1000, "min_ms": min(v) * 1000, "max_ms": max(v) * 1000}
              for label, v in times.items()}
    report["ratio_of_medians"] = report["redis"]["median_ms"] / report["in-process"]["median_ms"]
    report["calls"] = calls
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--calls", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    logging.disable(logging.INFO)  # the audit lines and request logs of 2 × 210 redeems are not the result
    binary = shutil.which("redis-server")
    if binary is None:
        raise SystemExit("redis-server not found (apt-get install redis-server)")
    port = free_port()
    redis = subprocess.Popen([binary, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(0.5)
        report = anyio.run(measure, args.calls, f"redis://127.0.0.1:{port}/0")
    finally:
        redis.terminate()
        redis.wait(timeout=10)
    if args.json:
        print(json.dumps(report, indent=2))
        return
    for label in ("in-process", "redis"):
        r = report[label]
        print(f"{label:>10}: median {r['median_ms']:.2f} ms (min {r['min_ms']:.2f}, max {r['max_ms']:.2f})")
    print(f"redis / in-process (ratio of medians): {report['ratio_of_medians']:.2f}x over {args.calls} redeems each")


if __name__ == "__main__":
    main()
