"""The one table of tools: every tool is declared here once.

Spec tools are generated from the vendored OpenAPI document and then reviewed through `OVERLAYS` (title, hints, the
argument naming the target, a short note for the model). A test fails when the spec gains or loses an operation that
the overlay table does not cover, so the table cannot drift from the spec. Agent helpers (`project_overview`,
`wait_for_vm`) are declared beside them with schemas built from the same spec fragments.

No MCP imports here: the server turns `ToolDef`s into protocol objects.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from .spec.openapi import Operation, input_schema, load_spec, parse_operations

SCOPE_ARGS = ("org_id", "project_id")
CONFIRMATION_ARG = "confirmation_token"
MAX_NAME_LENGTH = 60  # Cursor rejects longer tool names


@dataclass(frozen=True)
class Hints:
    """MCP tool annotations, all four set deliberately (the protocol's defaults assume a destructive tool)."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True  # every tool talks to a remote cloud API


@dataclass(frozen=True)
class Overlay:
    title: str
    hints: Hints
    note: str = ""
    target: str | None = None  # argument naming the resource the tool acts on
    summary: str = ""  # key into summaries.SUMMARISERS


READ = Hints(read_only=True, destructive=False, idempotent=True)
ACTION = Hints(read_only=False, destructive=False, idempotent=True)
DELETE = Hints(read_only=False, destructive=True, idempotent=True)

OVERLAYS: dict[str, Overlay] = {
    "listVMs": Overlay("List VMs", READ, "One line per VM with counts by status; for the whole project in one answer "
                       "use project_overview.", summary="vm_list"),
    "createVM": Overlay("Create VM", Hints(read_only=False, destructive=False, idempotent=False),
                        "Returns at once with status 'pending'; call wait_for_vm with target_status 'running' to await "
                        "it. Not idempotent: if a call fails without an answer, check list_vms for the name first.",
                        summary="vm_created"),
    "getVM": Overlay("Get VM", READ, "Includes status, failure message, IP, ports, disks and next steps.",
                     target="vm_id", summary="vm"),
    "deleteVM": Overlay("Delete VM", DELETE, "Destructive: asks the user to confirm first. The root disk is deleted "
                        "with the VM only if the VM was created with delete_root_disk=true; otherwise it is detached "
                        "and kept.", target="vm_id", summary="deleted"),
    "listRootDiskVolumes": Overlay("List root disks", READ, "Shows which VM each disk is attached to; unattached "
                                   "disks can be deleted.", summary="disk_list"),
    "getRootDiskVolume": Overlay("Get root disk", READ, target="root_disk_id", summary="disk"),
    "deleteRootDiskVolume": Overlay("Delete root disk", DELETE, "Destructive: asks the user to confirm first. Only "
                                    "unattached disks can be deleted.", target="root_disk_id", summary="deleted"),
    "startVM": Overlay("Start VM", ACTION, "Then wait_for_vm with target_status 'running'.", target="vm_id",
                       summary="vm_action"),
    "stopVM": Overlay("Stop VM", ACTION, "Then wait_for_vm with target_status 'stopped'.", target="vm_id",
                      summary="vm_action"),
    # Not idempotent: each accepted call reboots the VM again.
    "restartVM": Overlay("Restart VM", Hints(read_only=False, destructive=False, idempotent=False),
                         "Then wait_for_vm with target_status 'running'.", target="vm_id", summary="vm_action"),
}


@dataclass(frozen=True)
class ToolDef:
    name: str
    title: str
    description: str
    hints: Hints
    input_schema: dict[str, Any]
    summary: str
    operation: Operation | None = None  # None for agent helpers
    target: str | None = None
    gated: bool = False
    output_schema: dict[str, Any] | None = None


def spec_operations() -> list[Operation]:
    return parse_operations(load_spec())


def build_registry(
    defaults: Mapping[str, str] | None = None,
    gated: Callable[[Hints], bool] | None = None,
) -> list[ToolDef]:
    """Every tool, in a deterministic order: the spec's operations in document order, then the helpers.

    `defaults` holds configured values for `org_id` / `project_id`, which then become optional arguments.
    `gated` decides from a tool's hints whether it needs confirmation (default: the destructive ones).
    """
    defaults = {k: v for k, v in (defaults or {}).items() if k in SCOPE_ARGS and v}
    needs_confirmation = gated or _destructive
    operations = spec_operations()
    missing = {op.operation_id for op in operations} ^ set(OVERLAYS)
    if missing:
        raise RuntimeError(f"registry overlay out of sync with the spec: {sorted(missing)}")
    tools: list[ToolDef] = []
    for op in operations:
        overlay = OVERLAYS[op.operation_id]
        is_gated = needs_confirmation(overlay.hints)
        schema = _with_defaults(input_schema(op, optional=frozenset(defaults)), defaults)
        if is_gated:
            schema["properties"][CONFIRMATION_ARG] = {
                "type": "string",
                "description": "Only when the user has approved the preview of an earlier call: the token it returned.",
            }
        description = " ".join(x for x in (_sentence(op.description or op.summary), overlay.note) if x)
        tools.append(
            ToolDef(
                name=op.tool_name,
                title=overlay.title,
                description=description,
                hints=overlay.hints,
                input_schema=schema,
                summary=overlay.summary,
                operation=op,
                target=overlay.target,
                gated=is_gated,
            )
        )
    tools.extend(_helpers(operations, defaults))
    return tools


def _destructive(hints: Hints) -> bool:
    return hints.destructive


# NEEV_CONFIRM → which tools need a human's confirmation (read tools never do)
CONFIRM_POLICIES: dict[str, Callable[[Hints], bool]] = {
    "destructive": _destructive,
    "mutating": lambda hints: not hints.read_only,
    "off": lambda hints: False,
}


def _helpers(operations: list[Operation], defaults: Mapping[str, str]) -> list[ToolDef]:
    by_id = {op.operation_id: op for op in operations}
    list_schema = _with_defaults(input_schema(by_id["listVMs"], optional=frozenset(defaults)), defaults)
    scope = {k: list_schema["properties"][k] for k in SCOPE_ARGS}
    scope_required = [k for k in list_schema.get("required", []) if k in SCOPE_ARGS]
    vm_id = copy.deepcopy(input_schema(by_id["getVM"])["properties"]["vm_id"])
    status_enum = ["running", "stopped", "deleted"]
    return [
        ToolDef(
            name="project_overview",
            title="Project overview",
            description="The whole project in one bounded answer: VMs by status, failed VMs with their messages, VMs "
            "in transition, unattached root disks with sizes. Start here.",
            hints=READ,
            input_schema=_obj(
                {
                    **scope,
                    "per_status": {"type": "integer", "minimum": 1, "maximum": 50, "default": 5,
                                   "description": "How many VMs to name per status before 'and K more'."},
                },
                scope_required,
            ),
            summary="overview",
            output_schema=OVERVIEW_OUTPUT,
        ),
        ToolDef(
            name="wait_for_vm",
            title="Wait for VM",
            description="Poll a VM until it reaches target_status (or fails, or the timeout passes), reporting "
            "progress. 'deleted' is reached when the VM is gone.",
            hints=READ,
            input_schema=_obj(
                {
                    **scope,
                    "vm_id": vm_id,
                    "target_status": {"type": "string", "enum": status_enum, "description": "Status to wait for."},
                    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": 600, "default": 300,
                                        "description": "Give up after this many seconds."},
                },
                [*scope_required, "vm_id", "target_status"],
            ),
            summary="vm",
            target="vm_id",
            output_schema=WAIT_OUTPUT,
        ),
    ]


# Output schemas only for the helpers, whose shapes are ours (docs/summaries.md explains why). Nothing is `required`:
# error results carry {error, message, retryable} instead, and they must conform too.
_INT, _BOOL, _STR = {"type": "integer"}, {"type": "boolean"}, {"type": "string"}
WAIT_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "reached": _BOOL, "timed_out": _BOOL, "status": {"type": ["string", "null"]}, "target_status": _STR,
    "vm_id": _STR, "elapsed_seconds": {"type": "number"}, "checks": _INT, "vm": {"type": ["object", "null"]}}}
OVERVIEW_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "complete": _BOOL, "vm_total": _INT, "vm_by_status": {"type": "object", "additionalProperties": _INT},
    "failed": {"type": "array"}, "in_transition": {"type": "array"}, "root_disk_total": _INT,
    "unattached_root_disks": {"type": "array"}, "unattached_total_gb": _INT, "reads": {"type": "object"},
    "list_cap": _INT}}


def _obj(properties: dict[str, Any], required: list[str]) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = required
    schema["additionalProperties"] = False
    return schema


def _with_defaults(schema: dict[str, Any], defaults: Mapping[str, str]) -> dict[str, Any]:
    for name, value in defaults.items():
        prop = schema["properties"].get(name)
        if prop is not None:
            schema["properties"][name] = {**prop, "default": value}
    return schema


def _sentence(text: str) -> str:
    text = " ".join(text.split())
    return text if not text or text.endswith(".") else text + "."
