"""MCP resources: a VM's summary and the project overview, readable by any client that browses resources.

- `neev://vms/{vm_id}`: the `get_vm` summary of one VM (`vm_id` is its id, or its name in the configured project).
- `neev://projects/{org_id}/{project_id}/overview`: the `project_overview` of any project the token can see.
- `neev://overview`: the same for the configured default project (listed only when NEEV_ORG_ID and NEEV_PROJECT_ID
  are set).

Each read travels the road a tool call takes (fill defaults, validate, API client, summariser) through the server's
own methods, so a resource never disagrees with the tool of the same meaning. Failures become clean MCP errors:
an unknown VM or project is `-32602` (resource not found), anything else `-32603` with the actionable message.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import CallToolResult, TextContent

from . import agent_tools
from .errors import NeevError, NotFound

if TYPE_CHECKING:
    from .server import NeevServer

VM_TEMPLATE = "neev://vms/{vm_id}"
OVERVIEW_TEMPLATE = "neev://projects/{org_id}/{project_id}/overview"
OVERVIEW_URI = "neev://overview"
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
MAX_NAME_PAGES = 20  # resolving a name reads at most 2,000 VMs


class UnknownName(NeevError):
    """No VM of that name in the configured project."""


def install(server: NeevServer) -> None:
    """Register the VM and overview resources on `server`."""

    @server.resource(
        VM_TEMPLATE,
        name="vm",
        title="VM summary",
        description="One VM in the configured project: status (and failure message), IP, ports, disks and next steps. "
        "vm_id is the VM's id or its name.",
        mime_type="text/plain",
    )
    async def vm_summary(vm_id: str, ctx: Context) -> str:
        return await _read(server, ctx, f"VM {vm_id!r}", lambda token: _vm_text(server, vm_id, ctx, token))

    @server.resource(
        OVERVIEW_TEMPLATE,
        name="project_overview",
        title="Project overview",
        description="A whole project in one bounded summary: VMs by status, failed VMs with their messages, VMs in "
        "transition, unattached root disks.",
        mime_type="text/plain",
    )
    async def project_overview(org_id: str, project_id: str, ctx: Context) -> str:
        scope = {"org_id": org_id, "project_id": project_id}
        return await _read(server, ctx, f"project {org_id}/{project_id}",
                           lambda token: _overview_text(server, scope, ctx, token))

    defaults = server.config.defaults
    if server.config.own_default_project:
        # A static resource gets no request context, so it can only use the server's own token.
        @server.resource(
            OVERVIEW_URI,
            name="overview",
            title=f"Overview of {defaults['org_id']}/{defaults['project_id']}",
            description="The project_overview of the configured default project (NEEV_ORG_ID / NEEV_PROJECT_ID).",
            mime_type="text/plain",
        )
        async def default_overview() -> str:
            return await _read(server, None, f"project {defaults['org_id']}/{defaults['project_id']}",
                               lambda token: _overview_text(server, dict(defaults), None, token))


async def _read(server: NeevServer, ctx: Context | None, what: str, produce: Any) -> str:
    """Run `produce(token)`, turning our errors into the MCP resource errors a client understands."""
    try:
        token = server.upstream_token(ctx)
        return await produce(token)
    except (NotFound, UnknownName) as exc:
        raise ResourceNotFoundError(f"{what} was not found: {exc.message}") from None
    except NeevError as exc:
        raise ResourceError(f"Could not read {what}: {exc.message}") from None


async def _vm_text(server: NeevServer, vm_id: str, ctx: Context, token: str | None) -> str:
    tool = server.tools_by_name["get_vm"]
    if not UUID_RE.fullmatch(vm_id):
        vm_id = await _resolve_name(server, vm_id, token)
    args = server.prepare(tool, {"vm_id": vm_id})
    return _text(await server.execute(tool, args, None, ctx, token))


async def _overview_text(server: NeevServer, scope: dict[str, str], ctx: Context | None, token: str | None) -> str:
    tool = server.tools_by_name["project_overview"]
    args = server.prepare(tool, scope)
    return _text(await server.run_helper(tool, args, ctx, token))


async def _resolve_name(server: NeevServer, name: str, token: str | None) -> str:
    """The id of the one VM called `name` in the configured project."""
    list_tool = server.tools_by_name["list_vms"]
    scope = server.prepare(list_tool, {})
    api = agent_tools.API(server.client, server.registry, token)
    found: list[str] = []
    for page in range(1, MAX_NAME_PAGES + 1):
        data = await api.call("list_vms", {k: scope[k] for k in ("org_id", "project_id")}, {"page": page, "limit": 100})
        data = data if isinstance(data, dict) else {}
        found += [str(vm.get("id")) for vm in data.get("data") or [] if vm.get("name") == name]
        if page >= int((data.get("pagination") or {}).get("total_pages") or 1):
            break
    if not found:
        raise UnknownName(f"No VM named {name!r} in {scope['org_id']}/{scope['project_id']}.")
    if len(found) > 1:
        raise NeevError(f"{len(found)} VMs are named {name!r} ({', '.join(found)}): read neev://vms/<id> instead.")
    return found[0]


def _text(result: CallToolResult) -> str:
    text = "\n".join(c.text for c in result.content if isinstance(c, TextContent))
    if result.is_error:
        raise NeevError(text)
    return text
