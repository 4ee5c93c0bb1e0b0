"""Snapshots of every tool definition as a client receives it from `tools/list`.

A changed schema must be a reviewed change: run `UPDATE_TOOLSNAPS=1 pytest tests/test_toolsnaps.py` and commit the
diff. A missing snapshot fails, so a new tool cannot slip in unreviewed.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from mcp import Client

from neev_mcp.config import Settings
from neev_mcp.server import build_server

SNAPS = Path(__file__).parent / "__toolsnaps__"
UPDATE = os.environ.get("UPDATE_TOOLSNAPS") == "1"


async def _listed_tools() -> list[dict[str, Any]]:
    # No org/project defaults: the schema every user sees before configuring them.
    server = build_server(Settings(api_token="unused", mcp_secret="snapshot-secret-0123456789abcdef-012345"))
    async with Client(server) as client:
        tools = (await client.list_tools()).tools
    return [t.model_dump(by_alias=True, exclude_none=True, mode="json") for t in tools]


@pytest.mark.anyio
async def test_every_tool_matches_its_snapshot() -> None:
    tools = await _listed_tools()
    SNAPS.mkdir(exist_ok=True)
    problems = []
    for tool in tools:
        path = SNAPS / f"{tool['name']}.json"
        text = json.dumps(tool, indent=2, sort_keys=True, ensure_ascii=False) + "\n"
        if UPDATE:
            path.write_text(text, encoding="utf-8")
        elif not path.exists():
            problems.append(f"{path.name}: missing snapshot (run with UPDATE_TOOLSNAPS=1 and review it)")
        elif path.read_text(encoding="utf-8") != text:
            problems.append(f"{path.name}: differs from the snapshot (UPDATE_TOOLSNAPS=1 to accept after review)")
    stale = {p.stem for p in SNAPS.glob("*.json")} - {t["name"] for t in tools}
    problems += [f"{name}.json: snapshot of a tool that no longer exists" for name in sorted(stale)]
    assert not problems, "\n".join(problems)
