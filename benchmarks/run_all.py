"""Reproduce the table in docs/benchmarks.md: every figure measured side by side in this one run.

    bash benchmarks/setup.sh                      # once: offline tokenizer + FastMCP venv
    /tmp/venv/bin/python benchmarks/run_all.py    # ~2 minutes; --json for raw numbers
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys

import anyio
import bench_cold_start
import bench_per_call
import bench_tools_tokens


def ms(stats: dict[str, float]) -> str:
    return f"{stats['median'] * 1000:.1f} ms ({stats['min'] * 1000:.1f}–{stats['max'] * 1000:.1f})"


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    return (f"{cpu}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}, "
            f"Python {platform.python_version()}, load average {os.getloadavg()[0]:.2f} at start")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15, help="cold-start rounds after warm-up")
    parser.add_argument("--calls", type=int, default=300, help="per-call samples after warm-up")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    env = machine()
    tokens = bench_tools_tokens.measure()
    cold = bench_cold_start.measure(args.runs)
    call = anyio.run(bench_per_call.measure, args.calls)
    if args.json:
        print(json.dumps({"machine": env, "tools_list": tokens, "cold_start": cold, "per_call": call}, indent=2))
        return 0
    cs, pc = cold["stats"], call["stats"]
    ok = lambda ratio, goal: "met" if ratio <= goal else f"missed by {(ratio / goal - 1) * 100:.0f}%"  # noqa: E731
    rows = [
        ("tools/list, 10 spec tools (o200k tokens)", f"{tokens['ours']['tokens']}", f"{tokens['fastmcp']['tokens']}"
         " (FastMCP from_openapi)", tokens["ratio"], 0.30),
        ("cold start to first tools/list", ms(cs["neev-mcp"]), ms(cs["bare MCPServer"]) + " (bare MCPServer)",
         cold["ratio"]["neev-mcp"], 1.10),
        ("cold start, `--sandbox`", ms(cs["neev-mcp --sandbox"]), ms(cs["bare MCPServer"]) + " (bare MCPServer)",
         cold["ratio"]["neev-mcp --sandbox"], 1.10),
        ("get_vm round trip over stdio", ms(pc["neev-mcp get_vm"]), ms(pc["floor (bare + GET)"])
         + " (bare call + direct GET)", call["ratio"], 1.30),
    ]
    print(f"machine: {env}\n")
    print("| measure | neev-mcp | baseline | ratio | goal |")
    print("|---|---|---|---|---|")
    for name, ours, base, ratio, goal in rows:
        print(f"| {name} | {ours} | {base} | {ratio:.3f}× | ≤ {goal:.2f}× ({ok(ratio, goal)}) |")
    lost = tokens["constraints_missing"]
    print(f"\nspec constraints missing from our schemas: {len(lost)}" + "".join(f"\n  {x}" for x in lost))
    print(f"per-call parts: bare call {ms(pc['bare MCPServer call'])}, direct GET {ms(pc['direct httpx2 GET'])}; "
          f"cold start: {args.runs} interleaved runs after 2 warm-up rounds; per call: {args.calls} interleaved "
          "samples after 30 warm-up")
    return 1 if lost else 0


if __name__ == "__main__":
    sys.exit(main())
