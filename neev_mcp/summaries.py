"""Pure functions from API objects to short, decision-ready text for agents.

No I/O and no clock of their own: `now` is passed in, so every output can be snapshot-tested exactly. Every text
answers "what is the state, and what can I do next?" in as few lines as the answer allows; the full API objects
travel beside it as `structuredContent`. The project overview is bounded: its size depends on how many *kinds* of
thing there are (statuses, failure messages), not on how many VMs the project holds.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from .kinds import VM, Action, Kind
from .text import MAX_IDS, listed_ids, whole

Obj = Mapping[str, Any]
Summary = tuple[str, dict[str, Any]]  # text for the agent, structuredContent

TRANSITIONAL = frozenset({"pending", "provisioning", "starting", "stopping", "restarting", "deleting"})
STATUS_ORDER = ("running", "stopped", "failed", "pending", "provisioning", "starting", "stopping", "restarting",
                "deleting", "deleted")
# The status a VM in transition is heading for: what to pass to wait_for_vm.
HEADING_FOR = {"pending": "running", "provisioning": "running", "starting": "running", "restarting": "running",
               "stopping": "stopped", "deleting": "deleted"}
DISK_TRANSITIONAL = frozenset({"provisioning", "creating", "attaching", "detaching", "deleting"})

NEXT_STEPS: dict[str, str] = {
    "running": "Next: stop_vm or restart_vm; delete_vm removes it (the user is asked first).",
    "stopped": "Next: start_vm to boot it, or delete_vm to remove it (the user is asked first).",
    "failed": "Next: it cannot be started. Fix the cause above, then delete_vm and create_vm again (for a capacity "
    "problem: later or in another region).",
    "deleted": "Nothing left to do: the VM is deleted.",
}


# -- small pieces ------------------------------------------------------------------------------------------------
def _parse(ts: Any) -> dt.datetime | None:
    if not isinstance(ts, str) or not ts:
        return None
    try:
        then = dt.datetime.fromisoformat(ts.replace("Z", "+00:00"))
    except ValueError:
        return None
    return then if then.tzinfo else then.replace(tzinfo=dt.UTC)


def span(ts: Any, now: dt.datetime) -> str:
    """How long ago `ts` was, in the largest whole unit: '40d', '3h', '12m', '5s' ('?' when unreadable)."""
    then = _parse(ts)
    if then is None:
        return "?"
    seconds = max(0, int((now - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def age(created_at: Any, now: dt.datetime) -> str:
    when = span(created_at, now)
    return "age unknown" if when == "?" else f"{when} old"


def plural(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def ident(obj: Obj) -> str:
    """`name (id)`, or just the id when the name is unknown."""
    name, oid = obj.get("name"), obj.get("id")
    return f"{name} ({oid})" if name else str(oid)


def ports(vm: Obj) -> str:
    items = vm.get("exposed_ports") or []
    return ",".join(f"{p.get('port')}/{p.get('protocol')}" for p in items) or "no ports"


def status_order(status: str) -> int:
    return STATUS_ORDER.index(status) if status in STATUS_ORDER else len(STATUS_ORDER)


def status_label(vm: Obj) -> str:
    """`running`, or `provisioning (in transition: allocating compute)` for a VM on its way somewhere."""
    status = str(vm.get("status", "unknown"))
    if status not in TRANSITIONAL:
        return status
    detail = f": {vm['message']}" if vm.get("message") else ""
    return f"{status} (in transition{detail})"


def tally(statuses: Iterable[str]) -> str:
    """'3 running, 1 stopped, 1 failed, 1 provisioning' in lifecycle order."""
    counted = Counter(statuses)
    return ", ".join(f"{counted[s]} {s}" for s in sorted(counted, key=status_order)) or "none"


def counts(vms: Sequence[Obj]) -> str:
    return tally(str(vm.get("status")) for vm in vms)


def wait_hint(vm: Obj) -> str:
    status = str(vm.get("status"))
    return f"wait_for_vm vm_id={vm.get('id')} target_status={HEADING_FOR.get(status, 'running')}"


def next_steps(vm: Obj) -> str:
    status = str(vm.get("status"))
    if status in TRANSITIONAL:
        return f"Next: {wait_hint(vm)}."
    return NEXT_STEPS.get(status, "")


# -- VMs -----------------------------------------------------------------------------------------------------------
def vm_line(vm: Obj, now: dt.datetime) -> str:
    parts = [ident(vm), status_label(vm), vm.get("public_ip") or "no IP", ports(vm),
             f"{vm.get('vm_config_id')}/{vm.get('plan_id')}"]
    if vm.get("gpu_config_count"):
        parts.append(plural(int(vm["gpu_config_count"]), "GPU"))
    parts.append(age(vm.get("created_at"), now))
    line = " · ".join(str(p) for p in parts)
    if vm.get("status") == "failed":
        line += f" — FAILED: {vm.get('message') or 'no reason given'}"
    return line


def page_position(pagination: Obj | None, shown: int, noun: str) -> tuple[str, bool]:
    """('45 VMs, page 1 of 3 — call with page=2 for more', whole_project_on_this_page)."""
    p = pagination or {}
    total, pages, page = p.get("total_items", shown), p.get("total_pages") or 1, p.get("current_page") or 1
    text = plural(int(total), noun)
    if not (isinstance(page, int) and isinstance(pages, int)) or (pages <= 1 and page <= 1):
        return text, True
    text += f", page {page} of {pages}"
    if page < pages:
        text += f" — call with page={page + 1} for more"
    elif page > pages:
        text += f": past the last page; pages run 1–{pages}"
    return text, False


def vm_list(args: Obj, data: Obj, now: dt.datetime) -> str:
    vms = data.get("data") or []
    position, whole = page_position(data.get("pagination"), len(vms), "VM")
    if not vms:
        return f"{position}. No VMs here{'' if not whole else '; create one with create_vm'}."
    if whole:
        header = f"{position}: {counts(vms)}."
    else:
        header = f"{position}. On this page: {counts(vms)}. (project_overview counts every page.)"
    legend = "name (id) · status · public IP · ports · config/plan · GPUs · age"
    return "\n".join([header, legend, *(f"- {vm_line(vm, now)}" for vm in vms)])


def vm(args: Obj, data: Obj, now: dt.datetime) -> str:
    status = str(data.get("status"))
    specs = [str(data.get("region_id")), str(data.get("vm_config_id")), f"{data.get('plan_id')} plan"]
    if data.get("gpu_config_count"):
        specs.append(plural(int(data["gpu_config_count"]), "GPU"))
    specs += [f"image {data.get('image_id')}",
              f"public IP {data['public_ip']}" if data.get("public_ip") else "no public IP",
              f"ports {ports(data)}" if data.get("exposed_ports") else "no exposed ports"]
    state = "has FAILED" if status == "failed" else f"is {status_label(data)}"
    lines = [f"VM {ident(data)} {state}: {', '.join(specs)}. Created "
             f"{span(data.get('created_at'), now)} ago; last change {span(data.get('updated_at'), now)} ago."]
    if status == "failed":
        lines.append(f"Failure: {data.get('message') or 'no reason given by NeevCloud'}.")
    elif data.get("message") and status not in TRANSITIONAL:
        lines.append(f"Status detail: {data['message']}.")
    root = data.get("root_disk") or {}
    if root:
        fate = "deleted with the VM" if data.get("delete_root_disk") else "kept (detached) when the VM is deleted"
        lines.append(f"Root disk {ident(root)}, {root.get('size_gb')} GB, {fate}.")
    data_disks = data.get("data_disks") or []
    if data_disks:
        lines.append("Data disks: " + ", ".join(f"{d.get('name')} {d.get('size_gb')} GB" for d in data_disks) + ".")
    lines.append(next_steps(data))
    return "\n".join(line for line in lines if line)


def vm_created(args: Obj, data: Obj, now: dt.datetime) -> str:
    root = args.get("root_disk") or {}
    new_disk, attach = root.get("create_disk_request"), root.get("attach_disk_request")
    what = [str(data.get("region_id") or args.get("region_id")), str(data.get("vm_config_id")),
            f"{data.get('plan_id')} plan"]
    if data.get("gpu_config_count"):
        what.append(plural(int(data["gpu_config_count"]), "GPU"))
    if new_disk:
        fate = "deleted with the VM" if args.get("delete_root_disk") else "kept when the VM is deleted"
        what.append(f"new {new_disk.get('size_gb')} GB root disk {new_disk.get('name')} from "
                    f"{new_disk.get('image_id')} ({fate})")
    elif attach:
        what.append(f"existing root disk {attach.get('disk_id')}")
    if data.get("exposed_ports"):
        what.append(f"ports {ports(data)}")
    return (f"Create requested: VM {ident(data)} — {', '.join(what)}.\n"
            f"Status now: {status_label(data)}. It is not usable yet: {wait_hint({**data, 'status': 'pending'})}.")


def name_taken(kind: Kind, existing: Mapping[str, Any], *, before: bool) -> str:
    """The sentence saying that a create gives a name other resources already have ("" when none does); `before`:
    said in a preview, else in the answer to the create."""
    ids, name = existing.get("ids"), existing.get("name")
    if ids is None:
        return (f"Whether another {kind.label} is already named {name!r} could not be checked ({kind.lister} could "
                "not be read).")
    if not ids:
        return ""
    which = f"this {kind.label}" if before else f"the {kind.label} just created"
    count = len(ids) if len(ids) <= MAX_IDS else f"More than {MAX_IDS}"
    who = f"Another {kind.label} in this project already has" if len(ids) == 1 else \
        f"{count} other {kind.label}s in this project already have"
    return (f"{who} the name {name!r} ({listed_ids(ids)}): NeevCloud "
            f"accepts the duplicate, but afterwards the name no longer identifies one {kind.label}, so refer to "
            f"{which} by its id.")


def vm_action(args: Obj, data: Obj, now: dt.datetime, *, tool: str, action: Action) -> str:
    target = action.settles_at or "running"
    status = str(data.get("status"))
    if status in action.no_effect_from:
        return f"VM {ident(data)} is {status}: {tool} has no effect on a {status} VM. {action.no_effect_from[status]}"
    if status == target and not action.repeats:
        return f"VM {ident(data)} is already {status}: {tool} had no effect. {next_steps(data)}"
    text = f"{action.verb.capitalize()} requested for VM {ident(data)}; status now {status_label(data)}."
    if status in TRANSITIONAL:
        text += f" Next: wait_for_vm vm_id={data.get('id')} target_status={target}."
    else:
        text += f" {next_steps(data)}"
    return text


def deleted(args: Obj, target: Obj | None, kind: Kind) -> str:
    target = target or {}
    oid = target.get("id") or args.get(kind.id_arg, "")
    label = ident({**target, "id": oid})
    if kind is not VM:
        return (f"Deletion of root disk {label} accepted; it is now 'deleting' and disappears from "
                "list_root_disk_volumes once done. This cannot be undone.")
    text = f"Deletion of VM {label} accepted; it is now 'deleting'."
    root = target.get("root_disk") or {}
    if root and "delete_root_disk" in target:
        if target.get("delete_root_disk"):
            text += f" Its root disk {ident(root)} is deleted with it."
        else:
            text += (f" Its root disk {ident(root)}, {root.get('size_gb')} GB, is kept and becomes unattached: "
                     "reuse it for a new VM or delete it with delete_root_disk_volume.")
    return text + f" Confirm it is gone with wait_for_vm vm_id={oid} target_status=deleted."


# -- root disks ----------------------------------------------------------------------------------------------------
def disk_line(disk: Obj, vm_names: Mapping[str, str], now: dt.datetime) -> str:
    status = str(disk.get("status"))
    if status in DISK_TRANSITIONAL:
        status += " (in transition)"
    if disk.get("is_attached") or disk.get("vm_id"):
        vm_id = str(disk.get("vm_id"))
        name = vm_names.get(vm_id)
        where = f"attached to VM {name} ({vm_id})" if name else f"attached to VM {vm_id}"
    else:
        where = "UNATTACHED: deletable with delete_root_disk_volume"
    return (f"{ident(disk)} · {disk.get('size_gb')} GB · {disk.get('image_id')} · {status} · {where} · "
            f"{age(disk.get('created_at'), now)}")


def is_attached(disk: Obj) -> bool:
    return bool(disk.get("is_attached") or disk.get("vm_id"))


def disk_list(args: Obj, data: Obj, now: dt.datetime, vm_names: Mapping[str, str] | None = None) -> str:
    disks = data.get("data") or []
    position, whole = page_position(data.get("pagination"), len(disks), "root disk")
    if not disks:
        return f"{position}. No root disks here."
    free = [d for d in disks if not is_attached(d)]
    where = ": " if whole else ". On this page: "
    header = (f"{position}{where}{len(disks) - len(free)} attached, {len(free)} unattached"
              + (f" ({unattached_gb(free)} GB, deletable)." if free else "."))
    return "\n".join([header, *(f"- {disk_line(d, vm_names or {}, now)}" for d in disks)])


def disk(args: Obj, data: Obj, now: dt.datetime, vm_names: Mapping[str, str] | None = None) -> str:
    text = f"Root disk {disk_line(data, vm_names or {}, now)}."
    if data.get("message"):
        text += f" Detail: {data['message']}."
    if is_attached(data):
        text += " Delete or re-create the VM to free it; an attached disk cannot be deleted."
    return text


def unattached_gb(disks: Iterable[Obj]) -> int:
    """Total size of the root disks not attached to any VM."""
    return sum(whole(d.get("size_gb")) for d in disks if not is_attached(d))


# -- the one signature the registry binds: Answer → (text, structuredContent) ------------------------------------
@dataclass(frozen=True)
class Answer:
    """Everything a summariser may use about one accepted call."""

    tool: str
    args: Obj
    data: Any  # the API's JSON answer (None for an empty body)
    now: dt.datetime
    kind: Kind | None = None
    action: Action | None = None
    target: Obj | None = None  # the resource as the gate read it just before acting
    vm_names: Mapping[str, str] = field(default_factory=dict)  # VM id → name, for root-disk summaries
    status: int | None = None  # the HTTP status of the answer

    @property
    def obj(self) -> dict[str, Any]:
        return dict(self.data) if isinstance(self.data, Mapping) else {"value": self.data}


Summariser = Callable[[Answer], Summary]


def summarise_vm_list(a: Answer) -> Summary:
    return vm_list(a.args, a.obj, a.now), a.obj


def summarise_vm(a: Answer) -> Summary:
    return vm(a.args, a.obj, a.now), a.obj


def summarise_vm_created(a: Answer) -> Summary:
    """The create, and (a.target, the look-up before it) whether other VMs already had its name."""
    text, structured = vm_created(a.args, a.obj, a.now), a.obj
    ids = (a.target or {}).get("ids")
    if a.target is not None:
        text += "\n" + name_taken(a.action.creates if a.action and a.action.creates else VM, a.target, before=False)
    if ids:
        structured = {**structured, "same_name_ids": ids}
    return text.rstrip("\n"), structured


def summarise_vm_action(a: Answer) -> Summary:
    assert a.action is not None
    return vm_action(a.args, a.obj, a.now, tool=a.tool, action=a.action), a.obj


def summarise_disk_list(a: Answer) -> Summary:
    return disk_list(a.args, a.obj, a.now, vm_names=a.vm_names), a.obj


def summarise_disk(a: Answer) -> Summary:
    return disk(a.args, a.obj, a.now, vm_names=a.vm_names), a.obj


def summarise_deleted(a: Answer) -> Summary:
    assert a.kind is not None
    ident_ = a.args.get(a.kind.id_arg, "")
    structured = {"accepted": True, "status": "deleting", "id": ident_, "kind": a.kind.key, "target": a.target}
    return deleted(a.args, a.target or {"id": ident_}, a.kind), structured
