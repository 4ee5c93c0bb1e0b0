"""Confirmation gate for destructive tools (placeholder: refuses every gated call until the gate lands)."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
from collections.abc import Awaitable, Callable
from typing import Any

from mcp.types import CallToolResult, InputRequiredResult, TextContent

from .config import Settings
from .registry import ToolDef


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A separate 32-byte key per purpose, so one secret can sign tokens and seal request state independently."""
    return hmac.new(secret, f"neev-mcp/{purpose}/v1".encode(), hashlib.sha256).digest()


class Gate:
    def __init__(self, settings: Settings, secret: bytes, *, now: Callable[[], dt.datetime]) -> None:
        self.settings = settings
        self.active = settings.confirm != "off"

    async def run(
        self,
        tool: ToolDef,
        args: dict[str, Any],
        context: Any,
        fetch_target: Callable[[], Awaitable[dict[str, Any]]],
        execute: Callable[[dict[str, Any] | None], Awaitable[CallToolResult]],
    ) -> CallToolResult | InputRequiredResult:
        return CallToolResult(
            content=[TextContent(type="text", text=f"{tool.name}: confirmation is not available yet; nothing was deleted.")],
            is_error=True,
        )
