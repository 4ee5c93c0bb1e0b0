"""Tests for the simulated NeevCloud VM Service (neev_mcp.sandbox)."""

from __future__ import annotations

import base64
import json
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

import anyio
import httpx2
import pytest
import uvicorn

from neev_mcp.sandbox import DEFAULT_TOKEN, Fault, Sandbox, SimClock, redact_authorization
from neev_mcp.sandbox.server import _bind, main
from neev_mcp.sandbox.validation import schema_errors

START = datetime(2026, 1, 1, tzinfo=UTC)
AUTH = {"Authorization": f"Bearer {DEFAULT_TOKEN}"}
P = "/api/v1/orgs/demo-org/projects/demo-project"


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def sb() -> Sandbox:
    return Sandbox(clock=SimClock(speed=0, start=START))


@asynccontextmanager
async def client(sandbox: Sandbox, **kwargs: Any) -> AsyncIterator[httpx2.AsyncClient]:
    headers = kwargs.pop("headers", AUTH)
    async with httpx2.AsyncClient(transport=sandbox.transport(), base_url="http://sandbox/vm", headers=headers,
                                  **kwargs) as c:
        yield c


def create_body(name: str = "new-1", **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": name, "region_id": "in-mum-1", "vm_config_id": "vcpu-2-ram-8", "plan_id": "hourly",
        "root_disk": {"create_disk_request": {"name": f"{name}-root", "size_gb": 30, "image_id": "ubuntu-24.04"}},
    }
    body.update(overrides)
    return body


async def status_of(c: httpx2.AsyncClient, vm_id: str) -> str:
    r = await c.get(f"{P}/vms/{vm_id}")
    assert r.status_code == 200, r.text
    assert schema_errors("VMResponse", r.json()) == []
    return r.json()["status"]


# -- auth, scoping, ids --------------------------------------------------------------------------------
def test_default_token_is_jwt_shaped() -> None:
    parts = DEFAULT_TOKEN.split(".")
    assert len(parts) == 3
    claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
    assert claims["sub"] and datetime.fromtimestamp(claims["exp"], UTC).year >= 2099


@pytest.mark.anyio
@pytest.mark.parametrize("headers", [{}, {"Authorization": "Bearer wrong"}, {"Authorization": DEFAULT_TOKEN}])
async def test_auth_required(sb: Sandbox, headers: dict[str, str]) -> None:
    async with client(sb, headers=headers) as c:
        r = await c.get(f"{P}/vms")
    assert r.status_code == 401
    assert r.json() == {"code": "unauthorized", "message": "missing or invalid bearer token"}
    assert DEFAULT_TOKEN not in r.text
    assert sb.requests[-1].status == 401


@pytest.mark.anyio
async def test_scoping_and_path_ids(sb: Sandbox) -> None:
    web = sb.vm_by_name("web-1")
    sb.add_project("demo-org", "other")
    async with client(sb) as c:
        r = await c.get("/api/v1/orgs/demo-org/projects/xyz/vms")
        assert (r.status_code, r.json()) == (404, {"code": "not_found", "message": "project demo-org/xyz not found"})
        assert (await c.get(f"{P}/vms/{web.id}")).status_code == 200
        r = await c.get(f"/api/v1/orgs/demo-org/projects/other/vms/{web.id}")
        assert r.status_code == 404 and r.json()["code"] == "not_found"
        r = await c.get(f"/api/v1/orgs/demo-org/projects/other/root_disks/{web.root_disk_id}")
        assert r.status_code == 404
        r = await c.get(f"{P}/vms/not-a-uuid")
        assert r.status_code == 400 and "vm_id" in r.json()["message"]
        r = await c.delete(f"{P}/root_disks/123")
        assert r.status_code == 400 and "root_disk_id" in r.json()["message"]
        r = await c.get("/api/v1/orgs/demo-org/projects/other/vms")
        assert r.json()["data"] == [] and r.json()["pagination"]["total_pages"] == 1
        assert (await c.put(f"{P}/vms")).status_code == 405
        assert (await c.get(f"{P}/nope")).status_code == 404


# -- seed and pagination --------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_seed_contents(sb: Sandbox) -> None:
    async with client(sb) as c:
        vms = (await c.get(f"{P}/vms")).json()
        disks = (await c.get(f"{P}/root_disks")).json()
    assert schema_errors("VMListResponse", vms) == []
    assert schema_errors("RootDiskVolumeListResponse", disks) == []
    by_name = {v["name"]: v for v in vms["data"]}
    assert {n: v["status"] for n, v in by_name.items()} == {
        "web-1": "running", "train-gpu-1": "running", "db-1": "stopped", "etl-2": "provisioning",
        "batch-7": "failed", "api-staging": "running"}
    assert by_name["web-1"]["public_ip"].startswith("203.0.113.")
    assert {(p["port"], p["protocol"]) for p in by_name["web-1"]["exposed_ports"]} == {(80, "tcp"), (443, "tcp")}
    assert by_name["train-gpu-1"]["gpu_config_count"] == 2
    assert "no H100 capacity" in by_name["batch-7"]["message"]
    assert any(v["delete_root_disk"] for v in vms["data"])
    old = next(d for d in disks["data"] if d["name"] == "old-root-disk")
    assert (old["size_gb"], old["status"], old["is_attached"], old["vm_id"]) == (100, "ready", False, None)
    assert Sandbox(clock=SimClock(speed=0, start=START)).vms.keys() == sb.vms.keys()  # deterministic ids


@pytest.mark.anyio
async def test_seeded_provisioning_vm_reaches_running(sb: Sandbox) -> None:
    etl = sb.vm_by_name("etl-2")
    async with client(sb) as c:
        sb.clock.advance(2)
        assert await status_of(c, etl.id) == "starting"
        sb.clock.advance(2)
        vm = (await c.get(f"{P}/vms/{etl.id}")).json()
    assert vm["status"] == "running" and vm["public_ip"] and vm["message"] is None


@pytest.mark.anyio
async def test_pagination(sb: Sandbox) -> None:
    async with client(sb) as c:
        for bad in ("limit=0", "limit=101", "limit=abc", "page=0", "page=-1", "page=1.5"):
            r = await c.get(f"{P}/vms?{bad}")
            assert r.status_code == 400, bad
            assert r.json()["code"] == "invalid_request" and bad.split("=")[0] in r.json()["message"]
        r = (await c.get(f"{P}/vms")).json()
        assert r["pagination"] == {"total_items": 6, "total_pages": 1, "current_page": 1, "items_per_page": 20}
        pages = [(await c.get(f"{P}/vms", params={"limit": 4, "page": n})).json() for n in (1, 2, 3)]
    assert pages[0]["pagination"]["total_pages"] == 2
    assert [len(p["data"]) for p in pages] == [4, 2, 0]
    ids = [v["id"] for p in pages for v in p["data"]]
    assert ids == [v["id"] for v in r["data"]]  # stable order across pages
    assert pages[2]["pagination"]["current_page"] == 3


@pytest.mark.anyio
async def test_seed_bulk_1000(sb: Sandbox) -> None:
    added = sb.seed_bulk(1000)
    assert len(added) == 1000 and len(sb.root_disks) == 1007
    statuses = {v.status for v in added}
    assert statuses == {"running", "stopped", "failed"}
    async with client(sb) as c:
        first = (await c.get(f"{P}/vms", params={"limit": 100})).json()
        last = (await c.get(f"{P}/vms", params={"limit": 100, "page": 11})).json()
        default = (await c.get(f"{P}/vms")).json()
    assert first["pagination"] == {"total_items": 1006, "total_pages": 11, "current_page": 1, "items_per_page": 100}
    assert len(first["data"]) == 100 and len(last["data"]) == 6 and len(default["data"]) == 20
    assert schema_errors("VMListResponse", first) == []
    other = Sandbox(clock=SimClock(speed=0, start=START))
    assert [v.id for v in other.seed_bulk(1000)] == [v.id for v in added]


# -- lifecycle -------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_full_lifecycle(sb: Sandbox) -> None:
    async with client(sb) as c:
        r = await c.post(f"{P}/vms", json=create_body())
        assert r.status_code == 201 and schema_errors("VMResponse", r.json()) == []
        vm = r.json()
        assert (vm["status"], vm["public_ip"], vm["image_id"]) == ("pending", None, "ubuntu-24.04")
        assert vm["root_disk"]["size_gb"] == 30 and vm["root_disk"]["type"] == "filesystem"
        seen = [await status_of(c, vm["id"])]
        for step in (1, 3, 2):
            sb.clock.advance(step)
            seen.append(await status_of(c, vm["id"]))
        assert seen == ["pending", "provisioning", "starting", "running"]
        running = (await c.get(f"{P}/vms/{vm['id']}")).json()
        assert running["public_ip"].startswith("203.0.113.") and running["message"] is None

        async def act(action: str) -> httpx2.Response:
            return await c.post(f"{P}/vms/{vm['id']}/{action}")

        r = await act("start")
        assert (r.status_code, r.json()["status"]) == (202, "running")  # no effect
        r = await act("stop")
        assert (r.status_code, r.json()["status"]) == (202, "stopping") and r.json()["message"]
        r = await act("start")
        assert r.status_code == 400 and r.json()["code"] == "invalid_state"
        assert "stopping" in r.json()["message"] and "start" in r.json()["message"]
        sb.clock.advance(2)
        assert await status_of(c, vm["id"]) == "stopped"
        assert (await act("stop")).json()["status"] == "stopped"  # no effect
        assert (await act("restart")).json()["status"] == "stopped"  # "no effect if not running"
        assert (await act("start")).json()["status"] == "starting"
        sb.clock.advance(2)
        assert (await act("restart")).json()["status"] == "restarting"
        assert (await act("stop")).status_code == 400
        sb.clock.advance(3)
        assert await status_of(c, vm["id"]) == "running"

        r = await c.delete(f"{P}/vms/{vm['id']}")
        assert (r.status_code, r.content) == (202, b"")
        assert await status_of(c, vm["id"]) == "deleting"
        r = await c.delete(f"{P}/vms/{vm['id']}")
        assert (r.status_code, r.json()["code"]) == (400, "already_deleting")
        sb.clock.advance(3)
        assert (await c.get(f"{P}/vms/{vm['id']}")).status_code == 404
        assert vm["id"] not in sb.vms


@pytest.mark.anyio
async def test_failed_vm_rejects_actions_but_can_be_deleted(sb: Sandbox) -> None:
    batch = sb.vm_by_name("batch-7")
    async with client(sb) as c:
        for action in ("start", "stop", "restart"):
            r = await c.post(f"{P}/vms/{batch.id}/{action}")
            assert r.status_code == 400 and "batch-7 is failed" in r.json()["message"]
        assert (await c.delete(f"{P}/vms/{batch.id}")).status_code == 202


@pytest.mark.anyio
@pytest.mark.parametrize("delete_root_disk", [True, False])
async def test_root_disk_fate_on_vm_delete(sb: Sandbox, delete_root_disk: bool) -> None:
    async with client(sb) as c:
        vm = (await c.post(f"{P}/vms", json=create_body(delete_root_disk=delete_root_disk))).json()
        disk_id = vm["root_disk"]["id"]
        disk = (await c.get(f"{P}/root_disks/{disk_id}")).json()
        assert schema_errors("RootDiskVolumeResponse", disk) == []
        assert (disk["status"], disk["is_attached"], disk["vm_id"]) == ("provisioning", True, vm["id"])
        sb.clock.advance(6)
        assert (await c.get(f"{P}/root_disks/{disk_id}")).json()["status"] == "ready"
        await c.delete(f"{P}/vms/{vm['id']}")
        sb.clock.advance(3)
        r = await c.get(f"{P}/root_disks/{disk_id}")
        if delete_root_disk:
            assert (r.json()["status"], r.json()["is_attached"]) == ("deleting", False)
            sb.clock.advance(2)
            assert (await c.get(f"{P}/root_disks/{disk_id}")).status_code == 404
        else:
            assert (r.json()["status"], r.json()["is_attached"], r.json()["vm_id"]) == ("ready", False, None)
            listed = (await c.get(f"{P}/root_disks")).json()["data"]
            assert disk_id in [d["id"] for d in listed]


@pytest.mark.anyio
async def test_attach_and_delete_root_disks(sb: Sandbox) -> None:
    old = next(d for d in sb.root_disks.values() if d.name == "old-root-disk")
    web = sb.vm_by_name("web-1")
    attach = {"attach_disk_request": {"disk_id": old.id}}
    async with client(sb) as c:
        r = await c.delete(f"{P}/root_disks/{web.root_disk_id}")
        assert (r.status_code, r.json()["code"]) == (409, "disk_attached")
        assert "web-1" in r.json()["message"] and web.id in r.json()["message"]
        r = await c.post(f"{P}/vms", json=create_body("reuse", root_disk={
            "attach_disk_request": {"disk_id": web.root_disk_id}}))
        assert (r.status_code, r.json()["code"]) == (409, "disk_attached")
        r = await c.post(f"{P}/vms", json=create_body("ghost", root_disk={
            "attach_disk_request": {"disk_id": "00000000-0000-4000-8000-000000000000"}}))
        assert (r.status_code, r.json()["code"]) == (404, "not_found")
        r = await c.post(f"{P}/vms", json=create_body("reuse", root_disk=attach, delete_root_disk=True))
        assert r.status_code == 201
        vm = r.json()
        assert (vm["image_id"], vm["root_disk"]["id"], vm["delete_root_disk"]) == ("ubuntu-22.04", old.id, False)
        assert (await c.get(f"{P}/root_disks/{old.id}")).json()["vm_id"] == vm["id"]
        await c.delete(f"{P}/vms/{vm['id']}")
        sb.clock.advance(3)
        r = await c.delete(f"{P}/root_disks/{old.id}")  # detached again (attached disks are never deleted)
        assert r.status_code == 202 and r.content == b""
        assert (await c.get(f"{P}/root_disks/{old.id}")).json()["status"] == "deleting"
        assert (await c.delete(f"{P}/root_disks/{old.id}")).json()["code"] == "already_deleting"
        sb.clock.advance(2)
        assert (await c.get(f"{P}/root_disks/{old.id}")).status_code == 404


@pytest.mark.anyio
async def test_data_disks_in_response(sb: Sandbox) -> None:
    attached = "3f2c1d9e-0000-4000-8000-000000000001"
    body = create_body(data_disks={"create_disks": [{"name": "scratch", "type": "block", "size_gb": 10}],
                                   "attached_disks": [{"disk_id": attached}]},
                       exposed_ports=[{"port": 80, "protocol": "tcp"}, {"port": 80, "protocol": "udp"}])
    async with client(sb) as c:
        vm = (await c.post(f"{P}/vms", json=body)).json()
    assert [d["name"] for d in vm["data_disks"]] == ["scratch", "data-3f2c1d9e"]
    assert vm["data_disks"][1]["size_gb"] == 100 and len(vm["exposed_ports"]) == 2


# -- validation -----------------------------------------------------------------------------------------
INVALID_BODIES = [
    (create_body("Bad_Name"), "name"),
    (create_body(root_disk={"create_disk_request": {"name": "r", "size_gb": 19, "image_id": "ubuntu-24.04"}}),
     "size_gb"),
    (create_body(exposed_ports=[{"port": 22, "protocol": "tcp"}]), "port 22"),
    (create_body(exposed_ports=[{"port": 80, "protocol": "tcp"}] * 2), "duplicate"),
    (create_body(root_disk={}), "exactly one"),
    (create_body(root_disk={"attach_disk_request": {"disk_id": "0a13f2cf-48d4-596c-88f8-4d23390235b7"},
                            "create_disk_request": {"name": "r", "size_gb": 20, "image_id": "debian-12"}}),
     "exactly one"),
    (create_body(vm_config_id=""), "vm_config_id"),
    ({k: v for k, v in create_body().items() if k != "plan_id"}, "plan_id"),
    ([1, 2], "JSON object"),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("body", "needle"), INVALID_BODIES)
async def test_create_validation(sb: Sandbox, body: Any, needle: str) -> None:
    async with client(sb) as c:
        r = await c.post(f"{P}/vms", json=body)
    assert r.status_code == 400 and r.json()["code"] == "invalid_request"
    assert needle in r.json()["message"]
    assert len(sb.vms) == 6


@pytest.mark.anyio
async def test_create_catalog_and_body_errors(sb: Sandbox) -> None:
    async with client(sb) as c:
        r = await c.post(f"{P}/vms", json=create_body(region_id="us-east-1"))
        assert r.status_code == 404 and "in-mum-1" in r.json()["message"] and "us-east-1" in r.json()["message"]
        r = await c.post(f"{P}/vms", json=create_body(root_disk={
            "create_disk_request": {"name": "r", "size_gb": 20, "image_id": "windows"}}))
        assert r.status_code == 404 and "ubuntu-24.04" in r.json()["message"]
        r = await c.post(f"{P}/vms", content=b"{not json", headers={**AUTH, "content-type": "application/json"})
        assert r.status_code == 400 and "JSON" in r.json()["message"]
    assert sb.requests[-1].body == "{not json"


# -- faults ---------------------------------------------------------------------------------------------
@pytest.mark.anyio
async def test_fault_status_with_retry_after(sb: Sandbox) -> None:
    sb.add_faults(Fault("status", status=503, retry_after=0.5, method="GET", path_regex=r"/vms$"))
    async with client(sb) as c:
        assert (await c.get(f"{P}/root_disks")).status_code == 200  # not matched, fault kept
        r = await c.get(f"{P}/vms")
        assert r.status_code == 503 and r.headers["retry-after"] == "0.5"
        assert r.json()["code"] == "service_unavailable"
        assert (await c.get(f"{P}/vms")).status_code == 200  # count=1 consumed
    assert [q.fault for q in sb.requests] == [None, "status", None]
    assert sb.faults == []


@pytest.mark.anyio
async def test_fault_malformed_and_non_json(sb: Sandbox) -> None:
    sb.add_faults(Fault("malformed"), Fault("non_json", status=502))
    async with client(sb) as c:
        r = await c.get(f"{P}/vms")
        assert r.status_code == 200 and r.headers["content-type"] == "application/json"
        with pytest.raises(json.JSONDecodeError):
            r.json()
        r = await c.get(f"{P}/vms")
        assert r.status_code == 502 and r.headers["content-type"].startswith("text/html") and "<html>" in r.text


@pytest.mark.anyio
async def test_fault_drop_and_forever(sb: Sandbox) -> None:
    sb.add_faults(Fault("drop", count=-1, method="POST"))
    async with client(sb) as c:
        for _ in range(2):
            with pytest.raises(httpx2.RemoteProtocolError):
                await c.post(f"{P}/vms", json=create_body())
        assert (await c.get(f"{P}/vms")).status_code == 200
    assert [(q.status, q.fault) for q in sb.requests] == [(0, "drop"), (0, "drop"), (200, None)]
    assert len(sb.vms) == 6 and sb.faults[0].count == -1  # "before": nothing was created
    sb.clear_faults()
    assert sb.faults == []


@pytest.mark.anyio
async def test_fault_when_after_applies_mutation(sb: Sandbox) -> None:
    web = sb.vm_by_name("web-1")
    sb.add_faults(Fault("status", status=504, when="after", path_regex="/stop$"),
                  Fault("drop", when="after", method="POST", path_regex="/vms$"))
    async with client(sb) as c:
        assert (await c.post(f"{P}/vms/{web.id}/stop")).status_code == 504
        assert await status_of(c, web.id) == "stopping"
        with pytest.raises(httpx2.RemoteProtocolError):
            await c.post(f"{P}/vms", json=create_body("lost-reply"))
    assert "lost-reply" in {v.name for v in sb.vms.values()}


@pytest.mark.anyio
async def test_fault_slow_and_client_timeout(sb: Sandbox) -> None:
    sb.add_faults(Fault("slow", delay=0.05), Fault("slow", delay=2.0))
    async with client(sb, timeout=0.3) as c:
        began = time.monotonic()
        assert (await c.get(f"{P}/vms")).status_code == 200
        assert time.monotonic() - began >= 0.05
        with pytest.raises(httpx2.ReadTimeout):
            await c.get(f"{P}/vms")


def test_faults_from_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEEV_SANDBOX_FAULTS", json.dumps([{"kind": "status", "status": 429, "count": 2}]))
    monkeypatch.setenv("NEEV_SANDBOX_SPEED", "0")
    sandbox = Sandbox()
    assert [(f.kind, f.status, f.count) for f in sandbox.faults] == [("status", 429, 2)]
    assert sandbox.clock.speed == 0
    with pytest.raises(ValueError, match="unknown fault kind"):
        Fault("explode")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown fault field"):
        Fault.from_dict({"kind": "drop", "probability": 0.5})


# -- recording and admin API ----------------------------------------------------------------------------
@pytest.mark.anyio
async def test_request_recording(sb: Sandbox) -> None:
    async with client(sb) as c:
        await c.get(f"{P}/vms", params={"limit": 5})
        await c.post(f"{P}/vms", json=create_body())
    first, second = sb.requests
    assert (first.method, first.path, first.query, first.body) == ("GET", f"/vm{P}/vms", {"limit": "5"}, None)
    assert first.headers["authorization"] == redact_authorization(f"Bearer {DEFAULT_TOKEN}") and first.status == 200
    assert (second.method, second.body["name"], second.status, second.fault) == ("POST", "new-1", 201, None)
    with pytest.raises(AttributeError):
        first.status = 500  # type: ignore[misc]
    sb.clear_requests()
    assert sb.requests == []


@pytest.mark.anyio
async def test_admin_api(sb: Sandbox) -> None:
    async with httpx2.AsyncClient(transport=sb.transport(), base_url="http://sandbox") as admin:
        health = (await admin.get("/_sandbox/healthz")).json()
        assert health["ok"] is True and health["now"] == "2026-01-01T00:00:00Z"
        r = await admin.post("/_sandbox/faults", json=[{"kind": "status", "status": 500}])
        assert r.json()["added"] == 1
        assert (await admin.post("/_sandbox/faults", json=[{"kind": "bogus"}])).status_code == 400
        r = await admin.get("/vm" + P + "/vms", headers=AUTH)
        assert r.status_code == 500
        recorded = (await admin.get("/_sandbox/requests")).json()
        assert len(recorded) == 1
        assert recorded[0]["headers"]["authorization"] == redact_authorization(f"Bearer {DEFAULT_TOKEN}")
        assert recorded[0]["fault"] == "status"
        r = await admin.post("/_sandbox/clock/advance", json={"seconds": 4})
        assert r.json()["now"] == "2026-01-01T00:00:04Z"
        assert sb.vm_by_name("etl-2").status == "running"
        assert (await admin.post("/_sandbox/clock/advance", json={"seconds": -1})).status_code == 400
        await admin.post("/_sandbox/faults", json={"kind": "drop"})
        assert (await admin.post("/_sandbox/reset")).json() == {"ok": True}
        assert (await admin.get("/_sandbox/requests")).json() == [] and sb.faults == []


def test_sim_clock() -> None:
    clock = SimClock(speed=0, start=datetime(2026, 1, 1))
    assert clock.now() == START and clock.now().tzinfo is not None
    assert clock.advance(1.5) == clock.now() and clock.elapsed() == 1.5
    with pytest.raises(ValueError):
        clock.advance(-1)
    fast = SimClock(speed=1000)
    first = fast.now()
    time.sleep(0.01)
    assert (fast.now() - first).total_seconds() >= 5
    fast.speed = 0
    assert fast.now() == fast.now()


# -- real HTTP ------------------------------------------------------------------------------------------
def test_cli_refuses_remote_host(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--host", "0.0.0.0", "--port", "0"]) == 2
    assert "--allow-remote" in capsys.readouterr().err


@pytest.mark.slow
def test_over_real_http_drop_and_admin() -> None:
    sandbox = Sandbox(clock=SimClock(speed=0, start=START))
    sock = _bind("127.0.0.1", 0)
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(sandbox.app, log_level="critical", lifespan="off"))
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 5
        while not server.started and time.monotonic() < deadline:
            time.sleep(0.01)
        with httpx2.Client(base_url=f"http://127.0.0.1:{port}") as http:
            http.post("/_sandbox/faults", json=[{"kind": "drop"}])
            with pytest.raises(httpx2.RemoteProtocolError):
                http.get(f"/vm{P}/vms", headers=AUTH)
            r = http.get(f"/vm{P}/vms", headers=AUTH)
            assert r.status_code == 200 and r.json()["pagination"]["total_items"] == 6
            recorded = http.get("/_sandbox/requests").json()
        assert [q["fault"] for q in recorded] == ["drop", None]
    finally:
        server.should_exit = True
        thread.join(timeout=5)
        sock.close()


# -- scale: bulk seeding, capacity model (issue 17) -------------------------------------------------------------
@pytest.mark.anyio
async def test_bulk_seeding_through_the_admin_api_fills_another_project(sb: Sandbox) -> None:
    async with httpx2.AsyncClient(transport=sb.transport(), base_url="http://sandbox") as admin:
        r = await admin.post("/_sandbox/bulk", json={"count": 250, "org_id": "big", "project_id": "fleet"})
        assert r.json() == {"added": 250, "org_id": "big", "project_id": "fleet"}
        assert (await admin.post("/_sandbox/bulk", json={"count": -1})).status_code == 400
        assert (await admin.post("/_sandbox/bulk", json={})).status_code == 400
    async with client(sb) as c:
        page = (await c.get("/api/v1/orgs/big/projects/fleet/vms", params={"page": 3, "limit": 100})).json()
    assert page["pagination"] == {"total_items": 250, "total_pages": 3, "current_page": 3, "items_per_page": 100}
    assert [v["name"] for v in page["data"]][:2] == ["bulk-0201", "bulk-0202"]


@pytest.mark.anyio
async def test_a_parallel_limit_answers_429_with_retry_after_beyond_it(sb: Sandbox) -> None:
    async with httpx2.AsyncClient(transport=sb.transport(), base_url="http://sandbox") as admin:
        assert (await admin.post("/_sandbox/capacity", json={"max_parallel": -2})).status_code == 400
        assert (await admin.post("/_sandbox/capacity", json={"speed": 2})).status_code == 400
        r = await admin.post("/_sandbox/capacity", json={"latency": 0.2, "max_parallel": 2, "retry_after": 0.5})
        assert r.json()["max_parallel"] == 2
    answers: list[httpx2.Response] = []
    async with client(sb) as c:

        async def get() -> None:
            answers.append(await c.get(f"{P}/vms"))

        started = time.monotonic()
        async with anyio.create_task_group() as tg:
            for _ in range(3):
                tg.start_soon(get)
        assert time.monotonic() - started >= 0.2  # the admitted requests waited for the modelled latency
    assert sorted(a.status_code for a in answers) == [200, 200, 429]
    refused = next(a for a in answers if a.status_code == 429)
    assert refused.headers["retry-after"] == "0.5" and refused.json()["code"] == "rate_limited"
    assert sb.gatekeeper.stats()["peak"] == 2 and sb.gatekeeper.stats()["refused"] == 1


@pytest.mark.anyio
async def test_listings_follow_creates_and_completed_deletes(sb: Sandbox) -> None:
    async with client(sb) as c:
        before = (await c.get(f"{P}/vms")).json()["pagination"]["total_items"]
        created = (await c.post(f"{P}/vms", json=create_body("fresh-1"))).json()
        names = [v["name"] for v in (await c.get(f"{P}/vms", params={"limit": 100})).json()["data"]]
        assert names[-1] == "fresh-1" and len(names) == before + 1
        sb.clock.advance(10)
        assert await status_of(c, created["id"]) == "running"
        assert (await c.delete(f"{P}/vms/{created['id']}")).status_code == 202
        sb.clock.advance(10)
        names = [v["name"] for v in (await c.get(f"{P}/vms", params={"limit": 100})).json()["data"]]
    assert "fresh-1" not in names and len(names) == before


def test_the_sandbox_command_line_takes_latency_and_a_parallel_limit(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--port", "0", "--max-parallel", "-1"]) == 2
    assert "max_parallel must be a whole number" in capsys.readouterr().err
    assert main(["--port", "0", "--latency", "120"]) == 2
    assert "latency must be between 0 and 60 seconds" in capsys.readouterr().err
