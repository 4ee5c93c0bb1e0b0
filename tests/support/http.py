"""Real processes for the HTTP tests: a sandbox served over HTTP and `neev-mcp --transport http` servers on it.

Every process is started with its stderr in a temporary file (a full pipe would stall it) and is always stopped by
the fixture that started it. Readiness is a poll of `/healthz` (or `/_sandbox/healthz`).
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx2
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

from neev_mcp.sandbox import DEFAULT_TOKEN

ORG, PROJECT = "demo-org", "demo-project"
SHARED_SECRET = "replica-shared-secret-for-tests-0123456789"
AUTH_TOKEN = "inbound-static-token-0123456789abcdef"
# seeded sandbox VMs (ids are deterministic)
VM_IDS = {
    "web-1": "212fb4e5-9ad5-50ed-b263-804d559666e3",
    "db-1": "151a27a5-c0d5-5853-838b-f5945314cbbd",
    "train-gpu-1": "f676f6db-740a-552a-b411-81ddeba55eb7",
    "api-staging": "3624fa82-6b5c-583b-bb03-9655444743af",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Proc:
    """A child process we started, with its stderr captured in a file we can read after it stops."""

    name: str
    popen: subprocess.Popen[bytes]
    log: Any
    port: int
    stopped: bool = field(default=False)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stderr(self) -> str:
        self.log.flush()
        self.log.seek(0)
        return self.log.read().decode(errors="replace")

    def stop(self) -> None:
        if self.stopped:
            return
        self.stopped = True
        stop_process(self.popen, signal.SIGINT)
        self.log.close()


def stop_process(popen: subprocess.Popen[bytes], sig: int, grace: float = 5.0) -> None:
    """Ask a child we started to stop with `sig`; kill it if it has not exited after `grace` seconds."""
    if popen.poll() is None:
        popen.send_signal(sig)
        try:
            popen.wait(timeout=grace)
        except subprocess.TimeoutExpired:
            popen.kill()
            popen.wait(timeout=5)


def spawn(name: str, args: list[str], env: Mapping[str, str], port: int) -> Proc:
    log = tempfile.TemporaryFile()  # noqa: SIM115 - lives as long as the process; closed by Proc.stop
    popen = subprocess.Popen(
        [sys.executable, *args], env=dict(env), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=log
    )
    return Proc(name, popen, log, port)


def base_env() -> dict[str, str]:
    """The parent's environment without any NeevCloud / neev-mcp setting that could leak into a child."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NEEV_", "COVERAGE"))}
    env["PYTHONUNBUFFERED"] = "1"
    return env


def spawn_sandbox(*flags: str) -> Proc:
    port = free_port()
    return spawn("sandbox", ["-m", "neev_mcp.sandbox", "--port", str(port), "--speed", "0", *flags], base_env(), port)


def spawn_server(sandbox: Proc, *flags: str, port: int | None = None, **env: str) -> Proc:
    """`python -m neev_mcp --transport http` on the HTTP sandbox; keyword arguments are NEEV_* variables."""
    port = port or free_port()
    values = base_env()
    values.update(
        {
            "NEEV_API_BASE_URL": f"{sandbox.url}/vm",
            "NEEV_API_TOKEN": DEFAULT_TOKEN,
            "NEEV_ORG_ID": ORG,
            "NEEV_PROJECT_ID": PROJECT,
            "NEEV_MAX_ATTEMPTS": "1",
        }
    )
    for key, value in env.items():
        if value == "":
            values.pop(key, None)  # "" means: leave this variable unset
        else:
            values[key] = value
    return spawn("server", ["-m", "neev_mcp", "--transport", "http", "--port", str(port), *flags], values, port)


def wait_ready(*procs: Proc, timeout: float = 60.0) -> None:  # generous: CI machines are shared
    """Poll each process's health endpoint until it answers 200; fail with its stderr if it dies or hangs."""
    deadline = time.monotonic() + timeout
    for proc in procs:
        path = "/_sandbox/healthz" if proc.name == "sandbox" else "/healthz"
        while True:
            if proc.popen.poll() is not None:
                raise AssertionError(f"{proc.name} exited with {proc.popen.returncode}:\n{proc.stderr()}")
            try:
                if httpx2.get(proc.url + path, timeout=1.0).status_code == 200:
                    break
            except httpx2.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise AssertionError(f"{proc.name} not ready after {timeout} s:\n{proc.stderr()}")
            time.sleep(0.05)


def sandbox_requests(sandbox: Proc, method: str | None = None) -> list[dict[str, Any]]:
    """What reached the simulated NeevCloud, in order (optionally one HTTP method)."""
    records = httpx2.get(sandbox.url + "/_sandbox/requests", timeout=5.0).json()
    return [r for r in records if method is None or r["method"] == method]


def vm_path(vm_id: str) -> str:
    return f"/vm/api/v1/orgs/{ORG}/projects/{PROJECT}/vms/{vm_id}"


@contextmanager
def running_stack(
    servers: Mapping[str, tuple[tuple[str, ...], Mapping[str, str]]], timeout: float = 60.0
) -> Iterator[dict[str, Proc]]:
    """A sandbox plus one server per entry (name → (flags, env)), all ready within `timeout` seconds; every process
    is stopped on exit."""
    procs: dict[str, Proc] = {}
    try:
        procs["sandbox"] = spawn_sandbox()
        wait_ready(procs["sandbox"], timeout=timeout)
        for name, (flags, env) in servers.items():
            procs[name] = spawn_server(procs["sandbox"], *flags, **env)
        wait_ready(*procs.values(), timeout=timeout)
        yield procs
    finally:
        for proc in procs.values():
            proc.stop()


def reset(sandbox: Proc) -> Proc:
    """Forget the recorded requests and faults of the shared sandbox, for the next test."""
    httpx2.post(sandbox.url + "/_sandbox/reset", timeout=5.0).raise_for_status()
    return sandbox


@asynccontextmanager
async def connect(
    url: str,
    transport: httpx2.AsyncBaseTransport | None = None,
    **client_args: Any,
) -> AsyncIterator[Client]:
    """An MCP client on a server's `/mcp` over streamable HTTP (optionally through `transport`, e.g. a balancer)."""
    http = httpx2.AsyncClient(transport=transport, timeout=10.0)
    async with http, Client(streamable_http_client(url + "/mcp", http_client=http), **client_args) as client:
        yield client
