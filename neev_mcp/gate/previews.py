"""What a gated call would do, in words a human can confirm, and why some calls cannot succeed at all.

Pure functions over API objects (no I/O, no MCP): the gate fetches the target and hands it here.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from ..kinds import ROOT_DISK, VM, Action, Kind
from ..summaries import name_taken

if TYPE_CHECKING:
    from ..registry import ToolDef

_CHANGE = Action("change", "changed")
CONFIRM_FIELD = "confirm_name"
REQUEST = "request"  # the kind of an unreviewed operation's preview: "request resize_vm was not sent"


@dataclass(frozen=True)
class Preview:
    """A gated call described: who it acts on (`target_id`, `name`) and what happens (`text`, `facts`)."""

    tool: str
    kind: str  # "VM" or "root disk"
    target_id: str | None  # None for a VM that does not exist yet
    name: str  # what the user types to confirm
    text: str
    facts: dict[str, Any] = field(default_factory=dict)
    action: Action = _CHANGE

    @property
    def label(self) -> str:
        if self.kind == REQUEST:  # an unreviewed operation, named by its tool
            return f"{REQUEST} {self.name}"
        ident = self.target_id or "new"
        return f"{self.kind} {self.name} ({ident})" if self.name != self.target_id else f"{self.kind} {ident}"

    @property
    def verb(self) -> str:
        return self.action.verb

    @property
    def past(self) -> str:
        return self.action.past

    def not_done(self, why: str) -> str:
        """The sentence every refusal starts with: '<label> was not <past>: <why>'."""
        return f"{self.label} was not {self.past}: {why}"


def shell(tool: ToolDef, ident: str) -> Preview:
    """The preview of a target that could not be read: enough to say what was not done."""
    return Preview(tool.name, _kind(tool).label, ident, ident, "", action=tool.action or _CHANGE)


def preview_for(tool: ToolDef, target: Mapping[str, Any]) -> Preview:
    """The preview of a gated call on an existing resource, as read just now."""
    return (vm_preview if tool.kind is VM else disk_preview)(tool, target)


def _kind(tool: ToolDef) -> Kind:
    return tool.kind or VM  # a tool without a target creates a VM


def vm_preview(tool: ToolDef, vm: Mapping[str, Any]) -> Preview:
    ident, name = str(vm.get("id") or ""), str(vm.get("name") or vm.get("id") or "")
    status, ip = vm.get("status") or "unknown", vm.get("public_ip") or "no public IP"
    action = tool.action or _CHANGE
    lines = [f"{action.verb.capitalize()} VM {name} ({ident}): status {status}, public IP {ip}."]
    facts: dict[str, Any] = {"id": ident, "name": name, "status": status, "public_ip": vm.get("public_ip")}
    if tool.hints.destructive:
        lines += _vm_deletion(vm, facts)
    else:
        lines.append(action.consequence)
    return Preview(tool.name, VM.label, ident, name, " ".join(x for x in lines if x), facts, action)


def _vm_deletion(vm: Mapping[str, Any], facts: dict[str, Any]) -> list[str]:
    """What deleting this VM takes with it (fills `facts` with the same)."""
    lines: list[str] = []
    disk = vm.get("root_disk") or {}
    data_disks = vm.get("data_disks") or []
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
    return lines


def disk_preview(tool: ToolDef, disk: Mapping[str, Any]) -> Preview:
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
    return Preview(tool.name, ROOT_DISK.label, ident, name, text, facts, tool.action or _CHANGE)


def create_preview(tool: ToolDef, args: Mapping[str, Any], existing: Mapping[str, Any] | None = None) -> Preview:
    """For create_vm there is no target yet: the preview is the requested spec, and which VMs already have its name
    (`existing`, from `agent_tools.namesakes`)."""
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
    if existing is not None:
        warning = name_taken(_kind(tool), existing, before=True)
        if warning:
            parts.append(warning)
        facts[SAME_NAME] = existing.get("ids")
    return Preview(tool.name, VM.label, None, name, " ".join(parts), facts, tool.action or _CHANGE)


SAME_NAME = "same_name_ids"  # the ids of the resources that already have the name a create would give


def impossible(tool: ToolDef, preview: Preview, target: Mapping[str, Any]) -> tuple[str, str] | None:
    """(short code, explanation) when the call cannot succeed whatever the user answers; asked before any round."""
    status = target.get("status")
    if status == "deleting":
        follow = " Follow it with wait_for_vm target_status=deleted." if tool.kind is VM else ""
        return "already deleting", f"it is already being deleted (status 'deleting').{follow}"
    if status == "deleted":
        return "already deleted", "it has already been deleted."
    if tool.kind is ROOT_DISK and tool.hints.destructive and target.get("is_attached"):
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


# -- decisive facts: what the human approved, bound into the confirmation ---------------------------------------------
STATUS_CLASSES = {
    "running": "running",
    "stopped": "stopped",
    "failed": "failed",
    **dict.fromkeys(("pending", "provisioning", "starting", "stopping", "restarting"), "transitional"),
    **dict.fromkeys(("deleting", "deleted"), "being deleted"),
}


def status_class(status: Any) -> str:
    """Statuses that mean the same to a human confirming an action; an unknown one stands for itself."""
    return STATUS_CLASSES.get(str(status), str(status))


def decisive_facts(preview: Preview) -> tuple[tuple[str, str], ...]:
    """The facts the preview stated that decide what the confirmed call does, as (name, value) text in a fixed order.

    Derived from the preview's own `facts`, so a fact is bound exactly when the preview told the human about it: a VM's
    status class; for a delete also whether its root disk goes with it, which root disk, which data disks; a root
    disk's attachment. A create binds nothing beyond its arguments (there is no target yet). Which VMs already have
    its name is shown, not bound: the create's own VM would void a replayed token as "changed" instead of "already
    used", and the create's answer looks again and says it.
    """
    facts = preview.facts
    out: list[tuple[str, str]] = []
    if preview.kind == VM.label and "status" in facts:
        out.append(("status", status_class(facts["status"])))
    if "root_disk_fate" in facts:
        out.append(("delete_root_disk", "true" if facts["root_disk_fate"] == "deleted" else "false"))
        out.append(("root disk", str((facts.get("root_disk") or {}).get("id") or "none")))
        ids = sorted(str(d.get("id")) for d in facts.get("data_disks") or [])
        out.append(("attached data disks", ", ".join(ids) or "none"))
    if "is_attached" in facts:
        out.append(("attachment", f"attached to VM {facts.get('vm_id')}" if facts["is_attached"] else "not attached"))
    return tuple(out)


def changed_facts(now: tuple[tuple[str, str], ...], changed: tuple[str, ...],
                  before: tuple[tuple[str, str], ...] | None = None) -> str:
    """'delete_root_disk was false, is now true; …' (or '… is now true' when the earlier value is not at hand)."""
    then = dict(before or ())
    parts = []
    for name, value in now:
        if name in changed:
            parts.append(f"{name} was {then[name]}, is now {value}" if name in then else f"{name} is now {value}")
    return "; ".join(parts) or "the facts shown in the preview"
