"""The Sandbox facade: one simulated NeevCloud VM Service, its clock, faults and request log."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import os
import threading
from collections import deque

from starlette.applications import Starlette

from . import api
from .app import build_app
from .capacity import Capacity, Gatekeeper
from .clock import SimClock
from .faults import Fault, FaultBook, parse_faults
from .models import VM, RootDisk
from .recording import RecordedRequest
from .seed import seed_bulk, seed_demo
from .state import CloudState
from .transport import SandboxTransport

SPEED_ENV = "NEEV_SANDBOX_SPEED"
FAULTS_ENV = "NEEV_SANDBOX_FAULTS"
LOG_SIZE_ENV = "NEEV_SANDBOX_LOG_SIZE"
DEFAULT_LOG_SIZE = 1000  # requests kept in the log: a long-running sandbox must not grow without bound


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_token(sub: str = "sandbox-user", exp: int = 4070908800) -> str:
    """A JWT-shaped token (HS256 over a public key: it proves nothing, it only looks right to clients)."""
    header = _b64url(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    claims = {"sub": sub, "iss": "neev-sandbox", "iat": 1767225600, "exp": exp}  # iat 2026-01-01, exp 2099-01-01
    payload = _b64url(json.dumps(claims, separators=(",", ":")).encode())
    signature = _b64url(hmac.new(b"neev-sandbox", f"{header}.{payload}".encode(), hashlib.sha256).digest())
    return f"{header}.{payload}.{signature}"


DEFAULT_TOKEN = make_token()


def _env_speed() -> float:
    raw = os.environ.get(SPEED_ENV, "").strip()
    if not raw:
        return 1.0
    try:
        speed = float(raw)
    except ValueError:
        speed = float("nan")
    if not math.isfinite(speed) or speed < 0:
        raise ValueError(f"{SPEED_ENV} must be a finite number >= 0 (simulated seconds per real second), got {raw!r}")
    return speed


def _env_log_size() -> int:
    raw = os.environ.get(LOG_SIZE_ENV, "").strip()
    if not raw:
        return DEFAULT_LOG_SIZE
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValueError(f"{LOG_SIZE_ENV} must be a whole number >= 1 (requests kept in the log), got {raw!r}")
    return int(raw)


class Sandbox:
    """A stateful fake of the NeevCloud VM Service, served as an ASGI app.

    State for tests: ``vms`` maps VM id → :class:`~neev_mcp.sandbox.models.VM` and ``root_disks`` maps
    disk id → :class:`~neev_mcp.sandbox.models.RootDisk`; both are settled to ``clock.now()`` on access
    and are live objects (treat them as read-only). Records disappear when their deletion completes.
    """

    def __init__(self, token: str = DEFAULT_TOKEN, org_id: str = "demo-org", project_id: str = "demo-project",
                 seed: bool = True, clock: SimClock | None = None, base_path: str = "/vm",
                 capacity: Capacity | None = None, extra_tokens: tuple[str, ...] = (),
                 log_size: int | None = None) -> None:
        if not token or not all(extra_tokens):
            raise ValueError("token must not be empty")
        self.token = token
        self.extra_tokens = extra_tokens  # also accepted: other tenants' tokens for the same project
        self.org_id = org_id
        self.project_id = project_id
        self.clock = clock if clock is not None else SimClock(speed=_env_speed())
        self.base_path = "/" + base_path.strip("/") if base_path.strip("/") else ""
        self.state = CloudState(self.clock)
        self.state.add_project(org_id, project_id)
        if seed:
            seed_demo(self.state, org_id, project_id)
        self._faults = FaultBook()
        if os.environ.get(FAULTS_ENV, "").strip():
            try:
                self._faults.add(*parse_faults(os.environ[FAULTS_ENV]))
            except (ValueError, TypeError) as exc:
                raise ValueError(f"{FAULTS_ENV} is not a valid JSON list of faults: {exc}") from None
        self.gatekeeper = Gatekeeper(capacity or Capacity())  # latency and parallel limit (off by default)
        size = _env_log_size() if log_size is None else log_size
        if size < 1:
            raise ValueError(f"log_size must be >= 1, got {size}")
        self._requests: deque[RecordedRequest] = deque(maxlen=size)  # a ring: the last `size` requests
        self._numbered = 0  # requests ever recorded (x-request-id keeps counting past the ring)
        self._lock = threading.RLock()
        self.app: Starlette = build_app(self)

    # -- clients -------------------------------------------------------------------------------
    def transport(self) -> SandboxTransport:
        """An httpx2 async transport serving this sandbox in-process (drops and read timeouts included)."""
        return SandboxTransport(self.app)

    @property
    def base_url(self) -> str:
        """Base URL to use with :meth:`transport` (any host works in-process)."""
        return f"http://sandbox{self.base_path}"

    # -- request log -----------------------------------------------------------------------------
    @property
    def requests(self) -> list[RecordedRequest]:
        """The most recent requests (at most `log_size`), oldest first."""
        with self._lock:
            return list(self._requests)

    def clear_requests(self) -> None:
        with self._lock:
            self._requests.clear()

    def record(self, entry: RecordedRequest) -> int:
        """Append to the log (dropping the oldest beyond `log_size`); returns the 1-based request number (used for
        x-request-id)."""
        with self._lock:
            self._requests.append(entry)
            self._numbered += 1
            return self._numbered

    # -- faults ---------------------------------------------------------------------------------
    def add_faults(self, *faults: Fault | dict) -> None:
        """Queue faults (Fault objects or dicts with Fault's fields)."""
        self._faults.add(*(f if isinstance(f, Fault) else Fault.from_dict(f) for f in faults))

    def clear_faults(self) -> None:
        self._faults.clear()

    def take_fault(self, method: str, path: str) -> Fault | None:
        """The fault to inject into this request, if one is queued for it (its count goes down by one)."""
        return self._faults.take(method, path)

    def handle(self, call: api.Call, headers: dict[str, str]) -> api.Reply:
        """Answer one API call against the state, atomically."""
        with self._lock:
            return api.handle(self.state, (self.token, *self.extra_tokens), call, headers)

    @property
    def faults(self) -> list[Fault]:
        """Active faults with their remaining counts (copies)."""
        return self._faults.active

    # -- state ----------------------------------------------------------------------------------
    def add_project(self, org_id: str, project_id: str) -> None:
        """Make another (empty) project exist."""
        with self._lock:
            self.state.add_project(org_id, project_id)

    def seed_bulk(self, n: int, org_id: str | None = None, project_id: str | None = None) -> list[VM]:
        """Add ``n`` deterministic VMs (each with a root disk) to a project, default the sandbox's own."""
        with self._lock:
            return seed_bulk(self.state, n, org_id or self.org_id, project_id or self.project_id)

    @property
    def vms(self) -> dict[str, VM]:
        with self._lock:
            self.state.settle()
            return self.state.vms

    @property
    def root_disks(self) -> dict[str, RootDisk]:
        with self._lock:
            self.state.settle()
            return self.state.root_disks

    def vm_by_name(self, name: str) -> VM:
        """Convenience for tests: the (first) VM with this name in any project."""
        for vm in self.vms.values():
            if vm.name == name:
                return vm
        raise KeyError(name)

    def project_path(self, org_id: str | None = None, project_id: str | None = None) -> str:
        """``/api/v1/orgs/{org}/projects/{project}`` — the prefix of every API route (after base_path)."""
        return f"/api/v1/orgs/{org_id or self.org_id}/projects/{project_id or self.project_id}"
