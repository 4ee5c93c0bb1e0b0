"""project_overview at 1k / 10k / 100k VMs against the sandbox over HTTP, vs a plain client paging the same pages.

One sandbox process (`python -m neev_mcp.sandbox`, seeded through its admin API: one project per size) serves both
sides. For each size a fresh `python -m neev_mcp` runs over stdio; each round makes one `project_overview` call
through a real `mcp.Client` and one direct read of every page of both collections with `httpx2` at a fixed
concurrency, JSON parsed, in rotating order: at the walker's peak concurrency of a warm-up overview ("the same
concurrency"), and at 4 (where the walker starts). Reported: medians (min–max), the ratios of the medians, pages per
second, and the server's memory: VmHWM (peak RSS) after the rounds minus VmRSS when idle before them.

A second part gives the API real latency and a parallel limit (`POST /_sandbox/capacity`: 100 ms per answer, at
most 32 requests in flight) and repeats the comparison on the middle size: a plain client at 4 in flight stays
there, the walker grows while answers stay fast.

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
    """Interleaved rounds of: our overview, the plain client at 4 in flight, and at the walker's peak concurrency
    (taken from a warm-up overview: 'the same concurrency')."""

    async def overview() -> dict[str, Any]:
        result = await neev.call_tool("project_overview", {"org_id": ORG, "project_id": project})
        s = result.structured_content or {}
        assert not result.is_error, result.content
        return {**s["walk"], "text_chars": len(result.content[0].text), "structured_chars": len(json.dumps(s)),
                "vm_total": s["vm_total"]}

    same = max(BASELINE_CONCURRENCY, (await overview())["concurrency_peak"])
    sides = ["ours", f"plain@{BASELINE_CONCURRENCY}", f"plain@{same}"]
    times: dict[str, list[float]] = {side: [] for side in sides}
    walks: list[dict[str, Any]] = []
    pages = 0
    for i in range(rounds):
        for side in sides[i % 3:] + sides[:i % 3]:
            started = time.perf_counter()
            if side == "ours":
                walks.append(await overview())
            else:
                pages = await direct_paging(http, base, project, int(side.split("@")[1]))
            times[side].append(time.perf_counter() - started)
    stats = {side: spread(t) for side, t in times.items()}
    ours = stats["ours"]["median"]
    return {"stats": stats, "same_concurrency": same, "pages": pages, "walks": walks,
            "ratio_same": ours / stats[f"plain@{same}"]["median"],
            "ratio_modest": ours / stats[f"plain@{BASELINE_CONCURRENCY}"]["median"],
            "pages_per_second": statistics.median(w["pages_per_second"] for w in walks),
            "complete": sum(w["complete"] for w in walks)}


async def measure(sizes: list[int], rounds: int, latency_rounds: int, deadline: float | None) -> dict[str, Any]:
    port = bench_per_call.free_port()
    sandbox = start_sandbox(port)
    base = f"http://127.0.0.1:{port}/vm"
    admin = f"http://127.0.0.1:{port}/_sandbox"
    out: dict[str, Any] = {"sizes": {}, "rounds": rounds, "machine": machine(), "deadline": deadline or 25.0}
    try:
        async with httpx2.AsyncClient(headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"}, timeout=120) as http:
            for size in sizes:
                started = time.perf_counter()
                (await http.post(f"{admin}/bulk", json={"count": size, "org_id": ORG, "project_id": f"p{size}"}))\
                    .raise_for_status()
                out.setdefault("seed_seconds", {})[size] = round(time.perf_counter() - started, 2)
            env = {**os.environ, "NEEV_API_TOKEN": DEFAULT_TOKEN, "NEEV_API_BASE_URL": base,
                   "NEEV_MCP_LOG_LEVEL": "WARNING", **({"NEEV_OVERVIEW_DEADLINE": str(deadline)} if deadline else {})}
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
    lines = [f"machine: {result['machine']}; NEEV_OVERVIEW_DEADLINE={result['deadline']}\n",
             "| VMs | pages | project_overview | plain client, same concurrency | ratio | plain client, 4 in flight "
             "| ratio | pages/s | server RSS growth | text / structured chars |",
             "|---|---|---|---|---|---|---|---|---|---|"]
    for size, row in result["sizes"].items():
        lines.append(_row(f"{int(size):,}", row))
    lat = result.get("latency")
    if lat:
        cap = lat["capacity"]
        lines.append(f"\nWith {cap['latency'] * 1000:.0f} ms per answer and at most {cap['max_parallel']} requests in "
                     f"flight (429 beyond), {int(lat['size']):,} VMs:\n")
        lines += [*lines[1:3], _row(f"{int(lat['size']):,}", lat)]
        lines.append(f"\n429s answered to the walker: {sum(w['throttled'] for w in lat['walks'])} over "
                     f"{len(lat['walks'])} overviews; sandbox peak in flight {cap['peak']}.")
    seeds = ", ".join(f"{int(k):,} VMs {v:.1f} s" for k, v in result.get("seed_seconds", {}).items())
    lines.append(f"\nSeeding through POST /_sandbox/bulk: {seeds}. Rounds per size: {result['rounds']} (after one "
                 "warm-up overview).")
    return "\n".join(lines)


def _row(label: str, row: dict[str, Any]) -> str:
    st, same = row["stats"], row["same_concurrency"]
    whole = "" if row["complete"] == len(row["walks"]) else \
        f" ({len(row['walks']) - row['complete']} of {len(row['walks'])} INCOMPLETE at the deadline)"
    chars = max(w["text_chars"] for w in row["walks"]), max(w["structured_chars"] for w in row["walks"])
    rss = f"{row['rss_growth_mib']:.1f} MiB (idle {row['rss_idle_mib']:.0f} MiB)" if "rss_growth_mib" in row else "–"
    return (f"| {label} | {row['pages']:,} | {ms(st['ours'])}{whole} | {ms(st[f'plain@{same}'])} ({same} in flight) | "
            f"{row['ratio_same']:.2f}× | {ms(st[f'plain@{BASELINE_CONCURRENCY}'])} | {row['ratio_modest']:.2f}× | "
            f"{row['pages_per_second']:,.0f} | {rss} | {chars[0]:,} / {chars[1]:,} |")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000, 100000])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--latency-rounds", type=int, default=3)
    parser.add_argument("--deadline", type=float, default=None,
                        help="NEEV_OVERVIEW_DEADLINE for the server (default: its own default, 25 s)")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = anyio.run(measure, args.sizes, args.rounds, args.latency_rounds, args.deadline)
    print(json.dumps(result, indent=2) if args.json else report(result))
    worst = max(row["ratio_same"] for row in result["sizes"].values())
    return 0 if worst <= 1.2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
