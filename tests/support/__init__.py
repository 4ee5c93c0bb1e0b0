"""Test support shared by the whole suite: `gate` (confirmation helpers), `http` (test processes), `hygiene` (the
suite-wide secret scan, a pytest plugin), `spec` (an extended spec and a recording upstream), `upstream` (hostile
fake NeevCloud upstreams), and here the two look-ups nearly every test needs."""

from __future__ import annotations

from typing import Any

from neev_mcp.sandbox import Sandbox


def text(result: Any) -> str:
    """The text of a tool result (all its text blocks)."""
    return "\n".join(getattr(block, "text", "") for block in getattr(result, "content", []))


def vm_id(sandbox: Sandbox, name: str) -> str:
    return sandbox.vm_by_name(name).id


def disk_id(sandbox: Sandbox, name: str) -> str:
    return next(d.id for d in sandbox.root_disks.values() if d.name == name)
