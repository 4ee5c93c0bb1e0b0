"""Agent helpers beyond the spec: `project_overview` and `wait_for_vm` (first cut)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import anyio

from . import summaries
from .client import NeevClient
from .errors import NotFound
from .registry import ToolDef

Progress = Callable[[float, float | None, str], Awaitable[None]]


@dataclass(frozen=True)
class API:
    """What a helper may do: call spec operations by tool name, with the request's upstream token."""

    client: NeevClient
    registry: Sequence[ToolDef]
    token: str | None = None

    async def call(self, tool_name: str, path: dict[str, Any], query: dict[str, Any] | None = None) -> Any:
        op = next(t.operation for t in self.registry if t.name == tool_name)
        assert op is not None
        return (await self.client.call(op, path, query, token=self.token)).data


async def _all_pages(api: API, tool: str, scope: dict[str, Any], max_pages: int = 50) -> list[dict[str, Any]]:
    items: list[dict[str, Any]] = []
    page = 1
    while page <= max_pages:
        data = await api.call(tool, scope, {"page": page, "limit": 100}) or {}
        items.extend(data.get("data") or [])
        if page >= int((data.get("pagination") or {}).get("total_pages") or 1):
            break
        page += 1
    return items


async def project_overview(
    api: API, args: dict[str, Any], now: Callable[[], dt.datetime]
) -> tuple[str, dict[str, Any]]:
    scope = {k: args[k] for k in ("org_id", "project_id")}
    vms = await _all_pages(api, "list_vms", scope)
    disks = await _all_pages(api, "list_root_disk_volumes", scope)
    free = [d for d in disks if not d.get("is_attached")]
    text = f"{len(vms)} VMs: {summaries.counts(vms)}. {len(free)} unattached root disks."
    return text, {"vm_count": len(vms), "unattached_disks": len(free)}


async def wait_for_vm(
    api: API, args: dict[str, Any], now: Callable[[], dt.datetime], progress: Progress,
) -> tuple[str, dict[str, Any]]:
    target = args["target_status"]
    path = {k: args[k] for k in ("org_id", "project_id", "vm_id")}
    with anyio.move_on_after(args.get("timeout_seconds", 300)):
        while True:
            try:
                vm = await api.call("get_vm", path)
            except NotFound:
                if target == "deleted":
                    return f"VM {args['vm_id']} is deleted.", {"status": "deleted", "id": args["vm_id"]}
                raise
            await progress(0, None, f"status {vm.get('status')}")
            if vm.get("status") in (target, "failed"):
                return summaries.vm(args, vm, now()), vm
            await anyio.sleep(1)
    return f"Timed out waiting for {args['vm_id']} to be {target}.", {"timed_out": True}
