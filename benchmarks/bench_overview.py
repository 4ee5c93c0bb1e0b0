"""project_overview at 1k / 10k / 100k VMs against the sandbox over HTTP, vs a plain client paging the same pages.

One sandbox process (`python -m neev_mcp.sandbox`, seeded through its admin API: one project per size) serves both
sides. For each size a fresh `python -m neev_mcp` runs over stdio; each round makes one `project_overview` call
through a real `mcp.Client` and one direct read of every page of both collections with `httpx2` at a fixed
concurrency (the walker's starting concurrency, 4), JSON parsed, in alternating order. Reported: medians (min–max),
the ratio of the medians, pages per second, the walker's peak concurrency, and the server's memory: VmHWM (peak RSS)
after the rounds minus VmRSS when idle before them.

A second part gives the API real latency and a parallel limit (`POST /_sandbox/capacity`: 100 ms per answer, at
most 32 requests in flight) and repeats the comparison on the 10k project: the plain client stays at 4 in flight, the
walker grows while answers stay fast.

    python benchmarks/bench_overview.py                # ~3 minutes on 2 CPUs; --json for raw numbers
    python benchmarks/bench_overview.py --sizes 1000 10000 --rounds 3
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import bench_per_call
import httpx2
from mcp import Client, StdioServerParameters

from neev_mcp.sandbox import DEFAULT_TOKEN

ORG = "bench-org"
BASELINE_CONCURRENCY = 4  # agent_tools.Limits.concurrency: where the walker starts
LATENCY = {"latency": 0.1, "max_parallel": 32, "retry_after": 0.1}


def start_sandbox(port: int) -> subprocess.Popen[bytes]:
    """An empty sandbox with a frozen clock (the listings do not drift between the two sides)."""
    return bench_per_call.start_sandbox(port, [sys.executable, "-m", "neev_mcp.sandbox", "--port", str(port),
                                               "--no-seed", "--speed", "0"])


def proc_kib(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    raise RuntimeError(f"no {field}")


def server_pid() -> int:
    """Our `python -m neev_mcp` child (the stdio client spawns it)."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if int(stat[1]) == os.getpid() and b"neev_mcp" in cmdline and b"-m" in cmdline:
            return int(entry.name)
    raise RuntimeError("server process not found")


async def direct_paging(http: httpx2.AsyncClient, base: str, project: str, concurrency: int) -> int:
    """The plain client: page 1 of each collection, then every other page, `concurrency` in flight, JSON parsed."""
    gate = anyio.Semaphore(concurrency)
    pages = 0

    async def get(collection: str, page: int) -> dict[str, Any]:
        nonlocal pages
        async with gate:
            while True:
                r = await http.get(f"{base}/api/v1/orgs/{ORG}/projects/{project}/{collection}",
                                   params={"page": page, "limit": 100})
                if r.status_code != 429:
                    break
                await anyio.sleep(float(r.headers.get("retry-after", "0.1")))
            r.raise_for_status()
            pages += 1
            return r.json()

    async def walk(collection: str) -> None:
        first = await get(collection, 1)
        async with anyio.create_task_group() as tg:
            for page in range(2, first["pagination"]["total_pages"] + 1):
                tg.start_soon(get, collection, page)

    async with anyio.create_task_group() as tg:
        tg.start_soon(walk, "vms")
        tg.start_soon(walk, "root_disks")
    return pages


def machine() -> str:
    import platform

    return (f"{os.cpu_count()} CPUs, Python {platform.python_version()}, load average "
            f"{os.getloadavg()[0]:.1f} at start")


def spread(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


async def compare(neev: Client, http: httpx2.AsyncClient, base: str, project: str, rounds: int) -> dict[str, Any]:
    ours: list[float] = []
    plain: list[float] = []
    walks: list[dict[str, Any]] = []
    pages = 0
    for i in range(rounds):
        for side in (("ours", "plain") if i % 2 == 0 else ("plain", "ours")):
            started = time.perf_counter()
            if side == "ours":
                result = await neev.call_tool("project_overview", {"org_id": ORG, "project_id": project})
                ours.append(time.perf_counter() - started)
                s = result.structured_content or {}
                assert not result.is_error, result.content
                walks.append({**s["walk"], "text_chars": len(result.content[0].text),
                              "structured_chars": len(json.dumps(s)), "vm_total": s["vm_total"]})
            else:
                pages = await direct_paging(http, base, project, BASELINE_CONCURRENCY)
                plain.append(time.perf_counter() - started)
    o, p = spread(ours), spread(plain)
    return {"ours": o, "plain": p, "ratio": o["median"] / p["median"], "pages": pages,
            "pages_per_second": pages / o["median"], "walks": walks}


async def measure(sizes: list[int], rounds: int, latency_rounds: int) -> dict[str, Any]:
    port = bench_per_call.free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/vm"
    admin = f"http://127.0.0.1:{port}/_sandbox"
    out: dict[str, Any] = {"sizes": {}, "rounds": rounds, "machine": machine()}
    try:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=120) as http:
            for size in sizes:
                started = time.perf_counter()
                (await http.post(f"{admin}/bulk", json={"count": size, "org_id": ORG, "project_id": f"p{size}"}))\
                    .raise_for_status()
                out.setdefault("seed_seconds", {})[size] = round(time.perf_counter() - started, 2)
            env = {**os.environ, "NEEV_API_TOKEN": DEFAULT_TOKEN, "NEEV_API_BASE_URL": base,
                   "NEEV_MCP_LOG_LEVEL": "WARNING"}
            for size in sizes:
                params = StdioServerParameters(command=sys.executable, args=["-m", "neev_mcp"], env=env)
                async with Client(params) as neev:
                    pid = server_pid()
                    await neev.call_tool("list_vms", {"org_id": ORG, "project_id": f"p{size}", "limit": 1})
                    idle = proc_kib(pid, "VmRSS")
                    row = await compare(neev, http, base, f"p{size}", rounds)
                    row["rss_idle_mib"] = idle / 1024
                    row["rss_growth_mib"] = (proc_kib(pid, "VmHWM") - idle) / 1024
                    if size == sorted(sizes)[len(sizes) // 2] and latency_rounds:
                        (await http.post(f"{admin}/capacity", json=LATENCY)).raise_for_status()
                        out["latency"] = await compare(neev, http, base, f"p{size}", latency_rounds)
                        out["latency"].update(size=size, capacity=(await http.get(f"{admin}/capacity")).json())
                        (await http.post(f"{admin}/capacity", json={})).raise_for_status()
                out["sizes"][size] = row
    finally:
        sandbox.kill()
        sandbox.wait(timeout=10)
    return out


def ms(s: dict[str, float]) -> str:
    return f"{s['median'] * 1000:,.0f} ms ({s['min'] * 1000:,.0f}–{s['max'] * 1000:,.0f})"


def report(result: dict[str, Any]) -> str:
    lines = [f"machine: {result['machine']}\n",
             "| VMs | pages | project_overview | plain client, 4 in flight | ratio | pages/s | walker peak "
             "concurrency | server RSS growth | text / structured chars |", "|---|---|---|---|---|---|---|---|---|"]
    for size, row in result["sizes"].items():
        peak = max(w["concurrency_peak"] for w in row["walks"])
        done = sum(w["complete"] for w in row["walks"])
        chars = max(w["text_chars"] for w in row["walks"]), max(w["structured_chars"] for w in row["walks"])
        whole = "" if done == len(row["walks"]) else f" ({len(row['walks']) - done} INCOMPLETE at the deadline)"
        lines.append(f"| {int(size):,} | {row['pages']:,} | {ms(row['ours'])}{whole} | {ms(row['plain'])} | "
                     f"{row['ratio']:.2f}× | {row['pages_per_second']:,.0f} | {peak} | "
                     f"{row['rss_growth_mib']:.1f} MiB (idle {row['rss_idle_mib']:.0f} MiB) | "
                     f"{chars[0]:,} / {chars[1]:,} |")
    lat = result.get("latency")
    if lat:
        cap = lat["capacity"]
        peak = max(w["concurrency_peak"] for w in lat["walks"])
        lines.append(f"\nWith {cap['latency'] * 1000:.0f} ms per answer and at most {cap['max_parallel']} in flight "
                     f"({int(lat['size']):,} VMs, {lat['pages']} pages): project_overview {ms(lat['ours'])}, plain "
                     f"client at 4 in flight {ms(lat['plain'])}, ratio {lat['ratio']:.2f}×; walker peak concurrency "
                     f"{peak}, 429s {sum(w['throttled'] for w in lat['walks'])} over {len(lat['walks'])} overviews.")
    seeds = ", ".join(f"{int(k):,} VMs {v:.1f} s" for k, v in result.get("seed_seconds", {}).items())
    lines.append(f"\nSeeding through POST /_sandbox/bulk: {seeds}. Rounds per size: {result['rounds']}.")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-rounds", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = anyio.run(measure, args.sizes, args.rounds, args.latency_rounds)
    print(json.dumps(result, indent=2) if args.json else report(result))
    worst = max(row["ratio"] for row in result["sizes"].values())
    return 0 if worst <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
