"""MCP resources: a VM's summary and the project overview, readable by any client that browses resources.

- `neev://vms/{vm_id}`: the `get_vm` summary of one VM (`vm_id` is its id, or its name in the configured project).
- `neev://projects/{org_id}/{project_id}/overview`: the `project_overview` of any project the token can see.
- `neev://overview`: the same for the configured default project (listed only when NEEV_ORG_ID and NEEV_PROJECT_ID
  are set).

Each read travels the road a tool call takes (fill defaults, validate, API client, summariser) through the server's
own methods, so a resource never disagrees with the tool of the same meaning. Failures become clean MCP errors:
an unknown VM or project is `-32602` (resource not found), and so is a VM name that several VMs share (the error lists
their ids); anything else is `-32603` with the actionable message.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

from mcp import MCPError
from mcp.server import MCPServer
from mcp.server.mcpserver import Context
from mcp.server.mcpserver.exceptions import ResourceError, ResourceNotFoundError
from mcp.types import INVALID_PARAMS

from .errors import NeevError, NotFound
from .kinds import scope_label
from .text import MAX_IDS, listed_ids

if TYPE_CHECKING:
    from .server import Reader

VM_TEMPLATE = "neev://vms/{vm_id}"
OVERVIEW_TEMPLATE = "neev://projects/{org_id}/{project_id}/overview"
OVERVIEW_URI = "neev://overview"
log = logging.getLogger(__name__)
UUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


class UnknownName(NeevError):
    """No VM of that name in the configured project."""


def install(server: MCPServer, reader: Reader) -> None:
    """Register the VM and overview resources on `server`; `reader` produces their text."""

    @server.resource(
        VM_TEMPLATE,
        name="vm",
        title="VM summary",
        description="One VM in the configured project: status (and failure message), IP, ports, disks and next steps. "
        "vm_id is the VM's id or its name.",
        mime_type="text/plain",
    )
    async def vm_summary(vm_id: str, ctx: Context) -> str:
        return await _read(f"VM {vm_id!r}", lambda: _vm_text(reader, vm_id, ctx))

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
        return await _read(f"project {scope_label(scope)}",
                           lambda: reader.tool_text("project_overview", scope, ctx))

    defaults = reader.default_scope
    if defaults is not None:
        # A static resource gets no request context, so it can only use the server's own token.
        @server.resource(
            OVERVIEW_URI,
            name="overview",
            title=f"Overview of {scope_label(defaults)}",
            description="The project_overview of the configured default project (NEEV_ORG_ID / NEEV_PROJECT_ID).",
            mime_type="text/plain",
        )
        async def default_overview() -> str:
            return await _read(f"project {scope_label(defaults)}",
                               lambda: reader.tool_text("project_overview", dict(defaults), None))


async def _read(what: str, produce: Callable[[], Awaitable[str]]) -> str:
    """Run `produce()`, turning our errors into the MCP resource errors a client understands."""
    try:
        return await produce()
    except (NotFound, UnknownName) as exc:
        raise ResourceNotFoundError(f"{what} was not found: {exc.message}") from None
    except NeevError as exc:
        raise ResourceError(f"Could not read {what}: {exc.message}") from None
    except (MCPError, ResourceError):
        raise  # the client's mistake (an ambiguous name: -32602) or an answer already worded
    except Exception:  # a bug: logged here, in words of ours, rather than as the SDK's unexpected-error traceback
        log.exception("reading %s failed unexpectedly", what)
        raise ResourceError(f"Could not read {what} because of an internal error in neev-mcp; it was logged on the "
                            "server.") from None


async def _vm_text(reader: Reader, vm_id: str, ctx: Context) -> str:
    if not UUID_RE.fullmatch(vm_id):
        scope, found = await reader.vms_named(vm_id, ctx)
        if len(found.ids) > 1:  # the client's mistake: a name that does not pick one VM (-32602, not -32603)
            count = len(found.ids) if len(found.ids) <= MAX_IDS else f"More than {MAX_IDS}"
            raise MCPError(code=INVALID_PARAMS, message=f"{count} VMs are named {vm_id!r} in {scope_label(scope)} "
                           f"({listed_ids(found.ids)}): the name is ambiguous, read neev://vms/<id> with one of these "
                           "ids instead.", data={"uri": f"neev://vms/{vm_id}", "ids": found.ids[:MAX_IDS]})
        if not found.complete:
            raise NeevError(f"Could not look through every VM of {scope_label(scope)} for {vm_id!r} ({found.pages}): "
                            "read neev://vms/<id> instead.")
        if not found.ids:
            raise UnknownName(f"No VM named {vm_id!r} in {scope_label(scope)}.")
        vm_id = found.ids[0]
    return await reader.tool_text("get_vm", {"vm_id": vm_id}, ctx)
