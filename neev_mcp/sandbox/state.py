"""The simulated cloud: projects, VMs and root disks, with lifecycles settled lazily on access.

There are no background tasks: every read or mutation first calls :meth:`CloudState.settle`, which
applies all transitions whose simulated time has passed, in order. That keeps the sandbox
deterministic under a frozen clock and cheap when idle.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from .clock import SimClock
from .models import VM, ApiError, RootDisk, Transition
from .validation import check_catalog, validate_create_vm

ID_NAMESPACE = uuid.UUID("6f1c2d9e-4b7a-5c3e-9d21-8a0b4e6f7c15")
_NAMESPACE_BYTES = ID_NAMESPACE.bytes
# Durations in simulated seconds.
CREATE_STEPS: tuple[tuple[str, float, str], ...] = (
    ("pending", 1, "queued for scheduling"),
    ("provisioning", 3, "allocating compute and cloning root disk"),
    ("starting", 2, "booting"),
)
STOP_SECONDS, START_SECONDS, RESTART_SECONDS, DELETE_SECONDS = 2.0, 2.0, 3.0, 3.0
DISK_READY_SECONDS, DISK_DELETE_SECONDS = 2.0, 2.0
# TEST-NET ranges (RFC 5737); wraps around after 762 addresses, which only bulk seeding can reach.
_IP_POOLS = ("203.0.113", "198.51.100", "192.0.2")


def make_id(*parts: str) -> str:
    """Deterministic UUID so seeds and created resources are reproducible across runs.

    Exactly `uuid.uuid5(ID_NAMESPACE, name)`, written out because the `uuid` module's version costs half the time of
    seeding 100,000 VMs.
    """
    digest = bytearray(hashlib.sha1(_NAMESPACE_BYTES + "/".join(parts).encode()).digest()[:16])
    digest[6] = (digest[6] & 0x0F) | 0x50  # version 5
    digest[8] = (digest[8] & 0x3F) | 0x80  # RFC 4122 variant
    h = digest.hex()
    return f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:]}"


class CloudState:
    """All records of the sandbox. ``vms`` and ``root_disks`` map id → record (see models.py)."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self.projects: set[tuple[str, str]] = set()
        self.vms: dict[str, VM] = {}
        self.root_disks: dict[str, RootDisk] = {}
        self._ip_counter = 9  # first address handed out is 203.0.113.10
        self._seq = 0
        # Listings and settling stay cheap at 100,000 VMs: records with pending transitions are tracked (found by one
        # scan the first time, since seeds may set timelines directly), and sorted listings are cached until a record
        # is added or removed.
        self._busy_vms: dict[str, None] | None = None  # ordered set of ids
        self._busy_disks: dict[str, None] | None = None
        self._removals = 0
        self._listings: dict[tuple[str, str, str], tuple[tuple[int, int, int], list[Any]]] = {}

    # -- helpers -----------------------------------------------------------------------------
    def add_project(self, org_id: str, project_id: str) -> None:
        self.projects.add((org_id, project_id))

    def next_id(self, org_id: str, project_id: str, kind: str) -> str:
        self._seq += 1
        return make_id(org_id, project_id, kind, "created", str(self._seq))

    def allocate_ip(self) -> str:
        self._ip_counter += 1
        pool, host = divmod(self._ip_counter - 1, 254)
        return f"{_IP_POOLS[pool % len(_IP_POOLS)]}.{host + 1}"

    def require_project(self, org_id: str, project_id: str) -> None:
        if (org_id, project_id) not in self.projects:
            raise ApiError(404, "not_found", f"project {org_id}/{project_id} not found")

    def get_vm(self, org_id: str, project_id: str, vm_id: str) -> VM:
        vm = self.vms.get(vm_id)
        if vm is None or (vm.org_id, vm.project_id) != (org_id, project_id):
            raise ApiError(404, "not_found", f"VM {vm_id} not found in project {org_id}/{project_id}")
        return vm

    def get_disk(self, org_id: str, project_id: str, disk_id: str) -> RootDisk:
        disk = self.root_disks.get(disk_id)
        if disk is None or (disk.org_id, disk.project_id) != (org_id, project_id):
            raise ApiError(404, "not_found", f"root disk {disk_id} not found in project {org_id}/{project_id}")
        return disk

    def vm_json(self, vm: VM) -> dict[str, Any]:
        return vm.to_json(self.root_disks.get(vm.root_disk_id) if vm.root_disk_id else None)

    def list_vms(self, org_id: str, project_id: str) -> list[VM]:
        return self._listing("vms", org_id, project_id)

    def list_disks(self, org_id: str, project_id: str) -> list[RootDisk]:
        return self._listing("root_disks", org_id, project_id)

    def _listing(self, kind: str, org_id: str, project_id: str) -> list[Any]:
        """Records of a project in listing order (created_at, id); cached while no record is added or removed."""
        key, version = (kind, org_id, project_id), (len(self.vms), len(self.root_disks), self._removals)
        cached = self._listings.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        records = self.vms if kind == "vms" else self.root_disks
        found = sorted((r for r in records.values() if r.org_id == org_id and r.project_id == project_id),
                       key=lambda r: (r.created_at, r.id))
        self._listings[key] = (version, found)
        return found

    # -- lazy lifecycle ----------------------------------------------------------------------
    def settle(self, now: datetime | None = None) -> None:
        """Apply every transition due by ``now``. VMs first: finishing a VM deletion schedules disk work."""
        now = now or self.clock.now()
        if self._busy_vms is None or self._busy_disks is None:
            self._busy_vms = dict.fromkeys(v.id for v in self.vms.values() if v.timeline)
            self._busy_disks = dict.fromkeys(d.id for d in self.root_disks.values() if d.timeline)
        for vm in [self.vms[i] for i in list(self._busy_vms) if i in self.vms]:
            while vm.timeline and vm.timeline[0].at <= now:
                step = vm.timeline.pop(0)
                if step.status == "deleted":
                    self._finish_vm_delete(vm, step.at)
                    break
                vm.status, vm.message, vm.updated_at = step.status, step.message, step.at
                if step.status == "running" and vm.public_ip is None:
                    vm.public_ip = self.allocate_ip()
        for disk in [self.root_disks[i] for i in list(self._busy_disks) if i in self.root_disks]:
            while disk.timeline and disk.timeline[0].at <= now:
                step = disk.timeline.pop(0)
                if step.status == "deleted":
                    del self.root_disks[disk.id]
                    self._removals += 1
                    break
                disk.status, disk.message, disk.updated_at = step.status, step.message, step.at
        self._busy_vms = {i: None for i in self._busy_vms if i in self.vms and self.vms[i].timeline}
        self._busy_disks = {i: None for i in self._busy_disks if i in self.root_disks and self.root_disks[i].timeline}

    def _track(self, record: VM | RootDisk) -> None:
        """A record with pending transitions, for `settle` to visit."""
        busy = self._busy_vms if isinstance(record, VM) else self._busy_disks
        if busy is not None:
            busy[record.id] = None

    def _finish_vm_delete(self, vm: VM, at: datetime) -> None:
        del self.vms[vm.id]
        self._removals += 1
        disk = self.root_disks.get(vm.root_disk_id) if vm.root_disk_id else None
        if disk is None or disk.vm_id != vm.id:
            return
        disk.vm_id, disk.updated_at = None, at
        if vm.delete_root_disk and disk.created_with_vm:
            disk.status, disk.message = "deleting", f"deleting with VM {vm.name}"
            disk.timeline = [Transition(at + timedelta(seconds=DISK_DELETE_SECONDS), "deleted")]
            self._track(disk)

    def schedule(self, record: VM | RootDisk, now: datetime, steps: Sequence[tuple[str, float, str | None]],
                 final: str, final_message: str | None = None) -> None:
        """Enter the first step now and queue the rest; ``final`` is reached after the last step."""
        self._track(record)
        record.timeline = []
        at = now
        for i, (status, seconds, message) in enumerate(steps):
            if i == 0:
                record.status, record.message, record.updated_at = status, message, now
            else:
                record.timeline.append(Transition(at, status, message))
            at = at + timedelta(seconds=seconds)
        record.timeline.append(Transition(at, final, final_message))

    # -- operations --------------------------------------------------------------------------
    def create_vm(self, org_id: str, project_id: str, body: Any) -> VM:
        self.require_project(org_id, project_id)
        body = validate_create_vm(body)
        root = body["root_disk"]
        create_req, attach_req = root.get("create_disk_request"), root.get("attach_disk_request")
        check_catalog(body, create_req["image_id"] if create_req else None)
        now = self.clock.now()
        vm_id = self.next_id(org_id, project_id, "vm")
        if attach_req:
            disk = self._attachable_disk(org_id, project_id, attach_req["disk_id"].lower(), body["region_id"])
            disk.vm_id, disk.updated_at = vm_id, now
        else:
            disk = RootDisk(
                id=self.next_id(org_id, project_id, "root-disk"), org_id=org_id, project_id=project_id,
                name=create_req["name"], region=body["region_id"], size_gb=create_req["size_gb"],
                image_id=create_req["image_id"], plan_id=body["plan_id"], status="provisioning",
                created_at=now, updated_at=now, vm_id=vm_id, created_with_vm=True,
            )
            self.schedule(disk, now, (("provisioning", DISK_READY_SECONDS, f"cloning {disk.image_id}"),), "ready")
            self.root_disks[disk.id] = disk
        data_disks: list[dict[str, Any]] = []
        for spec in (body.get("data_disks") or {}).get("create_disks") or []:
            data_id = self.next_id(org_id, project_id, "data-disk")
            data_disks.append({"id": data_id, "name": spec["name"], "type": spec["type"], "size_gb": spec["size_gb"]})
        for spec in (body.get("data_disks") or {}).get("attached_disks") or []:
            data_id = spec["disk_id"].lower()
            data_disks.append({"id": data_id, "name": f"data-{data_id[:8]}", "type": "block", "size_gb": 100})
        gpus = body.get("gpu_config_count") or 0
        vm = VM(
            id=vm_id, org_id=org_id, project_id=project_id, name=body["name"], region_id=body["region_id"],
            vm_config_id=body["vm_config_id"], plan_id=body["plan_id"], image_id=disk.image_id, status="pending",
            created_at=now, updated_at=now, gpu_config_count=gpus,
            delete_root_disk=bool(body.get("delete_root_disk", False)) and create_req is not None,
            root_disk_id=disk.id, data_disks=data_disks,
            exposed_ports=[dict(p) for p in body.get("exposed_ports") or []],
            ssh_keys=list(body.get("ssh_keys") or []),
        )
        steps = [(s, d, "allocating GPU" if s == "provisioning" and gpus else m) for s, d, m in CREATE_STEPS]
        self.schedule(vm, now, steps, "running")
        self.vms[vm.id] = vm
        return vm

    def _attachable_disk(self, org_id: str, project_id: str, disk_id: str, region_id: str) -> RootDisk:
        disk = self.get_disk(org_id, project_id, disk_id)
        if disk.vm_id is not None:
            holder = self.vms.get(disk.vm_id)
            who = f"{holder.name} ({holder.id})" if holder else disk.vm_id
            raise ApiError(409, "disk_attached", f"root disk {disk.name} is already attached to VM {who}")
        if disk.status != "ready":
            raise ApiError(409, "disk_not_ready", f"root disk {disk.name} is {disk.status}; only ready disks attach")
        if disk.region != region_id:
            raise ApiError(400, "invalid_request",
                           f"root_disk.attach_disk_request.disk_id: root disk {disk.name} is in region "
                           f"{disk.region}, not {region_id}")
        return disk

    def vm_action(self, org_id: str, project_id: str, vm_id: str, action: str) -> VM:
        """start / stop / restart with the spec's no-effect cases; transitional or failed VMs → 400."""
        vm = self.get_vm(org_id, project_id, vm_id)
        now = self.clock.now()
        if action == "start":
            if vm.status == "running":
                return vm
            if vm.status == "stopped":
                self.schedule(vm, now, (("starting", START_SECONDS, "booting"),), "running")
                return vm
            need = "a stopped VM (no effect if already running)"
        elif action == "stop":
            if vm.status == "stopped":
                return vm
            if vm.status == "running":
                self.schedule(vm, now, (("stopping", STOP_SECONDS, "shutting down guest OS"),), "stopped")
                return vm
            need = "a running VM (no effect if already stopped)"
        else:
            if vm.status == "stopped":
                return vm
            if vm.status == "running":
                self.schedule(vm, now, (("restarting", RESTART_SECONDS, "rebooting guest OS"),), "running")
                return vm
            need = "a running VM (no effect if stopped)"
        raise ApiError(400, "invalid_state", f"VM {vm.name} is {vm.status}; {action} requires {need}")

    def delete_vm(self, org_id: str, project_id: str, vm_id: str) -> None:
        vm = self.get_vm(org_id, project_id, vm_id)
        if vm.status == "deleting":
            raise ApiError(400, "already_deleting", f"VM {vm.name} is already being deleted")
        self.schedule(vm, self.clock.now(), (("deleting", DELETE_SECONDS, "releasing resources"),), "deleted")

    def delete_disk(self, org_id: str, project_id: str, disk_id: str) -> None:
        disk = self.get_disk(org_id, project_id, disk_id)
        if disk.vm_id is not None:
            holder = self.vms.get(disk.vm_id)
            who = f"{holder.name} ({holder.id})" if holder else f"({disk.vm_id})"
            raise ApiError(409, "disk_attached",
                           f"root disk {disk.name} is attached to VM {who}; delete or detach the VM first")
        if disk.status == "deleting":
            raise ApiError(400, "already_deleting", f"root disk {disk.name} is already being deleted")
        self.schedule(disk, self.clock.now(), (("deleting", DISK_DELETE_SECONDS, "deleting volume"),), "deleted")
