"""Pure functions from API objects to short, decision-ready text for agents.

No I/O and no clock of their own: `now` is passed in, so every output can be snapshot-tested exactly.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from typing import Any

TRANSITIONAL = frozenset({"pending", "provisioning", "starting", "stopping", "restarting", "deleting"})
STATUS_ORDER = ("running", "stopped", "failed", "pending", "provisioning", "starting", "stopping", "restarting",
                "deleting", "deleted")

NEXT_STEPS: dict[str, str] = {
    "running": "Next: stop_vm or restart_vm; delete_vm to remove it.",
    "stopped": "Next: start_vm to boot it, or delete_vm to remove it.",
    "pending": "In transition: wait_for_vm with target_status 'running'.",
    "provisioning": "In transition: wait_for_vm with target_status 'running'.",
    "starting": "In transition: wait_for_vm with target_status 'running'.",
    "restarting": "In transition: wait_for_vm with target_status 'running'.",
    "stopping": "In transition: wait_for_vm with target_status 'stopped'.",
    "deleting": "Being deleted: wait_for_vm with target_status 'deleted'.",
    "failed": "Failed: read the message; delete_vm and create it again (perhaps in another region) once the cause is "
    "fixed.",
}


def age(created_at: str | None, now: dt.datetime) -> str:
    if not created_at:
        return "age unknown"
    try:
        then = dt.datetime.fromisoformat(created_at.replace("Z", "+00:00"))
    except ValueError:
        return "age unknown"
    if then.tzinfo is None:
        then = then.replace(tzinfo=dt.UTC)
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit} old"
    return f"{seconds}s old"


def ports(vm: Mapping[str, Any]) -> str:
    items = vm.get("exposed_ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol')}" for p in items) or "no ports"


def status_label(vm: Mapping[str, Any]) -> str:
    status = str(vm.get("status", "unknown"))
    return f"{status} (in transition)" if status in TRANSITIONAL else status


def vm_line(vm: Mapping[str, Any], now: dt.datetime) -> str:
    parts = [
        f"{vm.get('name')} ({vm.get('id')})",
        status_label(vm),
        vm.get("public_ip") or "no public IP",
        ports(vm),
        f"{vm.get('vm_config_id')}/{vm.get('plan_id')}",
    ]
    if vm.get("gpu_config_count"):
        parts.append(f"{vm['gpu_config_count']} GPU")
    parts.append(age(vm.get("created_at"), now))
    line = " · ".join(str(p) for p in parts)
    if vm.get("status") == "failed" and vm.get("message"):
        line += f" — failed: {vm['message']}"
    return line


def counts(vms: Sequence[Mapping[str, Any]]) -> str:
    tally = Counter(str(vm.get("status")) for vm in vms)
    ordered = sorted(tally, key=lambda s: STATUS_ORDER.index(s) if s in STATUS_ORDER else len(STATUS_ORDER))
    return ", ".join(f"{tally[s]} {s}" for s in ordered) or "none"


def page_position(pagination: Mapping[str, Any] | None, shown: int, noun: str) -> str:
    p = pagination or {}
    total, pages, page = p.get("total_items", shown), p.get("total_pages", 1) or 1, p.get("current_page", 1)
    text = f"{total} {noun}{'s' if total != 1 else ''}, page {page} of {pages}"
    if isinstance(page, int) and isinstance(pages, int) and page < pages:
        text += f" — call with page={page + 1} for more"
    return text


def vm_list(args: Mapping[str, Any], data: Mapping[str, Any], now: dt.datetime) -> str:
    vms = data.get("data") or []
    header = f"{page_position(data.get('pagination'), len(vms), 'VM')}. On this page: {counts(vms)}."
    return "\n".join([header, *(f"- {vm_line(vm, now)}" for vm in vms)])


def vm(args: Mapping[str, Any], data: Mapping[str, Any], now: dt.datetime) -> str:
    disk = data.get("root_disk") or {}
    lines = [f"VM {vm_line(data, now)}."]
    if data.get("message") and data.get("status") != "failed":
        lines.append(f"Status detail: {data['message']}.")
    if disk:
        fate = "deleted with the VM" if data.get("delete_root_disk") else "kept (detached) when the VM is deleted"
        lines.append(f"Root disk {disk.get('name')} ({disk.get('id')}), {disk.get('size_gb')} GB, {fate}.")
    data_disks = data.get("data_disks") or []
    if data_disks:
        lines.append("Data disks: " + ", ".join(f"{d.get('name')} {d.get('size_gb')} GB" for d in data_disks) + ".")
    lines.append(NEXT_STEPS.get(str(data.get("status")), ""))
    return "\n".join(line for line in lines if line)


def vm_created(args: Mapping[str, Any], data: Mapping[str, Any], now: dt.datetime) -> str:
    return (
        f"Requested VM {data.get('name')} ({data.get('id')}); status now {data.get('status')}. "
        f"Await it with wait_for_vm vm_id={data.get('id')} target_status=running."
    )


_ACTION_TARGET = {"start_vm": "running", "stop_vm": "stopped", "restart_vm": "running"}


def vm_action(args: Mapping[str, Any], data: Mapping[str, Any], now: dt.datetime, tool: str = "") -> str:
    target = _ACTION_TARGET.get(tool, "running")
    verb = tool.removesuffix("_vm") or "action"
    status = data.get("status")
    if status == target:
        return f"{verb.capitalize()} requested for VM {data.get('name')} ({data.get('id')}); it is already {status}."
    return (
        f"{verb.capitalize()} requested for VM {data.get('name')} ({data.get('id')}); status now {status}. "
        f"Await it with wait_for_vm vm_id={data.get('id')} target_status={target}."
    )


def disk_line(disk: Mapping[str, Any], vm_names: Mapping[str, str], now: dt.datetime) -> str:
    if disk.get("is_attached"):
        vm_id = disk.get("vm_id")
        where = f"attached to {vm_names.get(str(vm_id), 'VM')} ({vm_id})"
    else:
        where = "UNATTACHED (deletable with delete_root_disk_volume)"
    return (f"{disk.get('name')} ({disk.get('id')}) · {disk.get('size_gb')} GB · {disk.get('image_id')} · "
            f"{disk.get('status')} · {where} · {age(disk.get('created_at'), now)}")


def disk_list(args: Mapping[str, Any], data: Mapping[str, Any], now: dt.datetime,
              vm_names: Mapping[str, str] | None = None) -> str:
    disks = data.get("data") or []
    free = [d for d in disks if not d.get("is_attached")]
    header = (f"{page_position(data.get('pagination'), len(disks), 'root disk')}. On this page: "
              f"{len(disks) - len(free)} attached, {len(free)} unattached "
              f"({sum(int(d.get('size_gb') or 0) for d in free)} GB).")
    return "\n".join([header, *(f"- {disk_line(d, vm_names or {}, now)}" for d in disks)])


def disk(args: Mapping[str, Any], data: Mapping[str, Any], now: dt.datetime,
         vm_names: Mapping[str, str] | None = None) -> str:
    text = f"Root disk {disk_line(data, vm_names or {}, now)}."
    if data.get("message"):
        text += f" Detail: {data['message']}."
    return text


def deleted(args: Mapping[str, Any], target: Mapping[str, Any] | None, kind: str) -> str:
    name = (target or {}).get("name", "")
    ident = (target or {}).get("id", "")
    label = f"{name} ({ident})" if name else ident
    if kind == "vm":
        return (f"Deletion of VM {label} accepted; it is now 'deleting'. Confirm it is gone with wait_for_vm "
                f"vm_id={ident} target_status=deleted.")
    return f"Deletion of root disk {label} accepted; it disappears from list_root_disk_volumes once done."


SUMMARISERS: dict[str, Callable[..., str]] = {
    "vm_list": vm_list,
    "vm": vm,
    "vm_created": vm_created,
    "vm_action": vm_action,
    "disk_list": disk_list,
    "disk": disk,
}
