"""Size of FastMCP's generic OpenAPI tools/list for our spec: bytes and o200k_base tokens, total and per tool.

Runs in the project python (with tiktoken); fastmcp runs in its own venv via subprocess.
Default source: the in-memory client's tools, model_dump(by_alias, exclude_none) as compact JSON.
--stdio: the tools/list result exactly as `fastmcp_baseline.py --serve-stdio` writes it (same bytes, key order differs).

    python baseline_tools_size.py [--stdio] [--json]
"""

from __future__ import annotations

import argparse
import json
import subprocess
from pathlib import Path
from typing import Any

from tokens import count_tokens

HERE = Path(__file__).resolve().parent
FASTMCP_PYTHON = HERE / ".venv-fastmcp" / "bin" / "python"


def compact(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def fastmcp_tools_list() -> dict[str, Any]:
    out = subprocess.run(
        [str(FASTMCP_PYTHON), str(HERE / "fastmcp_baseline.py")], capture_output=True, text=True, check=True
    )
    return json.loads(out.stdout)


def stdio_tools_list(cmd: list[str], timeout: float = 60.0) -> dict[str, Any]:
    """initialize + tools/list over a stdio server; returns the result with the server's key order kept."""
    init = {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "bench", "version": "0"}}
    requests = [
        {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": init},
        {"jsonrpc": "2.0", "method": "notifications/initialized"},
        {"jsonrpc": "2.0", "id": 2, "method": "tools/list"},
    ]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write("".join(compact(r) + "\n" for r in requests))
        proc.stdin.flush()
        for line in proc.stdout:
            message = json.loads(line)
            if message.get("id") == 2:
                return {"tools": message["result"]["tools"]}
        raise RuntimeError("server closed stdout before answering tools/list")
    finally:
        proc.kill()
        proc.wait(timeout=timeout)


def measure(payload: dict[str, Any]) -> dict[str, Any]:
    wire = compact(payload)
    return {
        "tools": len(payload["tools"]),
        "bytes": len(wire.encode()),
        "tokens": count_tokens(wire),
        "per_tool": {
            t["name"]: {"bytes": len(compact(t).encode()), "tokens": count_tokens(compact(t))} for t in payload["tools"]
        },
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    parser.add_argument("--stdio", action="store_true", help="measure the tools/list result as sent over stdio")
    args = parser.parse_args(argv)
    if args.stdio:
        payload = stdio_tools_list([str(FASTMCP_PYTHON), str(HERE / "fastmcp_baseline.py"), "--serve-stdio"])
    else:
        payload = fastmcp_tools_list()
    result = measure(payload)
    if args.json:
        print(json.dumps(result, indent=2))
        return 0
    print(f"FastMCP tools/list: {result['tools']} tools, {result['bytes']} bytes, {result['tokens']} o200k tokens")
    for name, m in result["per_tool"].items():
        print(f"  {name:<24} {m['bytes']:>6} B {m['tokens']:>6} tok")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
