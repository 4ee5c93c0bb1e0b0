"""An extended NeevCloud spec (what a newer API might look like) and a recording upstream that serves it.

`extended_spec()` is the vendored spec plus three operations nobody here reviewed — `listRegions` (GET, a
catalogue), `resizeVM` (POST), `deleteSnapshot` (DELETE) — and one change to a reviewed operation: `stopVM` gains a
`force` query parameter. `RecordingUpstream` answers the new operations itself, hands everything else to the sandbox,
and records every request it sees, so tests can assert exactly what reached "NeevCloud".
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx2

from neev_mcp.spec.openapi import load_spec

SCOPE = "/api/v1/orgs/{org_id}/projects/{project_id}"
ORG_PARAM = {"in": "path", "name": "org_id", "required": True, "schema": {"type": "string"},
             "description": "The organization identifier."}
PROJECT_PARAM = {**ORG_PARAM, "name": "project_id", "description": "The project identifier."}
VM_PARAM = {"in": "path", "name": "vm_id", "required": True, "schema": {"type": "string", "format": "uuid"},
            "description": "The VM to resize."}
ERROR = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorResponse"}}}}
REGIONS = [
    {"id": "in-mum-1", "name": "Mumbai 1", "status": "available", "gpu_types": ["H100", "A100"]},
    {"id": "in-del-1", "name": "Delhi 1", "status": "available", "gpu_types": ["L40S"]},
    {"id": "in-blr-1", "name": "Bengaluru 1", "status": "maintenance", "gpu_types": []},
]
NEW_PATHS: dict[str, Any] = {
    "/api/v1/orgs/{org_id}/regions": {"get": {
        "operationId": "listRegions", "summary": "List regions",
        "description": "Lists the regions where VMs can be created, with their availability.",
        "parameters": [ORG_PARAM, {"in": "query", "name": "gpu_type", "required": False,
                                   "schema": {"type": "string", "maxLength": 20},
                                   "description": "Only regions offering this GPU type."}],
        "responses": {"200": {"description": "The regions.", "content": {"application/json": {"schema": {
            "type": "object", "properties": {"data": {"type": "array", "items": {"type": "object"}}}}}}},
            "401": {"description": "Unauthorized.", **ERROR}},
    }},
    SCOPE + "/vms/{vm_id}/resize": {"post": {
        "operationId": "resizeVM", "summary": "Resize a VM",
        "description": "Changes the VM configuration of a stopped VM.",
        "parameters": [ORG_PARAM, PROJECT_PARAM, VM_PARAM],
        "requestBody": {"required": True, "content": {"application/json": {"schema": {
            "type": "object", "required": ["vm_config_id"],
            "properties": {"vm_config_id": {"type": "string", "minLength": 1, "maxLength": 64,
                                            "description": "The new VM configuration."},
                           "keep_ip": {"type": "boolean", "default": True}}}}}},
        "responses": {"202": {"description": "Accepted.", "content": {"application/json": {"schema": {
            "$ref": "#/components/schemas/VMResponse"}}}}, "404": {"description": "Not found.", **ERROR}},
    }},
    SCOPE + "/snapshots/{snapshot_id}": {"delete": {
        "operationId": "deleteSnapshot", "summary": "Delete a snapshot",
        "description": "Permanently deletes a VM snapshot.",
        "parameters": [ORG_PARAM, PROJECT_PARAM, {"in": "path", "name": "snapshot_id", "required": True,
                                                  "schema": {"type": "string", "pattern": "^snap-[a-z0-9]+$"}}],
        "responses": {"202": {"description": "Deletion accepted."}, "404": {"description": "Not found.", **ERROR}},
    }},
}
FORCE_PARAM = {"in": "query", "name": "force", "required": False, "schema": {"type": "boolean"},
               "description": "Power the VM off without a clean shutdown."}
STOP_PATH = SCOPE + "/vms/{vm_id}/stop"


def extended_spec(*, drift: bool = True) -> dict[str, Any]:
    """The vendored spec plus the three new operations; with `drift`, stopVM also gains the `force` parameter."""
    spec = copy.deepcopy(load_spec())
    spec["info"]["version"] = "0.2.0"
    spec["paths"].update(copy.deepcopy(NEW_PATHS))
    if drift:
        spec["paths"][STOP_PATH]["post"]["parameters"].append(dict(FORCE_PARAM))
    return spec


def write_spec(tmp_path: Path, spec: dict[str, Any], name: str = "neevcloud-next.json") -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(spec, indent=1), encoding="utf-8")
    return path


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    query: dict[str, str]
    body: Any
    raw_query: str = field(default="", compare=False)  # the query string as sent (repeated names included)


class RecordingUpstream(httpx2.AsyncBaseTransport):
    """Serves listRegions, resizeVM and deleteSnapshot; forwards the rest to `inner` (the sandbox); records all."""

    def __init__(self, inner: httpx2.AsyncBaseTransport) -> None:
        self.inner = inner
        self.seen: list[Seen] = []
        self.snapshots = {"snap-1a2b"}
        self.failures: list[int] = []  # statuses to answer the next requests for the new operations with

    async def handle_async_request(self, request: httpx2.Request) -> httpx2.Response:
        body = await request.aread()
        path = request.url.path
        self.seen.append(Seen(request.method, path, dict(request.url.params), json.loads(body) if body else None,
                              request.url.query.decode()))
        parts = path.split("/")
        new_operation = path.endswith(("/regions", "/resize")) or "/snapshots/" in path
        if new_operation and self.failures:
            return _json(self.failures.pop(0), {"code": "unavailable", "message": "try again later"})
        if path.endswith("/regions") and request.method == "GET":
            return _json(200, {"data": REGIONS})
        if path.endswith("/resize") and request.method == "POST":
            config = json.loads(body)["vm_config_id"]
            return _json(202, {"id": parts[-2], "name": "web-1", "status": "stopped", "vm_config_id": config})
        if "/snapshots/" in path and request.method == "DELETE":
            if parts[-1] in self.snapshots:
                self.snapshots.discard(parts[-1])
                return httpx2.Response(202)
            return _json(404, {"code": "not_found", "message": f"snapshot {parts[-1]} not found"})
        return await self.inner.handle_async_request(request)

    def requests(self, method: str | None = None, contains: str = "") -> list[Seen]:
        return [s for s in self.seen if (method is None or s.method == method) and contains in s.path]

    async def aclose(self) -> None:
        await self.inner.aclose()


def _json(status: int, data: Any) -> httpx2.Response:
    return httpx2.Response(status, json=data)
