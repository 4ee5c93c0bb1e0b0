"""The review's lock-out attack, replayed against `neev-mcp --transport http` in pass-through mode.

An attacker (source address 127.0.0.2) sends N initializes, each with `Bearer junk-<i>`, C at a time; before issue 11
every one opened a session (24 s and 71 → 442 MB for 10,000, then 503 for every tenant). Reported: the attacker's
status codes, the server's resident memory before and after, wall time, and whether a legitimate tenant (from
127.0.0.1) can still open a session and list tools afterwards.

    python benchmarks/auth_flood.py [--requests 2000] [--concurrency 50]
"""

from __future__ import annotations

import argparse
import collections
import os
import time

import anyio
import httpx2
from load import free_port, rss_kib, start, stop, wait_ready  # benchmarks/load.py: the same process plumbing

from neev_mcp.sandbox import DEFAULT_TOKEN

HEADERS = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}
INITIALIZE = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
    "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "flood", "version": "0"}}}


def rss_mb(pid: int) -> float:
    return round(rss_kib(pid) / 1024, 1)


async def flood(url: str, requests: int, concurrency: int) -> collections.Counter[int]:
    codes: collections.Counter[int] = collections.Counter()
    transport = httpx2.AsyncHTTPTransport(local_address="127.0.0.2")  # the attacker's own address
    limiter = anyio.CapacityLimiter(concurrency)
    async with httpx2.AsyncClient(transport=transport, timeout=30) as http:
        async def one(i: int) -> None:
            async with limiter:
                r = await http.post(url, json=INITIALIZE, headers={**HEADERS, "Authorization": f"Bearer junk-{i}"})
                codes[r.status_code] += 1

        async with anyio.create_task_group() as tg:
            for i in range(requests):
                tg.start_soon(one, i)
    return codes


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=50)
    args = parser.parse_args()
    sandbox_port, port = free_port(), free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEEV_")}
    server_env = {**env, "NEEV_MCP_AUTH": "passthrough", "NEEV_API_BASE_URL": f"http://127.0.0.1:{sandbox_port}/vm",
                  "NEEV_ORG_ID": "demo-org", "NEEV_PROJECT_ID": "demo-project", "NEEV_MCP_LOG_LEVEL": "WARNING"}
    sandbox = start(["-m", "neev_mcp.sandbox", "--port", str(sandbox_port), "--speed", "0"], env)
    server = start(["-m", "neev_mcp", "--transport", "http", "--port", str(port)], server_env)
    try:
        wait_ready(f"http://127.0.0.1:{sandbox_port}/_sandbox/healthz", sandbox, timeout=60)
        wait_ready(f"http://127.0.0.1:{port}/healthz", server, timeout=60)
        before = rss_mb(server.pid)
        started = time.monotonic()
        codes = anyio.run(flood, f"http://127.0.0.1:{port}/mcp", args.requests, args.concurrency)
        elapsed = time.monotonic() - started
        after = rss_mb(server.pid)
        tenant = httpx2.post(f"http://127.0.0.1:{port}/mcp", json=INITIALIZE, timeout=30,
                             headers={**HEADERS, "Authorization": f"Bearer {DEFAULT_TOKEN}"})
        print(f"attacker: {args.requests} initializes with junk bearers, {args.concurrency} at a time, "
              f"{elapsed:.1f} s; status codes {dict(sorted(codes.items()))}")
        print(f"server RSS: {before} MB before, {after} MB after")
        print(f"legitimate tenant afterwards: HTTP {tenant.status_code}, session opened: "
              f"{'mcp-session-id' in tenant.headers}")
    finally:
        stop(server)
        stop(sandbox)


if __name__ == "__main__":
    main()
