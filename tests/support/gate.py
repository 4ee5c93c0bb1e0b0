"""Shared by the test_gate_*.py files: protocol modes, elicitation callbacks, upstream request paths, audit lines."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mcp.client import ClientRequestContext
from mcp.types import ElicitRequestParams, ElicitResult

from neev_mcp.sandbox import Sandbox

MODES = ("legacy", "auto")  # handshake era (2025-11-25) and the modern 2026-07-28 envelope


def upstream(sandbox: Sandbox, method: str) -> list[str]:
    """Paths of the upstream requests with this HTTP method, in order."""
    return [r.path for r in sandbox.requests if r.method == method]


class User:
    """An elicitation callback standing in for the human: answers with `action`, typing `name` on accept."""

    def __init__(self, action: str = "accept", name: str | None = None, before_answer: Any = None) -> None:
        self.action = action
        self.name = name
        self.before_answer = before_answer  # a callable run while the "user" is thinking
        self.asked: list[ElicitRequestParams] = []

    async def __call__(self, ctx: ClientRequestContext, params: ElicitRequestParams) -> ElicitResult:
        self.asked.append(params)
        if self.before_answer is not None:
            self.before_answer()
        content = {"confirm_name": self.name} if self.action == "accept" else None
        return ElicitResult(action=self.action, content=content)


def audit_lines(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def events(path: Path) -> list[tuple[str, str, str]]:
    """(event, tool, channel) per audit line."""
    return [(e["event"], e["tool"], e["channel"]) for e in audit_lines(path)]
