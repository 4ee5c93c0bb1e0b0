"""MCP resources: a VM summary and the project overview (placeholder until the resources work lands)."""

from __future__ import annotations

from typing import Any


def install(server: Any) -> None:
    """Register resource templates on `server`."""
