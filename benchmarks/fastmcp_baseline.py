"""FastMCP generic OpenAPI server built from the NeevCloud spec: the baseline we compare against.

Runs ONLY in benchmarks/.venv-fastmcp (created by benchmarks/setup.sh). fastmcp patches SDK types on
import, so it must never share a process with neev_mcp.

    .venv-fastmcp/bin/python fastmcp_baseline.py                # print {"tools": [...]} wire JSON to stdout
    .venv-fastmcp/bin/python fastmcp_baseline.py --serve-stdio  # serve the same server over stdio
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

import httpx2
from fastmcp import Client, FastMCP

SPEC_PATH = Path(__file__).resolve().parent.parent / "neev_mcp" / "spec" / "neevcloud-vm-openapi.json"
# Never contacted: tools/list and initialize make no HTTP calls. A loopback URL keeps any stray call local.
BASE_URL = "http://127.0.0.1:9"


def build_server(spec_path: Path = SPEC_PATH) -> FastMCP:
    spec: dict[str, Any] = json.loads(spec_path.read_text(encoding="utf-8"))
    client = httpx2.AsyncClient(base_url=BASE_URL, timeout=30.0)
    return FastMCP.from_openapi(openapi_spec=spec, client=client, name="NeevCloud VM (FastMCP OpenAPI)")


async def tools_list_wire(server: FastMCP) -> dict[str, Any]:
    async with Client(server) as client:
        result = await client.list_tools_mcp()
    tools = [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in result.tools]
    return {"tools": tools}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--serve-stdio", action="store_true", help="serve the FastMCP server over stdio")
    parser.add_argument("--spec", type=Path, default=SPEC_PATH, help="OpenAPI spec (JSON)")
    args = parser.parse_args(argv)

    server = build_server(args.spec)
    if args.serve_stdio:
        server.run(transport="stdio", show_banner=False)
        return 0
    payload = asyncio.run(tools_list_wire(server))
    # Compact, non-ASCII kept: the same shape pydantic's model_dump_json puts on the wire.
    sys.stdout.write(json.dumps(payload, separators=(",", ":"), ensure_ascii=False))
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
