"""Cold start: process spawn → first tools/list answer over stdio, ours vs a bare one-tool `MCPServer`.

Runs are interleaved (each round spawns every server once, in rotating order) after a warm-up, so machine noise
hits all of them alike; reported as medians with min–max, and the ratio of medians.

    python bench_cold_start.py [--runs 15] [--json]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path
from typing import Any

from _stdio import time_to_first_tools_list

HERE = Path(__file__).resolve().parent
SERVERS: dict[str, tuple[list[str], dict[str, str]]] = {
    "neev-mcp": ([sys.executable, "-m", "neev_mcp"], {"NEEV_API_TOKEN": "bench.not.used"}),
    "neev-mcp --sandbox": ([sys.executable, "-m", "neev_mcp", "--sandbox"], {}),
    "bare MCPServer": ([sys.executable, str(HERE / "bare_server.py")], {}),
}


def summary(samples: list[float]) -> dict[str, float]:
    return {"median": statistics.median(samples), "min": min(samples), "max": max(samples), "n": len(samples)}


def measure(runs: int = 15, warmup: int = 2) -> dict[str, Any]:
    names = list(SERVERS)
    samples: dict[str, list[float]] = {n: [] for n in names}
    for round_ in range(warmup + runs):
        order = names[round_ % len(names):] + names[:round_ % len(names)]
        for name in order:
            cmd, env = SERVERS[name]
            seconds, _ = time_to_first_tools_list(cmd, env)
            if round_ >= warmup:
                samples[name].append(seconds)
    stats = {n: summary(s) for n, s in samples.items()}
    floor = stats["bare MCPServer"]["median"]
    return {"runs": runs, "warmup": warmup, "stats": stats,
            "ratio": {n: stats[n]["median"] / floor for n in names if n != "bare MCPServer"}}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args(argv)
    result = measure(args.runs)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    for name, s in result["stats"].items():
        ratio = result["ratio"].get(name)
        print(f"{name:<20} median {s['median'] * 1000:7.1f} ms (min {s['min'] * 1000:.1f}, max {s['max'] * 1000:.1f})"
              + (f"  {ratio:.2f}x" if ratio else ""))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
