"""Tokens an agent reads: our text answers versus the raw NeevCloud JSON, at 10, 100 and 1,000 VMs.

For each project size a fresh sandbox holds the demo project plus bulk VMs (each with its root disk), so the counts
are exactly 10, 100 and 1,000 VMs. A real `mcp.Client` calls the tools in process; the raw side is the API's own
HTTP response bodies for the same data, read from the sandbox:

- `list_vms` (page 1, limit 100): our text vs the body of GET .../vms?page=1&limit=100;
- `project_overview`: our text vs every page body (limit 100) of GET .../vms and GET .../root_disks, which is what
  an agent would have to read to see the same whole-project picture through a generic OpenAPI server.

Tokens are o200k_base (`tokens.py`; run `bash benchmarks/setup.sh` once). Usage:

    /tmp/venv/bin/python benchmarks/summary_tokens.py            # markdown table
    /tmp/venv/bin/python benchmarks/summary_tokens.py --json
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path
from typing import Any

import anyio
import httpx2
from mcp import Client

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))

from tokens import count_tokens  # noqa: E402

from neev_mcp.config import Settings  # noqa: E402
from neev_mcp.sandbox import Sandbox, SimClock  # noqa: E402
from neev_mcp.server import build_server  # noqa: E402

SIZES = (10, 100, 1000)
DEMO_VMS = 6  # the seeded demo project


async def raw_pages(sandbox: Sandbox, collection: str) -> list[str]:
    """Every page body (limit 100) exactly as the API sends it."""
    bodies: list[str] = []
    headers = {"Authorization": f"Bearer {sandbox.token}"}
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url=sandbox.base_url) as http:
        page, pages = 1, 1
        while page <= pages:
            response = await http.get(f"{sandbox.project_path()}/{collection}", params={"page": page, "limit": 100},
                                      headers=headers)
            response.raise_for_status()
            bodies.append(response.text)
            pages = response.json()["pagination"]["total_pages"]
            page += 1
    return bodies


async def measure(size: int) -> dict[str, Any]:
    sandbox = Sandbox(clock=SimClock(speed=0))
    sandbox.seed_bulk(size - DEMO_VMS)
    settings = Settings(api_token=sandbox.token, api_base_url="http://sandbox.neev-mcp.invalid/vm",
                        org_id=sandbox.org_id, project_id=sandbox.project_id)
    server = build_server(settings, http_transport=sandbox.transport(), now=sandbox.clock.now)
    async with Client(server) as client:
        listed = await client.call_tool("list_vms", {"page": 1, "limit": 100})
        overview = await client.call_tool("project_overview", {})
    vm_pages, disk_pages = await raw_pages(sandbox, "vms"), await raw_pages(sandbox, "root_disks")
    overview_text = overview.content[0].text  # type: ignore[union-attr]
    return {
        "vms": len(sandbox.vms),
        "list_vms_text": count_tokens(listed.content[0].text),  # type: ignore[union-attr]
        "list_vms_raw": count_tokens(vm_pages[0]),
        "overview_text": count_tokens(overview_text),
        "overview_chars": len(overview_text),
        "overview_structured": count_tokens(json.dumps(overview.structured_content, separators=(",", ":"))),
        "overview_raw": sum(count_tokens(body) for body in vm_pages + disk_pages),
        "raw_pages": len(vm_pages) + len(disk_pages),
    }


def table(rows: list[dict[str, Any]]) -> str:
    out = ["| VMs | list_vms text | list_vms raw JSON | ratio | overview text (chars) | overview structured | "
           "raw JSON for the same (pages) | ratio |",
           "|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(
            f"| {r['vms']:,} | {r['list_vms_text']:,} | {r['list_vms_raw']:,} | "
            f"{r['list_vms_text'] / r['list_vms_raw']:.2f}× | {r['overview_text']:,} ({r['overview_chars']:,}) | "
            f"{r['overview_structured']:,} | {r['overview_raw']:,} ({r['raw_pages']}) | "
            f"{r['overview_text'] / r['overview_raw']:.3f}× |")
    return "\n".join(out)


async def run() -> list[dict[str, Any]]:
    return [await measure(size) for size in SIZES]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the figures as JSON")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    rows = anyio.run(run)
    print(json.dumps(rows, indent=2) if args.json else table(rows))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
