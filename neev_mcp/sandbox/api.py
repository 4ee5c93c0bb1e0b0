"""The VM Service endpoints as a pure function of (state, request) → reply.

Kept free of ASGI details so fault handling and recording (app.py) wrap every endpoint uniformly.
"""

from __future__ import annotations

import hmac
import json
import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .models import ApiError
from .state import CloudState
from .validation import parse_paging, parse_uuid

_PROJECT = r"^/api/v1/orgs/(?P<org>[^/]+)/projects/(?P<project>[^/]+)"
UNAUTHORIZED = ApiError(401, "unauthorized", "missing or invalid bearer token", {"www-authenticate": "Bearer"})


@dataclass
class Reply:
    status: int
    payload: Any = None  # JSON-able body, or None for an empty body
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Call:
    """One API request, already read off the wire."""

    method: str
    path: str  # path after base_path
    query: Mapping[str, str]
    body: bytes
    params: dict[str, str] = field(default_factory=dict)

    def json(self) -> Any:
        if not self.body.strip():
            raise ApiError(400, "invalid_request", "request body is required (JSON object)")
        try:
            return json.loads(self.body)
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ApiError(400, "invalid_request", f"request body is not valid JSON: {exc}") from None


def _page(items: list[Any], query: Mapping[str, str], render: Callable[[Any], Any]) -> Reply:
    """Paginate; ``total_pages`` is at least 1 even when empty, and a page past the end is empty."""
    page, limit = parse_paging(query)
    total = len(items)
    start = (page - 1) * limit
    return Reply(200, {
        "data": [render(x) for x in items[start:start + limit]],
        "pagination": {"total_items": total, "total_pages": max(1, math.ceil(total / limit)),
                       "current_page": page, "items_per_page": limit},
    })


def _list_vms(st: CloudState, c: Call) -> Reply:
    return _page(st.list_vms(c.params["org"], c.params["project"]), c.query, st.vm_json)


def _create_vm(st: CloudState, c: Call) -> Reply:
    return Reply(201, st.vm_json(st.create_vm(c.params["org"], c.params["project"], c.json())))


def _get_vm(st: CloudState, c: Call) -> Reply:
    vm_id = parse_uuid(c.params["vm_id"], "vm_id")
    return Reply(200, st.vm_json(st.get_vm(c.params["org"], c.params["project"], vm_id)))


def _delete_vm(st: CloudState, c: Call) -> Reply:
    st.delete_vm(c.params["org"], c.params["project"], parse_uuid(c.params["vm_id"], "vm_id"))
    return Reply(202)


def _vm_action(st: CloudState, c: Call) -> Reply:
    vm_id = parse_uuid(c.params["vm_id"], "vm_id")
    return Reply(202, st.vm_json(st.vm_action(c.params["org"], c.params["project"], vm_id, c.params["action"])))


def _list_disks(st: CloudState, c: Call) -> Reply:
    return _page(st.list_disks(c.params["org"], c.params["project"]), c.query, lambda d: d.to_json())


def _get_disk(st: CloudState, c: Call) -> Reply:
    disk_id = parse_uuid(c.params["disk_id"], "root_disk_id")
    return Reply(200, st.get_disk(c.params["org"], c.params["project"], disk_id).to_json())


def _delete_disk(st: CloudState, c: Call) -> Reply:
    st.delete_disk(c.params["org"], c.params["project"], parse_uuid(c.params["disk_id"], "root_disk_id"))
    return Reply(202)


Handler = Callable[[CloudState, Call], Reply]
ROUTES: tuple[tuple[re.Pattern[str], dict[str, Handler]], ...] = (
    (re.compile(_PROJECT + r"/vms$"), {"GET": _list_vms, "POST": _create_vm}),
    (re.compile(_PROJECT + r"/vms/(?P<vm_id>[^/]+)$"), {"GET": _get_vm, "DELETE": _delete_vm}),
    (re.compile(_PROJECT + r"/vms/(?P<vm_id>[^/]+)/(?P<action>start|stop|restart)$"), {"POST": _vm_action}),
    (re.compile(_PROJECT + r"/root_disks$"), {"GET": _list_disks}),
    (re.compile(_PROJECT + r"/root_disks/(?P<disk_id>[^/]+)$"), {"GET": _get_disk, "DELETE": _delete_disk}),
)


def authorized(headers: Mapping[str, str], token: str | tuple[str, ...]) -> bool:
    """The request carries one of the accepted bearer tokens (several: tenants sharing one project, for tests)."""
    scheme, _, value = headers.get("authorization", "").strip().partition(" ")
    presented = value.strip().encode()
    accepted = (token,) if isinstance(token, str) else token
    matches = [hmac.compare_digest(presented, t.encode()) for t in accepted]  # all compared: constant time
    return scheme.lower() == "bearer" and any(matches)


def handle(state: CloudState, token: str | tuple[str, ...], call: Call, headers: Mapping[str, str]) -> Reply:
    """Auth → route → project scope → endpoint. Lifecycles are settled first so every answer is current."""
    try:
        if not authorized(headers, token):
            raise UNAUTHORIZED
        for pattern, methods in ROUTES:
            match = pattern.match(call.path)
            if match is None:
                continue
            handler = methods.get(call.method.upper())
            if handler is None:
                raise ApiError(405, "method_not_allowed", f"{call.method} is not allowed on {call.path}",
                               {"allow": ", ".join(methods)})
            call.params = match.groupdict()
            state.settle()
            state.require_project(call.params["org"], call.params["project"])
            return handler(state, call)
        raise ApiError(404, "not_found", f"no API route for {call.method} {call.path}")
    except ApiError as err:
        return Reply(err.status, err.body(), dict(err.headers))
