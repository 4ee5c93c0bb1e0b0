"""What the MCP Apps dashboard draws: `dashboard_snapshot`'s answer, built from a project read (pure).

The view (`ui/dashboard.html`, served by `view.py`) asks for it on opening and whenever a VM settles. It holds only
what the view draws: no token, no secret, no SSH key, nothing the API did not return.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from .summaries import TRANSITIONAL, Obj, is_attached, plural, status_order
from .summaries import tally as status_tally
from .text import whole

VM_CAP = 200  # VMs the snapshot lists (counts stay exact); the view shows the most telling ones first


def _vm_row(vm: Obj) -> dict[str, Any]:
    disk = vm.get("root_disk") or {}
    return {
        "id": vm.get("id"),
        "name": vm.get("name"),
        "status": vm.get("status"),
        "message": vm.get("message"),
        "region_id": vm.get("region_id"),
        "vm_config_id": vm.get("vm_config_id"),
        "gpu_config_count": vm.get("gpu_config_count") or 0,
        "public_ip": vm.get("public_ip"),
        "root_disk": {"name": disk.get("name"), "size_gb": disk.get("size_gb")} if disk else None,
        "updated_at": vm.get("updated_at"),
    }


def _rank(status: str) -> int:
    """Failed first, then VMs in transition, then the rest."""
    return 0 if status == "failed" else 1 if status in TRANSITIONAL else 2


@dataclass
class DashboardTally:
    """A streaming, bounded aggregate for the view, fed one page at a time by the walker (any project size):
    exact counts, and at most VM_CAP rows of each rank (failed, changing, settled) and of unattached disks."""

    by_status: Counter[str] = field(default_factory=Counter)
    rows: tuple[list[dict[str, Any]], ...] = field(default_factory=lambda: ([], [], []))
    disk_total: int = 0
    disk_attached: int = 0
    total_gb: int = 0
    free_gb: int = 0
    free: list[dict[str, Any]] = field(default_factory=list)

    def add_vms(self, page: int, items: Sequence[Obj]) -> None:
        for vm in items:
            status = str(vm.get("status"))
            self.by_status[status] += 1
            kept = self.rows[_rank(status)]
            if len(kept) < VM_CAP:
                kept.append(_vm_row(vm))

    def add_disks(self, page: int, items: Sequence[Obj]) -> None:
        for disk in items:
            size = whole(disk.get("size_gb"))
            self.disk_total += 1
            self.total_gb += size
            if is_attached(disk):
                self.disk_attached += 1
                continue
            self.free_gb += size
            if len(self.free) < VM_CAP:
                self.free.append({"id": disk.get("id"), "name": disk.get("name"), "size_gb": disk.get("size_gb"),
                                  "status": disk.get("status"), "created_at": disk.get("created_at")})

    def vms(self) -> list[dict[str, Any]]:
        rows = [row for kept in self.rows for row in kept]
        rows.sort(key=lambda row: (_rank(str(row["status"])), status_order(str(row["status"])), str(row["name"] or "")))
        return rows[:VM_CAP]


def snapshot(args: Obj, tally: DashboardTally, complete: bool, *, actions: Sequence[str], confirm: str
             ) -> tuple[str, dict[str, Any]]:
    """Text for a model that happens to see it, and the structured data the view draws (pure)."""
    total = sum(tally.by_status.values())
    structured = {
        "org_id": args.get("org_id"),
        "project_id": args.get("project_id"),
        "complete": complete,
        "actions": list(actions),  # never a delete: that stays with the agent and the gate
        "confirm": confirm,
        "vm_total": total,
        "vm_by_status": dict(sorted(tally.by_status.items(), key=lambda kv: status_order(kv[0]))),
        "vms": tally.vms(),
        "vm_cap": VM_CAP,
        "root_disks": {"total": tally.disk_total, "attached": tally.disk_attached, "total_gb": tally.total_gb,
                       "unattached_gb": tally.free_gb, "unattached": tally.free},
    }
    text = (f"Dashboard data for project {args.get('org_id')}/{args.get('project_id')}: {plural(total, 'VM')}"
            + (f" — {status_tally(tally.by_status.elements())}." if total else ".")
            + ("" if complete else " Not every page could be read in time: the counts cover what was read.")
            + " project_overview is the summary to read.")
    return text, structured
