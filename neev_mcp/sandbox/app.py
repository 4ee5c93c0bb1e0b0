"""ASGI wiring: the API under base_path (with faults and recording) and the admin API under /_sandbox."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import Receive, Scope, Send

from . import api
from .capacity import Capacity
from .faults import Fault, parse_faults
from .models import iso
from .recording import RecordedRequest, parse_body, recorded_headers

if TYPE_CHECKING:
    from .sandbox import Sandbox

_JSON = "application/json"
_REACHES_SERVICE_BEFORE = ("slow", "malformed")  # kinds that still let a "before" request be processed


class ConnectionDropped(Exception):
    """Raised by the app after starting a response to abort the connection (``drop`` fault).

    Under uvicorn this closes the socket mid-response; the in-process transport turns it into
    ``httpx2.RemoteProtocolError``. Either way the client sees a dropped connection.
    """


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode()


def _render(reply: api.Reply | None, fault: Fault | None) -> tuple[int, bytes, dict[str, str]]:
    """Status, body and headers actually sent, after applying the fault (if any)."""
    headers: dict[str, str] = {}
    if fault is not None and fault.retry_after is not None:
        headers["retry-after"] = f"{fault.retry_after:g}"  # decimals allowed so tests can stay fast
    if fault is not None and fault.kind == "status":
        return fault.status, _dumps(fault.error_body()), {**headers, "content-type": _JSON}
    if fault is not None and fault.kind == "non_json":
        return fault.status, fault.html_body().encode(), {**headers, "content-type": "text/html; charset=utf-8"}
    kind = fault.kind if fault else None
    if reply is None:  # a drop before the service: the client will never see these bytes anyway
        return 502, b"", headers
    body = b"" if reply.payload is None else _dumps(reply.payload)
    headers.update(reply.headers)
    if body or kind == "malformed":
        headers["content-type"] = _JSON
    if kind == "malformed":
        body = body[: max(1, len(body) // 2)] if body else b'{"data": ['
    return reply.status, body, headers


class ApiApp:
    """Raw ASGI app for the VM Service routes; raw so that a ``drop`` fault can abort mid-response."""

    def __init__(self, sandbox: Sandbox) -> None:
        self.sb = sandbox

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request = Request(scope, receive)
        raw = await request.body()
        full_path: str = scope["path"]
        base = self.sb.base_path
        sub = full_path[len(base):] if base and full_path.startswith(base) else full_path
        method: str = scope["method"].upper()
        headers = {k.lower(): v for k, v in request.headers.items()}
        query = dict(request.query_params)

        fault = self.sb.take_fault(method, sub)
        refused = self.sb.gatekeeper.admit() if fault is None else None
        fault = fault or refused
        try:
            reply = await self._answer(fault, api.Call(method, sub, query, raw), headers)
        finally:
            if fault is None:
                self.sb.gatekeeper.release()

        status, body, out_headers = _render(reply, fault)
        dropped = fault is not None and fault.kind == "drop"
        number = self.sb.record(RecordedRequest(
            method=method, path=full_path, query=query, body=parse_body(raw), headers=recorded_headers(headers),
            status=0 if dropped else status, fault=fault.kind if fault else None,
        ))
        out_headers["x-request-id"] = f"sbx-{number:06d}"
        out_headers["content-length"] = str(len(body) + (1 if dropped else 0))  # drop: promise more than we send
        await send({"type": "http.response.start", "status": status,
                    "headers": [(k.encode(), v.encode()) for k, v in out_headers.items()]})
        if dropped:
            raise ConnectionDropped(f"sandbox drop fault on {method} {sub}")
        await send({"type": "http.response.body", "body": body})

    async def _answer(self, fault: Fault | None, call: api.Call, headers: dict[str, str]) -> api.Reply | None:
        """The service's reply (None when a fault keeps the request from it), with the modelled latency."""
        if fault is None and self.sb.gatekeeper.capacity.latency:
            await anyio.sleep(self.sb.gatekeeper.capacity.latency)
        if fault and fault.kind == "slow" and fault.when == "before":
            await anyio.sleep(fault.delay)
        reply: api.Reply | None = None
        if fault is None or fault.when == "after" or fault.kind in _REACHES_SERVICE_BEFORE:
            reply = self.sb.handle(call, headers)
        if fault and fault.kind == "slow" and fault.when == "after":
            await anyio.sleep(fault.delay)
        return reply


def _admin_routes(sb: Sandbox) -> list[Route]:
    """Control surface for tests that run the sandbox in another process. No auth: loopback only, and over HTTP
    behind the Host/Origin guard (guard.py)."""

    async def requests(_: Request) -> Response:
        return JSONResponse([r.to_dict() for r in sb.requests])

    async def reset(_: Request) -> Response:
        sb.clear_requests()
        sb.clear_faults()
        return JSONResponse({"ok": True})

    async def faults(request: Request) -> Response:
        if request.method == "GET":
            return JSONResponse([f.to_dict() for f in sb.faults])
        try:
            added = parse_faults((await request.body()).decode() or "[]")
        except (ValueError, TypeError) as exc:
            return JSONResponse({"code": "invalid_request", "message": str(exc)}, status_code=400)
        sb.add_faults(*added)
        return JSONResponse({"added": len(added), "active": [f.to_dict() for f in sb.faults]})

    async def advance(request: Request) -> Response:
        try:
            seconds = float((json.loads(await request.body() or b"{}") or {}).get("seconds", 0))
            now = sb.clock.advance(seconds)
        except (ValueError, TypeError, AttributeError) as exc:
            return JSONResponse({"code": "invalid_request", "message": f"expected {{\"seconds\": n >= 0}}: {exc}"},
                                status_code=400)
        return JSONResponse({"now": iso(now), "elapsed": sb.clock.elapsed()})

    async def healthz(_: Request) -> Response:
        return JSONResponse({"ok": True, "now": iso(sb.clock.now()), "base_path": sb.base_path,
                             "org_id": sb.org_id, "project_id": sb.project_id})

    return [
        Route("/_sandbox/requests", requests, methods=["GET"]),
        Route("/_sandbox/reset", reset, methods=["POST"]),
        Route("/_sandbox/faults", faults, methods=["GET", "POST"]),
        Route("/_sandbox/clock/advance", advance, methods=["POST"]),
        Route("/_sandbox/healthz", healthz, methods=["GET"]),
        *_scale_routes(sb),
    ]


def _scale_routes(sb: Sandbox) -> list[Route]:
    """For benchmarks: seed many VMs at once, and give the API latency and a parallel limit."""

    async def capacity(request: Request) -> Response:
        if request.method == "POST":
            try:
                sb.gatekeeper.capacity = Capacity.from_dict(json.loads(await request.body() or b"{}"))
            except (ValueError, TypeError) as exc:
                return JSONResponse({"code": "invalid_request", "message": str(exc)}, status_code=400)
            sb.gatekeeper.reset_stats()
        return JSONResponse(sb.gatekeeper.stats())

    async def bulk(request: Request) -> Response:
        try:
            body = json.loads(await request.body() or b"{}")
            count = int(body["count"])
            added = sb.seed_bulk(count, body.get("org_id"), body.get("project_id"))
        except (ValueError, TypeError, KeyError, AttributeError) as exc:
            return JSONResponse({"code": "invalid_request", "message": f'expected {{"count": n >= 0, "org_id"?, '
                                 f'"project_id"?}}: {exc}'}, status_code=400)
        return JSONResponse({"added": len(added), "org_id": body.get("org_id") or sb.org_id,
                             "project_id": body.get("project_id") or sb.project_id})

    return [
        Route("/_sandbox/capacity", capacity, methods=["GET", "POST"]),
        Route("/_sandbox/bulk", bulk, methods=["POST"]),
    ]


def build_app(sb: Sandbox) -> Starlette:
    """Admin routes first so an empty base_path cannot shadow them."""
    return Starlette(routes=[*_admin_routes(sb), Mount(sb.base_path, app=ApiApp(sb))])
