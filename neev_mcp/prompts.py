"""MCP prompts loaded from the top-level `prompts/` folder (placeholder until the prompts work lands)."""

from __future__ import annotations

from typing import Any


def install(server: Any) -> None:
    """Register every prompt file on `server`."""
