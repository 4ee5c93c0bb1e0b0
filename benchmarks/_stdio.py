"""A minimal line-delimited JSON-RPC driver for stdio servers, so every server is timed by the same code."""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Mapping
from typing import Any

INIT = {"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "neev-bench", "version": "0"}}


def _line(message: dict[str, Any]) -> bytes:
    return (json.dumps(message, separators=(",", ":")) + "\n").encode()


def time_to_first_tools_list(cmd: list[str], env: Mapping[str, str] | None = None) -> tuple[float, dict[str, Any]]:
    """Seconds from spawning `cmd` to reading its tools/list answer (after initialize), and that answer."""
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                            env={**os.environ, **(env or {})})
    assert proc.stdin is not None and proc.stdout is not None
    try:
        proc.stdin.write(_line({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": INIT})
                         + _line({"jsonrpc": "2.0", "method": "notifications/initialized"})
                         + _line({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}))
        proc.stdin.flush()
        for raw in proc.stdout:
            message = json.loads(raw)
            if message.get("id") == 2:
                return time.perf_counter() - started, message["result"]
        raise RuntimeError(f"{cmd} closed stdout before answering tools/list")
    finally:
        proc.kill()
        proc.wait(timeout=30)
