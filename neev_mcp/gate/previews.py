"""What a gated call would do, in words a human can confirm, and why some calls cannot succeed at all.

Pure functions over API objects (no I/O, no MCP): the gate fetches the target and hands it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

# tool → (verb, past participle)
VERBS: dict[str, tuple[str, str]] = {
    "delete_vm": ("delete", "deleted"),
    "delete_root_disk_volume": ("delete", "deleted"),
    "create_vm": ("create", "created"),
    "start_vm": ("start", "started"),
    "stop_vm": ("stop", "stopped"),
    "restart_vm": ("restart", "restarted"),
}

_CONSEQUENCE = {
    "start_vm": "It boots; a running VM accrues charges on hourly plans.",
    "stop_vm": "It shuts down: running processes stop and unsaved in-memory state is lost.",
    "restart_vm": "It reboots: running processes are interrupted.",
}

CONFIRM_FIELD = "confirm_name"


@dataclass(frozen=True)
class Preview:
    """A gated call described: who it acts on (`target_id`, `name`) and what happens (`text`, `facts`)."""

    tool: str
    kind: str  # "VM" or "root disk"
    target_id: str | None  # None for a VM that does not exist yet
    name: str  # what the user types to confirm
    text: str
    facts: dict[str, Any] = field(default_factory=dict)

    @property
    def label(self) -> str:
        ident = self.target_id or "new"
        return f"{self.kind} {self.name} ({ident})" if self.name != self.target_id else f"{self.kind} {ident}"

    @property
    def verb(self) -> str:
        return VERBS.get(self.tool, ("change", "changed"))[0]

    @property
    def past(self) -> str:
        return VERBS.get(self.tool, ("change", "changed"))[1]

    def not_done(self, why: str) -> str:
        """The sentence every refusal starts with: '<label> was not <past>: <why>'."""
        return f"{self.label} was not {self.past}: {why}"


def vm_preview(tool: str, vm: Mapping[str, Any]) -> Preview:
    ident, name = str(vm.get("id") or ""), str(vm.get("name") or vm.get("id") or "")
    status, ip = vm.get("status") or "unknown", vm.get("public_ip") or "no public IP"
    verb = VERBS.get(tool, ("change", ""))[0]
    lines = [f"{verb.capitalize()} VM {name} ({ident}): status {status}, public IP {ip}."]
    disk = vm.get("root_disk") or {}
    data_disks = vm.get("data_disks") or []
    facts: dict[str, Any] = {"id": ident, "name": name, "status": status, "public_ip": vm.get("public_ip")}
    if tool == "delete_vm":
        delete_disk = bool(vm.get("delete_root_disk"))
        facts["root_disk_fate"] = "deleted" if delete_disk else "detached_and_kept"
        if disk:
            disk_label = f"{disk.get('name')} ({disk.get('id')}, {disk.get('size_gb')} GB)"
            facts["root_disk"] = {k: disk.get(k) for k in ("id", "name", "size_gb")}
            if delete_disk:
                lines.append(f"Its root disk {disk_label} is DELETED with it (delete_root_disk=true): its data is "
                             "lost.")
            else:
                lines.append(f"Its root disk {disk_label} is detached and kept (delete_root_disk=false); it stays "
                             "in list_root_disk_volumes until deleted separately.")
        else:
            lines.append("It has no root disk on record.")
        facts["data_disks"] = [{k: d.get(k) for k in ("id", "name", "size_gb")} for d in data_disks]
        if data_disks:
            listed = ", ".join(f"{d.get('name')} ({d.get('size_gb')} GB)" for d in data_disks)
            lines.append(f"Data disks attached: {listed}. delete_root_disk does not cover them and NeevCloud does "
                         "not document whether they are kept: make sure nothing on them is needed.")
        else:
            lines.append("No data disks are attached.")
        lines.append("The VM and its public IP are released. This cannot be undone.")
    else:
        lines.append(_CONSEQUENCE.get(tool, ""))
    return Preview(tool, "VM", ident, name, " ".join(x for x in lines if x), facts)


def disk_preview(tool: str, disk: Mapping[str, Any]) -> Preview:
    ident, name = str(disk.get("id") or ""), str(disk.get("name") or disk.get("id") or "")
    attached = bool(disk.get("is_attached"))
    vm_name = disk.get("vm_name")
    holder = f"{vm_name} ({disk.get('vm_id')})" if vm_name else str(disk.get("vm_id"))
    where = f"attached to VM {holder}" if attached else "not attached to any VM"
    text = (f"Delete root disk {name} ({ident}): {disk.get('size_gb')} GB, image {disk.get('image_id')}, region "
            f"{disk.get('region')}, status {disk.get('status')}, {where}. Everything on it is lost. "
            "This cannot be undone.")
    facts = {"id": ident, "name": name, "size_gb": disk.get("size_gb"), "status": disk.get("status"),
             "is_attached": attached, "vm_id": disk.get("vm_id")}
    return Preview(tool, "root disk", ident, name, text, facts)


def create_preview(tool: str, args: Mapping[str, Any]) -> Preview:
    """For create_vm there is nothing to fetch: the preview is the requested spec."""
    name = str(args.get("name") or "")
    root = args.get("root_disk") or {}
    if "create_disk_request" in root:
        req = root["create_disk_request"]
        disk = f"a new {req.get('size_gb')} GB root disk {req.get('name')} from image {req.get('image_id')}"
    elif "attach_disk_request" in root:
        disk = f"the existing root disk {root['attach_disk_request'].get('disk_id')}"
    else:
        disk = "no root disk specified"
    parts = [
        f"Create VM {name} in region {args.get('region_id')} with configuration {args.get('vm_config_id')}, "
        f"plan {args.get('plan_id')}, {disk}.",
    ]
    if args.get("gpu_config_count"):
        parts.append(f"GPUs: {args['gpu_config_count']}.")
    data = args.get("data_disks") or {}
    created = data.get("create_disks") or []
    attached = data.get("attached_disks") or []
    if created or attached:
        parts.append(f"Data disks: {len(created)} new, {len(attached)} attached.")
    ports = args.get("exposed_ports") or []
    if ports:
        parts.append("Exposed ports: " + ", ".join(f"{p.get('port')}/{p.get('protocol')}" for p in ports) + ".")
    parts.append(f"SSH keys: {len(args.get('ssh_keys') or [])}.")
    parts.append("On VM deletion the root disk will be " + ("deleted with it." if args.get("delete_root_disk")
                                                           else "detached and kept."))
    parts.append("It starts accruing charges once it is running.")
    facts = {"name": name, "region_id": args.get("region_id"), "vm_config_id": args.get("vm_config_id"),
             "plan_id": args.get("plan_id")}
    return Preview(tool, "VM", None, name, " ".join(parts), facts)


def impossible(preview: Preview, target: Mapping[str, Any]) -> tuple[str, str] | None:
    """(short code, explanation) when the call cannot succeed whatever the user answers; asked before any round."""
    status = target.get("status")
    if status == "deleting":
        follow = " Follow it with wait_for_vm target_status=deleted." if preview.kind == "VM" else ""
        return "already deleting", f"it is already being deleted (status 'deleting').{follow}"
    if status == "deleted":
        return "already deleted", "it has already been deleted."
    if preview.tool == "delete_root_disk_volume" and target.get("is_attached"):
        vm = target.get("vm_name")
        who = f"{vm} ({target.get('vm_id')})" if vm else f"({target.get('vm_id')})"
        return "attached to a VM", (
            f"it is attached to VM {who}. Only unattached root disks can be deleted: delete that VM first (its root "
            "disk is then detached and kept unless the VM was created with delete_root_disk=true).")
    return None


def confirmation_form(preview: Preview) -> tuple[str, dict[str, Any]]:
    """The elicitation message and its flat schema: one string field where the user types the resource's name."""
    message = (f"{preview.text}\n\nTo {preview.verb} {preview.kind} {preview.name}, type its name "
               f"exactly: {preview.name}\nDecline or cancel to keep it as it is.")
    schema = {
        "type": "object",
        "properties": {
            CONFIRM_FIELD: {
                "type": "string",
                "title": f"Type the {preview.kind} name to confirm",
                "description": f"Type {preview.name} to {preview.verb} it.",
            }
        },
        "required": [CONFIRM_FIELD],
    }
    return message, schema
