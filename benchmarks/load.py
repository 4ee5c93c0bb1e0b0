"""Bounded loopback load test: N concurrent MCP clients × M tool calls against `neev-mcp --transport http`.

Starts the HTTP sandbox and one server process (static inbound auth, as deployed), then runs `--clients` real
`mcp.Client` sessions at once over streamable HTTP, each making `--calls` tool calls (list_vms, get_vm, and a
project_overview every fifth call). Everything is bounded: fixed counts and a wall-clock limit (`--deadline`).

    /tmp/venv/bin/python benchmarks/load.py                      # 50 × 20, stateful
    /tmp/venv/bin/python benchmarks/load.py --stateless --json   # machine-readable
    /tmp/venv/bin/python benchmarks/load.py --compare --runs 5   # ratios to a bare MCPServer, both modes

Reports errors (exceptions and isError results: must be 0), p50/p99 call latency, throughput (calls/s over the
whole run, session set-up included) and the server process's resident memory (VmRSS) before and after.
Exit status 1 if any call failed or the deadline passed.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

ROOT = Path(__file__).resolve().parent.parent
AUTH_TOKEN = "load-test-inbound-token-0123456789"
VM_IDS = ["212fb4e5-9ad5-50ed-b263-804d559666e3", "151a27a5-c0d5-5853-838b-f5945314cbbd"]  # web-1, db-1


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def cpu_seconds(pid: int) -> float:
    """User + system CPU time the process has used (from /proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{url}: process exited with {proc.returncode}")
        try:
            if httpx2.get(url, timeout=1.0).status_code == 200:
                return
        except httpx2.HTTPError:
            pass
        time.sleep(0.05)
    raise RuntimeError(f"{url} not ready in {timeout} s")


def start(args: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    return subprocess.Popen(
        [sys.executable, *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        cwd=ROOT,
    )


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


async def one_client(url: str, calls: int, latencies: list[float], errors: list[str], mode: str,
                     mix: str = "mixed") -> None:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {AUTH_TOKEN}"}, timeout=30.0)
    try:
        async with http, Client(streamable_http_client(url, http_client=http), mode=mode) as client:  # type: ignore[arg-type]
            for i in range(calls):
                if mix == "get_vm":  # one upstream GET per call: what the bare baseline does
                    name, arguments = "get_vm", {"vm_id": VM_IDS[i % len(VM_IDS)]}
                elif i % 5 == 4:
                    name, arguments = "project_overview", {}
                elif i % 2:
                    name, arguments = "get_vm", {"vm_id": VM_IDS[i % len(VM_IDS)]}
                else:
                    name, arguments = "list_vms", {"limit": 10}
                began = time.perf_counter()
                result = await client.call_tool(name, arguments)
                latencies.append(time.perf_counter() - began)
                if result.is_error:
                    errors.append(f"{name}: isError")
    except Exception as exc:  # counted, not raised: one broken session must not hide the others' numbers
        errors.append(f"session: {type(exc).__name__}: {exc}")


async def run_load(url: str, clients: int, calls: int, deadline: float, mode: str, mix: str = "mixed"
                   ) -> dict[str, Any]:
    latencies: list[float] = []
    errors: list[str] = []
    began = time.perf_counter()
    timed_out = False
    with anyio.move_on_after(deadline) as scope:
        async with anyio.create_task_group() as tg:
            for _ in range(clients):
                tg.start_soon(one_client, url, calls, latencies, errors, mode, mix)
    if scope.cancelled_caught:
        timed_out = True
    wall = time.perf_counter() - began
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return ordered[min(len(ordered) - 1, round(p * (len(ordered) - 1)))] * 1000 if ordered else float("nan")

    return {
        "calls_expected": clients * calls,
        "calls_completed": len(latencies),
        "errors": len(errors),
        "calls_missing": clients * calls - len(latencies),
        "error_samples": errors[:5],
        "timed_out": timed_out,
        "wall_s": round(wall, 2),
        "throughput_calls_per_s": round(len(latencies) / wall, 1) if wall else 0.0,
        "latency_ms": {
            "p50": round(pct(0.50), 1),
            "p99": round(pct(0.99), 1),
            "mean": round(statistics.fmean(ordered) * 1000, 1) if ordered else None,
            "max": round(ordered[-1] * 1000, 1) if ordered else None,
        },
    }


TARGETS = ("neev-mcp", "bare")
STATES = ("stateful", "stateless")


def start_compare_stack(env: dict[str, str], extra: dict[str, str]) -> tuple[dict[str, subprocess.Popen[bytes]],
                                                                          dict[tuple[str, str], str]]:
    """The TCP_NODELAY sandbox, then neev-mcp and the bare server, each stateful and stateless, all ready."""
    from neev_mcp.sandbox import DEFAULT_TOKEN

    procs: dict[str, subprocess.Popen[bytes]] = {}
    urls: dict[tuple[str, str], str] = {}
    sandbox_port = free_port()
    procs["sandbox"] = start([str(ROOT / "benchmarks" / "sandbox_http.py"), str(sandbox_port)], env)
    wait_ready(f"http://127.0.0.1:{sandbox_port}/_sandbox/healthz", procs["sandbox"])
    upstream = f"http://127.0.0.1:{sandbox_port}/vm"
    server_env = {**env, "NEEV_API_TOKEN": DEFAULT_TOKEN, "NEEV_API_BASE_URL": upstream, "NEEV_ORG_ID": "demo-org",
                  "NEEV_PROJECT_ID": "demo-project", "NEEV_MCP_AUTH_TOKEN": AUTH_TOKEN,
                  "NEEV_MCP_LOG_LEVEL": "WARNING", **extra}
    for state in STATES:
        flags = ["--stateless"] if state == "stateless" else []
        for target in TARGETS:
            port = free_port()
            if target == "bare":
                args = [str(ROOT / "benchmarks" / "bare_http_server.py"), str(port), upstream, *flags]
                procs[f"{target}-{state}"] = start(args, {**env, "BARE_UPSTREAM_TOKEN": DEFAULT_TOKEN})
            else:
                args = ["-m", "neev_mcp", "--transport", "http", "--port", str(port), *flags]
                procs[f"{target}-{state}"] = start(args, server_env)
            wait_ready(f"http://127.0.0.1:{port}/healthz", procs[f"{target}-{state}"])
            urls[(target, state)] = f"http://127.0.0.1:{port}/mcp"
    return procs, urls


def median_range(values: list[float], digits: int = 3) -> dict[str, float]:
    return {"median": round(statistics.median(values), digits), "min": round(min(values), digits),
            "max": round(max(values), digits)}


def compare(args: argparse.Namespace) -> dict[str, Any]:
    """Interleaved runs of neev-mcp and the bare server (get_vm only); per-run ratios, then their medians."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEEV_", "OTEL_"))}
    procs, urls = start_compare_stack(env, {"NEEV_MCP_METRICS": "1"} if args.metrics else {})
    runs: dict[tuple[str, str], list[dict[str, Any]]] = {key: [] for key in urls}
    try:
        for url in urls.values():  # warm-up: imports, pools, first sessions; not measured
            anyio.run(run_load, url, 5, 4, args.deadline, args.mode, "get_vm")
        for i in range(args.runs):
            for state in STATES:
                for target in (TARGETS if i % 2 == 0 else TARGETS[::-1]):  # alternate who goes first
                    pid = procs[f"{target}-{state}"].pid
                    cpu_before = cpu_seconds(pid)
                    result = anyio.run(run_load, urls[(target, state)], args.clients, args.calls, args.deadline,
                                       args.mode, "get_vm")
                    # the server's own CPU per call: steadier than wall-clock figures on a shared machine
                    cpu_ms = (cpu_seconds(pid) - cpu_before) * 1000
                    result["cpu_ms_per_call"] = cpu_ms / max(1, result["calls_completed"])
                    runs[(target, state)].append(result)
    finally:
        for proc in procs.values():
            stop(proc)
    out: dict[str, Any] = {"clients": args.clients, "calls_per_client": args.calls, "runs": args.runs,
                           "client_mode": args.mode, "metrics_on": args.metrics,
                           "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, "
                                      f"Python {platform.python_version()}"}
    for state in STATES:
        ours, bare = runs[("neev-mcp", state)], runs[("bare", state)]
        out[state] = {
            "errors": {t: sum(r["errors"] for r in runs[(t, state)]) for t in TARGETS},
            "calls_missing": {t: sum(r["calls_missing"] for r in runs[(t, state)]) for t in TARGETS},  # deadline
            "error_samples": {t: sorted({e for r in runs[(t, state)] for e in r["error_samples"]})[:5]
                              for t in TARGETS},
            "throughput_ratio": median_range([o["throughput_calls_per_s"] / b["throughput_calls_per_s"]
                                              for o, b in zip(ours, bare, strict=True)]),
            "p50_ratio": median_range([o["latency_ms"]["p50"] / b["latency_ms"]["p50"] for o, b in zip(ours, bare,
                                                                                                     strict=True)]),
            "p99_ratio": median_range([o["latency_ms"]["p99"] / b["latency_ms"]["p99"] for o, b in zip(ours, bare,
                                                                                                     strict=True)]),
            "cpu_per_call_ratio": median_range([o["cpu_ms_per_call"] / b["cpu_ms_per_call"]
                                                for o, b in zip(ours, bare, strict=True)]),
        }
        for target in TARGETS:
            rs = runs[(target, state)]
            out[state][target] = {"throughput_calls_per_s": median_range([r["throughput_calls_per_s"] for r in rs], 1),
                                  "p50_ms": median_range([r["latency_ms"]["p50"] for r in rs], 1),
                                  "p99_ms": median_range([r["latency_ms"]["p99"] for r in rs], 1),
                                  "cpu_ms_per_call": median_range([r["cpu_ms_per_call"] for r in rs], 2)}
    return out


def print_comparison(result: dict[str, Any]) -> None:
    print(f"{result['clients']} clients × {result['calls_per_client']} get_vm calls, {result['runs']} interleaved runs "
          f"({result['client_mode']} client), medians [min–max] of per-run ratios neev-mcp / bare MCPServer:")
    for state in STATES:
        r = result[state]

        def fmt(d: dict[str, float]) -> str:
            return f"{d['median']} [{d['min']}–{d['max']}]"

        print(f"  {state}: throughput {fmt(r['throughput_ratio'])}×, p50 {fmt(r['p50_ratio'])}×, "
              f"p99 {fmt(r['p99_ratio'])}×, server CPU per call {fmt(r['cpu_per_call_ratio'])}×; "
              f"errors neev-mcp {r['errors']['neev-mcp']}, bare {r['errors']['bare']}; calls missing at the "
              f"deadline neev-mcp {r['calls_missing']['neev-mcp']}, bare {r['calls_missing']['bare']}")
        for target in TARGETS:
            for sample in r["error_samples"][target]:
                print(f"    {target} error: {sample}")
            t = r[target]
            print(f"    {target}: {fmt(t['throughput_calls_per_s'])} calls/s, p50 {fmt(t['p50_ms'])} ms, "
                  f"p99 {fmt(t['p99_ms'])} ms, server CPU {fmt(t['cpu_ms_per_call'])} ms/call")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--calls", type=int, default=20, help="tool calls per client")
    parser.add_argument("--deadline", type=float, default=120.0, help="wall-clock limit for the load phase (s)")
    parser.add_argument("--stateless", action="store_true", help="serve with --stateless")
    parser.add_argument(
        "--mode",
        choices=["auto", "legacy"],
        default="auto",
        help="client protocol: auto = 2026-07-28, legacy = 2025-11-25 handshake",
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--compare", action="store_true",
                        help="side by side with a bare MCPServer (benchmarks/bare_http_server.py), stateful and "
                        "stateless, get_vm only; --runs interleaved runs, medians of the per-run ratios")
    parser.add_argument("--runs", type=int, default=5, help="with --compare: runs per server and mode")
    parser.add_argument("--metrics", action="store_true", help="with --compare: neev-mcp with NEEV_MCP_METRICS=1")
    args = parser.parse_args()
    if args.compare:
        result = compare(args)
        if args.json:
            print(json.dumps(result, indent=2))
        else:
            print_comparison(result)
        bad = any(result[state][k][t] for state in STATES for t in TARGETS for k in ("errors", "calls_missing"))
        return 1 if bad else 0
    return single(args)


def single(args: argparse.Namespace) -> int:
    """One neev-mcp server on the sandbox, the mixed workload, one run."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NEEV_")}
    sandbox_port, server_port = free_port(), free_port()
    sandbox = start(["-m", "neev_mcp.sandbox", "--port", str(sandbox_port), "--speed", "0"], env)
    server: subprocess.Popen[bytes] | None = None
    try:
        wait_ready(f"http://127.0.0.1:{sandbox_port}/_sandbox/healthz", sandbox)
        from neev_mcp.sandbox import DEFAULT_TOKEN

        server_env = {
            **env,
            "NEEV_API_TOKEN": DEFAULT_TOKEN,
            "NEEV_API_BASE_URL": f"http://127.0.0.1:{sandbox_port}/vm",
            "NEEV_ORG_ID": "demo-org",
            "NEEV_PROJECT_ID": "demo-project",
            "NEEV_MCP_AUTH_TOKEN": AUTH_TOKEN,
            "NEEV_MCP_LOG_LEVEL": "WARNING",
        }
        flags = ["--stateless"] if args.stateless else []
        server = start(["-m", "neev_mcp", "--transport", "http", "--port", str(server_port), *flags], server_env)
        wait_ready(f"http://127.0.0.1:{server_port}/healthz", server)
        url = f"http://127.0.0.1:{server_port}/mcp"
        rss_before, cpu_before = rss_kib(server.pid), cpu_seconds(server.pid)
        result = anyio.run(run_load, url, args.clients, args.calls, args.deadline, args.mode)
        rss_after, cpu_after = rss_kib(server.pid), cpu_seconds(server.pid)
    finally:
        for proc in (server, sandbox):
            if proc is not None:
                stop(proc)

    result.update(
        {
            "clients": args.clients,
            "calls_per_client": args.calls,
            "server_mode": "stateless" if args.stateless else "stateful",
            "client_mode": args.mode,
            "server_rss_mib": {"before": round(rss_before / 1024, 1), "after": round(rss_after / 1024, 1)},
            # CPU the server itself spent: comparable across runs even when the machine is shared
            "server_cpu_ms_per_call": round((cpu_after - cpu_before) * 1000 / max(1, result["calls_completed"]), 2),
            "machine": f"{platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}",
        }
    )
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        lat = result["latency_ms"]
        print(
            f"{args.clients} clients × {args.calls} calls ({result['server_mode']} server, {args.mode} client): "
            f"{result['calls_completed']}/{result['calls_expected']} calls, {result['errors']} errors, "
            f"wall {result['wall_s']} s, {result['throughput_calls_per_s']} calls/s, "
            f"p50 {lat['p50']} ms, p99 {lat['p99']} ms, max {lat['max']} ms; "
            f"server RSS {result['server_rss_mib']['before']} → {result['server_rss_mib']['after']} MiB, "
            f"server CPU {result['server_cpu_ms_per_call']} ms/call"
        )
        for sample in result["error_samples"]:
            print("  error:", sample)
    return 1 if result["errors"] or result["calls_missing"] or result["timed_out"] else 0


if __name__ == "__main__":
    sys.exit(main())
