"""A stateful simulated NeevCloud VM Service, for tests, demos and benchmarks without an account.

It stands in for the real cloud, so it deliberately imports nothing else from ``neev_mcp``::

    sb = Sandbox(clock=SimClock(speed=0))
    async with httpx2.AsyncClient(transport=sb.transport(), base_url=sb.base_url) as client:
        await client.get(sb.project_path() + "/vms", headers={"Authorization": f"Bearer {DEFAULT_TOKEN}"})

Run it over HTTP with ``python -m neev_mcp.sandbox``.
"""

from .clock import SimClock
from .faults import Fault
from .models import VM, ApiError, RootDisk
from .recording import RecordedRequest, redact_authorization
from .sandbox import DEFAULT_TOKEN, Sandbox, make_token
from .server import serve

__all__ = [
    "DEFAULT_TOKEN",
    "VM",
    "ApiError",
    "Fault",
    "RecordedRequest",
    "RootDisk",
    "Sandbox",
    "SimClock",
    "make_token",
    "redact_authorization",
    "serve",
]
