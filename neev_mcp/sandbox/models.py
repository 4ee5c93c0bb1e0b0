"""Records held by the simulated cloud and their wire (spec) representations."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any


class ApiError(Exception):
    """An error the simulated API answers with an ErrorResponse body."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, str]:
        return {"code": self.code, "message": self.message}


def iso(dt: datetime) -> str:
    """RFC 3339 UTC timestamp with a Z suffix, second precision (compact for agents)."""
    return dt.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


@dataclass
class Transition:
    """A scheduled status change; applied lazily once simulated time reaches ``at``.

    ``status == "deleted"`` means the record disappears at that moment.
    """

    at: datetime
    status: str
    message: str | None = None


@dataclass
class VM:
    """A VM as stored by the sandbox; ``to_json`` gives the spec's VMResponse."""

    id: str
    org_id: str
    project_id: str
    name: str
    region_id: str
    vm_config_id: str
    plan_id: str
    image_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    message: str | None = None
    gpu_config_count: int = 0
    delete_root_disk: bool = False
    root_disk_id: str | None = None
    data_disks: list[dict[str, Any]] = field(default_factory=list)
    exposed_ports: list[dict[str, Any]] = field(default_factory=list)
    ssh_keys: list[str] = field(default_factory=list)
    public_ip: str | None = None
    timeline: list[Transition] = field(default_factory=list)

    def to_json(self, root_disk: RootDisk | None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "name": self.name,
            "region_id": self.region_id,
            "status": self.status,
            "message": self.message,
            "vm_config_id": self.vm_config_id,
            "gpu_config_count": self.gpu_config_count,
            "plan_id": self.plan_id,
            "image_id": self.image_id,
            "root_disk": root_disk.as_disk_response() if root_disk else None,
            "data_disks": [dict(d) for d in self.data_disks] or None,
            "public_ip": self.public_ip,
            "exposed_ports": [dict(p) for p in self.exposed_ports],
            "delete_root_disk": self.delete_root_disk,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
        if body["root_disk"] is None:  # never expected (a VM always holds its disk); the spec has no null here
            del body["root_disk"]
        return body


@dataclass
class RootDisk:
    """A root disk volume; ``to_json`` gives the spec's RootDiskVolumeResponse.

    ``created_with_vm`` records whether the disk was cloned for a VM (create_disk_request), which is
    what makes ``delete_root_disk`` apply to it.
    """

    id: str
    org_id: str
    project_id: str
    name: str
    region: str
    size_gb: int
    image_id: str
    plan_id: str
    status: str
    created_at: datetime
    updated_at: datetime
    message: str | None = None
    vm_id: str | None = None
    created_with_vm: bool = False
    volume_mode: str = "filesystem"
    timeline: list[Transition] = field(default_factory=list)

    @property
    def is_attached(self) -> bool:
        return self.vm_id is not None

    def as_disk_response(self) -> dict[str, Any]:
        """The DiskResponse embedded in VMResponse.root_disk."""
        return {"id": self.id, "name": self.name, "type": self.volume_mode, "size_gb": self.size_gb}

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "org_id": self.org_id,
            "project_id": self.project_id,
            "region": self.region,
            "size_gb": self.size_gb,
            "image_id": self.image_id,
            "volume_mode": self.volume_mode,
            "plan_id": self.plan_id,
            "status": self.status,
            "message": self.message,
            "is_attached": self.is_attached,
            "vm_id": self.vm_id,
            "created_at": iso(self.created_at),
            "updated_at": iso(self.updated_at),
        }
