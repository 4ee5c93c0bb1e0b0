"""Shared fixtures: a frozen-clock sandbox, servers wired to it, and real MCP clients for both protocol eras.

Tests talk MCP through `mcp.Client` and assert on what reached the (simulated) NeevCloud via `sandbox.requests`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest
from mcp import Client

from neev_mcp.agent_tools import Limits
from neev_mcp.config import Settings
from neev_mcp.sandbox import DEFAULT_TOKEN, Sandbox, SimClock
from neev_mcp.server import NeevServer, build_server

pytest_plugins = ["tests.support.hygiene"]  # fails any test that lets the token or NEEV_MCP_SECRET out

BASE_URL = "http://sandbox.test/vm"
ORG, PROJECT = "demo-org", "demo-project"
START = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
# A valid create_vm call on the sandbox (arguments as a tool takes them; also exactly the spec body)
CREATE = {
    "name": "web-2",
    "region_id": "in-mum-1",
    "vm_config_id": "vcpu-4-ram-16",
    "plan_id": "hourly",
    "root_disk": {"create_disk_request": {"name": "web-2-root", "size_gb": 40, "image_id": "ubuntu-24.04"}},
    "exposed_ports": [{"port": 443, "protocol": "tcp"}],
    "delete_root_disk": True,
}


@pytest.fixture
def spans() -> Iterator[Any]:
    """Spans that ended during the test (an in-memory exporter on the suite's tracer provider)."""
    from .support.otel import exporter

    yield exporter()
    exporter()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def clock() -> SimClock:
    """Frozen simulated time: tests move it with `clock.advance(seconds)`."""
    return SimClock(speed=0, start=START)


@pytest.fixture
def sandbox(clock: SimClock) -> Sandbox:
    return Sandbox(token=DEFAULT_TOKEN, org_id=ORG, project_id=PROJECT, clock=clock)


MakeServer = Callable[..., NeevServer]


@pytest.fixture
def make_server(sandbox: Sandbox, clock: SimClock) -> MakeServer:
    """Build a server on the sandbox; keyword arguments override settings (e.g. read_only=True, org_id=None);
        `limits` sets the agent tools' bounds and poll timings."""

    def make(limits: Limits | None = None, **overrides: Any) -> NeevServer:
        values: dict[str, Any] = {
            "api_token": DEFAULT_TOKEN,
            "api_base_url": BASE_URL,
            "org_id": ORG,
            "project_id": PROJECT,
            "retry_backoff": 0.0,
            "mcp_secret": "test-secret-for-neev-mcp-0123456789abcdef",
        }
        values.update(overrides)
        settings = Settings(**values)
        return build_server(settings, http_transport=sandbox.transport(), now=clock.now, limits=limits)

    return make


@pytest.fixture
def server(make_server: MakeServer) -> NeevServer:
    return make_server()


@pytest.fixture
async def client(server: NeevServer) -> AsyncIterator[Client]:
    """A 2026-07-28 (modern) client, in process."""
    async with Client(server, raise_exceptions=True) as c:
        yield c


@pytest.fixture
async def legacy_client(server: NeevServer) -> AsyncIterator[Client]:
    """A handshake-era client (2025-11-25), in process, without elicitation."""
    async with Client(server, mode="legacy", raise_exceptions=True) as c:
        yield c


def api_requests(sandbox: Sandbox, method: str | None = None) -> list[Any]:
    """Recorded upstream requests, optionally only one HTTP method."""
    return [r for r in sandbox.requests if method is None or r.method == method]


def vm_path(vm_id: str = "", suffix: str = "") -> str:
    base = f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms"
    return f"{base}/{vm_id}{suffix}" if vm_id else base
