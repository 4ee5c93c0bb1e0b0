"""Deterministic demo data: a small realistic project, plus bulk VMs for benchmarks.

Ids come from uuid5 over fixed names and timestamps are offsets from the clock's start, so two
sandboxes built with the same clock start serve byte-identical listings.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from .models import VM, RootDisk, Transition
from .state import CloudState, make_id

DEMO_SSH_KEY = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHc2FuZGJveGRlbW9rZXlub3RyZWFsMDEyMzQ1Njc4OQ demo@sandbox"
_FAILURES = (
    "provisioning failed: no H100 capacity in {region}; retry later or pick another region",
    "provisioning failed: image clone timed out; retry the create",
    "boot failed: guest did not report ready within 600s; check cloud-init user data",
)


def _add(state: CloudState, org: str, project: str, name: str, *, created: datetime, status: str,
         region: str = "in-mum-1", config: str = "vcpu-4-ram-16", plan: str = "hourly", image: str = "ubuntu-24.04",
         size_gb: int = 50, gpus: int = 0, ports: tuple[tuple[int, str], ...] = (), ssh: bool = False,
         delete_root_disk: bool = False, message: str | None = None, with_ip: bool = True,
         data_disks: list[dict[str, Any]] | None = None, updated: datetime | None = None) -> VM:
    """Insert a settled VM with its root disk (created with the VM, ready, attached)."""
    vm_id, disk_id = make_id(org, project, "vm", name), make_id(org, project, "root-disk", name)
    updated = updated or created + timedelta(minutes=5)
    disk = RootDisk(
        id=disk_id, org_id=org, project_id=project, name=f"{name}-root", region=region, size_gb=size_gb,
        image_id=image, plan_id=plan, status="ready", created_at=created, updated_at=created + timedelta(seconds=30),
        vm_id=vm_id, created_with_vm=True,
    )
    vm = VM(
        id=vm_id, org_id=org, project_id=project, name=name, region_id=region, vm_config_id=config, plan_id=plan,
        image_id=image, status=status, created_at=created, updated_at=updated, message=message,
        gpu_config_count=gpus, delete_root_disk=delete_root_disk, root_disk_id=disk_id,
        data_disks=data_disks or [], exposed_ports=[{"port": p, "protocol": proto} for p, proto in ports],
        ssh_keys=[DEMO_SSH_KEY] if ssh else [],
        public_ip=state.allocate_ip() if with_ip and status in ("running", "stopped") else None,
    )
    state.root_disks[disk_id] = disk
    state.vms[vm_id] = vm
    return vm


def seed_demo(state: CloudState, org: str, project: str) -> None:
    """The demo project: six VMs in mixed states and one orphaned root disk."""
    state.add_project(org, project)
    t0 = state.clock.start
    day = timedelta(days=1)
    _add(state, org, project, "web-1", created=t0 - 40 * day, status="running", config="vcpu-4-ram-16",
         plan="monthly", ports=((80, "tcp"), (443, "tcp")), ssh=True)
    _add(state, org, project, "train-gpu-1", created=t0 - 12 * day, status="running", config="gpu-h100-1", gpus=2,
         image="ubuntu-22.04", size_gb=200, ssh=True, data_disks=[{
             "id": make_id(org, project, "data-disk", "train-gpu-1-datasets"), "name": "datasets",
             "type": "block", "size_gb": 1024}])
    _add(state, org, project, "db-1", created=t0 - 30 * day, status="stopped", region="in-del-1",
         config="vcpu-8-ram-32", plan="monthly", image="debian-12", size_gb=100, updated=t0 - 2 * day)
    _add(state, org, project, "batch-7", created=t0 - 3 * day, status="failed", config="gpu-h100-1", gpus=1,
         delete_root_disk=True, message=_FAILURES[0].format(region="in-mum-1"), with_ip=False)
    _add(state, org, project, "api-staging", created=t0 - 6 * day, status="running", region="in-del-1",
         config="vcpu-2-ram-8", ports=((8080, "tcp"),), ssh=True, delete_root_disk=True, size_gb=30)
    # etl-2 is mid-create: provisioning now, starting in 2 s, running (with a public IP) in 4 s.
    now = state.clock.now()
    etl = _add(state, org, project, "etl-2", created=now - timedelta(seconds=1), status="provisioning",
               config="vcpu-8-ram-32", message="allocating compute and cloning root disk", with_ip=False,
               updated=now)
    etl.timeline = [Transition(now + timedelta(seconds=2), "starting", "booting"),
                    Transition(now + timedelta(seconds=4), "running", None)]
    etl_disk = state.root_disks[etl.root_disk_id or ""]
    etl_disk.status, etl_disk.message, etl_disk.updated_at = "provisioning", "cloning ubuntu-24.04", now
    etl_disk.timeline = [Transition(now + timedelta(seconds=1), "ready", None)]
    orphan_id = make_id(org, project, "root-disk", "old-root-disk")
    state.root_disks[orphan_id] = RootDisk(
        id=orphan_id, org_id=org, project_id=project, name="old-root-disk", region="in-mum-1", size_gb=100,
        image_id="ubuntu-22.04", plan_id="hourly", status="ready", created_at=t0 - 60 * day,
        updated_at=t0 - 20 * day, vm_id=None, created_with_vm=True,
    )


def seed_bulk(state: CloudState, n: int, org: str, project: str) -> list[VM]:
    """Add ``n`` settled VMs named ``bulk-NNNN`` (about 70% running, 20% stopped, 10% failed).

    Only settled states are used so that benchmark output does not drift with real time. Calling it
    again continues the numbering.
    """
    if n < 0:
        raise ValueError("n must be >= 0")
    state.add_project(org, project)
    first = 1 + sum(1 for v in state.vms.values() if (v.org_id, v.project_id) == (org, project)
                    and v.name.startswith("bulk-"))
    base = state.clock.start - timedelta(days=90)
    configs = ("vcpu-2-ram-8", "vcpu-4-ram-16", "vcpu-8-ram-32", "gpu-h100-1", "gpu-l40s-1")
    images = ("ubuntu-24.04", "ubuntu-22.04", "debian-12")
    added: list[VM] = []
    for i in range(first, first + n):
        rng = random.Random(f"bulk/{org}/{project}/{i}")
        slot = i % 10
        status = "failed" if slot == 9 else "stopped" if slot in (3, 7) else "running"
        region = rng.choice(("in-mum-1", "in-mum-1", "in-del-1"))
        config = rng.choice(configs)
        gpus = rng.choice((1, 1, 2, 4, 8)) if config.startswith("gpu") else 0
        ports = tuple(p for p in ((80, "tcp"), (443, "tcp"), (8080, "tcp"), (51820, "udp")) if rng.random() < 0.3)
        message = rng.choice(_FAILURES).format(region=region) if status == "failed" else None
        created = base + timedelta(minutes=7 * i)
        added.append(_add(
            state, org, project, f"bulk-{i:04d}", created=created, status=status, region=region, config=config,
            plan=rng.choice(("hourly", "hourly", "monthly")), image=rng.choice(images), gpus=gpus,
            size_gb=rng.choice((30, 50, 100, 200)), ports=ports, ssh=rng.random() < 0.5,
            delete_root_disk=rng.random() < 0.3, message=message,
        ))
    return added
