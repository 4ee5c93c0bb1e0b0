"""The MCP Apps view (`ui://neev-mcp/dashboard`): its HTML document and the SDK extension that serves it.

A host that negotiated the Apps extension (`io.modelcontextprotocol/ui`) renders `ui/dashboard.html` in a sandboxed
iframe next to a `project_overview` result. The view calls `dashboard_snapshot` (a tool only the view may call),
polls `get_vm` for VMs in transition, and calls `start_vm` / `stop_vm` / `restart_vm` through the host, so every gate
of the server applies to a button exactly as to an agent. Clients without the extension see none of this.
"""

from __future__ import annotations

from functools import cache
from importlib import resources

from mcp.server.apps import Apps, ResourceCsp

from .registry import DASHBOARD_URI


@cache
def html() -> str:
    """The view: one self-contained document (inline CSS and JS; no external script, font or image)."""
    return resources.files("neev_mcp").joinpath("ui/dashboard.html").read_text(encoding="utf-8")


def extension() -> Apps:
    """The SDK's Apps extension carrying the dashboard resource: no network at all from the view."""
    apps = Apps()
    apps.add_html_resource(
        DASHBOARD_URI,
        html(),
        name="dashboard",
        title="NeevCloud VM dashboard",
        description="Live view of a project's VMs: status at a glance, failures, transitions, root disks, and "
        "start/stop/restart through the same gated tools.",
        # Empty lists: connect-src 'none', and no outside script, style, font, image or frame.
        csp=ResourceCsp(connect_domains=[], resource_domains=[], frame_domains=[]),
        prefers_border=True,
    )
    return apps
