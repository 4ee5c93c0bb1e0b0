"""The one table of tools: every tool is declared here once, with every fact the server knows about it.

Spec tools are generated from the vendored OpenAPI document and then reviewed through `OVERLAYS` (title, hints, the
kind of resource acted on, the action in words, the summariser, rules the spec states only in prose, a note for the
model). A test fails when the spec gains or loses an operation that the table does not cover, so it cannot drift
from the spec. Agent tools (`project_overview`, `wait_for_vm`) are declared beside them, with schemas built from the
same spec fragments and their implementation attached.

Everything else reads these declarations: the gate (kind, action), the client (retry class from the hints), the
summaries (one callable per tool), the server (nothing keyed by a tool's name). No MCP imports here.
"""

from __future__ import annotations

import copy
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from typing import Any

from . import agent_tools, summaries
from .generic_summary import summarise_unreviewed
from .kinds import (
    CONFIRMATION_ARG,
    GENERIC_EARLIER,
    GENERIC_UNSURE,
    IMAGE,
    PLAN,
    PROJECT,
    REGION,
    ROOT_DISK,
    SCOPE_ARGS,
    SEND,
    VM,
    VM_CONFIG,
    Action,
    Kind,
)
from .spec.drift import DriftReport, compare
from .spec.infer import catalogue_of, describe, infer_hints, safe_to_retry, title_for
from .spec.openapi import Operation, input_schema
from .spec.source import LoadedSpec, vendored_spec
from .summaries import Summariser
from .validation import Rule, no_negative_gpus, no_ssh_port

__all__ = ["CONFIRMATION_ARG", "SCOPE_ARGS", "Hints", "ToolDef", "build_registry"]

MAX_NAME_LENGTH = 60  # Cursor rejects longer tool names
DASHBOARD_URI = "ui://neev-mcp/dashboard"  # the MCP Apps view (neev_mcp/ui/dashboard.html)
AgentTool = Callable[[agent_tools.API, dict[str, Any], agent_tools.Env], Awaitable[agent_tools.Outcome]]
# OAuth scopes (NEEV_MCP_AUTH=oauth); names fixed by docs/interface.md. A tool's scope follows from its annotations.
READ_SCOPE, WRITE_SCOPE, DELETE_SCOPE = "neev:read", "neev:write", "neev:delete"
ALL_SCOPES = (READ_SCOPE, WRITE_SCOPE, DELETE_SCOPE)


@dataclass(frozen=True)
class Hints:
    """MCP tool annotations, all four set deliberately (the protocol's defaults assume a destructive tool)."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True  # every tool talks to a remote cloud API

    @property
    def repeatable(self) -> bool:
        """The retry class: may the call be re-sent after an unclear failure? Reads, and idempotent actions that
        destroy nothing. A delete is idempotent in effect, but a re-sent one is refused as 'already deleting', which
        would read as a failure: it is re-sent only when it provably never left."""
        return self.read_only or (self.idempotent and not self.destructive)

    @property
    def scope(self) -> str:
        """The OAuth scope a caller needs: read-only → neev:read, destructive → neev:delete, anything else
        (create/start/stop/restart) → neev:write."""
        if self.read_only:
            return READ_SCOPE
        return DELETE_SCOPE if self.destructive else WRITE_SCOPE


@dataclass(frozen=True)
class Overlay:
    """The reviewed facts of one spec operation."""

    title: str
    hints: Hints
    summarise: Summariser
    note: str = ""
    kind: Kind | None = None  # the resource the tool acts on, named by `kind.id_arg`
    action: Action | None = None  # what a mutating tool does, in words
    rules: tuple[Rule, ...] = ()  # rules the spec states only in prose
    names_vms: bool = False  # its summary names the VMs that root disks are attached to (bounded extra reads)
    options_tool: str = ""  # the tool listing the values its arguments are chosen from (named in its refusals)
    # what a 404 may be about, for the hint that follows it (default: the kind it acts on, and the project)
    refers_to: tuple[Kind, ...] = ()

    @property
    def not_found(self) -> tuple[Kind, ...]:
        return self.refers_to or ((self.kind, PROJECT) if self.kind else (PROJECT,))


@dataclass(frozen=True)
class UiBinding:
    """MCP Apps (SEP-1865): the view a host renders with this tool's results, and who may call the tool.

    Shown as `_meta.ui` only to clients that negotiated the extension; every other client sees the tool as before.
    """

    resource_uri: str = DASHBOARD_URI
    visibility: tuple[str, ...] = ("model", "app")  # ("app",): callable by the view only, never offered to the model

    @property
    def app_only(self) -> bool:
        return "model" not in self.visibility


READ = Hints(read_only=True, destructive=False, idempotent=True)
ACTION = Hints(read_only=False, destructive=False, idempotent=True)
DELETE = Hints(read_only=False, destructive=True, idempotent=True)

_DELETE_DISK = Action("delete", "deleted", unsure=" The deletion may or may not have been accepted: call "
                      "get_root_disk_volume to check before asking again.")

OVERLAYS: dict[str, Overlay] = {
    "listVMs": Overlay("List VMs", READ, summaries.summarise_vm_list, "One line per VM with counts by status; for the "
                       "whole project in one answer use project_overview."),
    "createVM": Overlay("Create VM", Hints(read_only=False, destructive=False, idempotent=False),
                        summaries.summarise_vm_created,
                        "Returns at once with status 'pending'; call wait_for_vm with target_status 'running' to await "
                        "it. Not idempotent: if a call fails without an answer, check list_vms for the name first. "
                        "vm_options lists the regions, VM configurations, plans, images and attachable root disks to "
                        "choose from.",
                        action=Action("create", "created", creates=VM,
                                      unsure=" The VM may or may not have been created: call list_vms and look for its "
                                      "name before trying again, so that no duplicate VM is created."),
                        rules=(no_ssh_port, no_negative_gpus), options_tool="vm_options",
                        refers_to=(PROJECT, REGION, IMAGE, PLAN, VM_CONFIG, ROOT_DISK)),
    "getVM": Overlay("Get VM", READ, summaries.summarise_vm, "Includes status, failure message, IP, ports, disks and "
                     "next steps.", kind=VM),
    "deleteVM": Overlay("Delete VM", DELETE, summaries.summarise_deleted, "Destructive: asks the user to confirm "
                        "first. The root disk is deleted with the VM only if the VM was created with "
                        "delete_root_disk=true; otherwise it is detached and kept.", kind=VM,
                        action=Action("delete", "deleted", settles_at="deleted", unsure=" The deletion may or may "
                                      "not have been accepted: call get_vm to see whether the VM is 'deleting' before "
                                      "asking again.")),
    "listRootDiskVolumes": Overlay("List root disks", READ, summaries.summarise_disk_list, "Shows which VM each disk "
                                   "is attached to; unattached disks can be deleted.", names_vms=True),
    "getRootDiskVolume": Overlay("Get root disk", READ, summaries.summarise_disk, kind=ROOT_DISK, names_vms=True),
    "deleteRootDiskVolume": Overlay("Delete root disk", DELETE, summaries.summarise_deleted, "Destructive: asks the "
                                    "user to confirm first. Only unattached disks can be deleted.", kind=ROOT_DISK,
                                    action=_DELETE_DISK),
    "startVM": Overlay("Start VM", ACTION, summaries.summarise_vm_action, "Then wait_for_vm with target_status "
                       "'running'.", kind=VM,
                       action=Action("start", "started", "It boots; a running VM accrues charges on hourly plans.",
                                     settles_at="running", during="starting", acts_from="stopped")),
    "stopVM": Overlay("Stop VM", ACTION, summaries.summarise_vm_action, "Then wait_for_vm with target_status "
                      "'stopped'.", kind=VM,
                      action=Action("stop", "stopped", "It shuts down: running processes stop and unsaved in-memory "
                                    "state is lost.", settles_at="stopped", during="stopping", acts_from="running")),
    # Not idempotent: each accepted call reboots the VM again.
    "restartVM": Overlay("Restart VM", Hints(read_only=False, destructive=False, idempotent=False),
                         summaries.summarise_vm_action, "Then wait_for_vm with target_status 'running'.", kind=VM,
                         action=Action("restart", "restarted", "It reboots: running processes are interrupted.",
                                       settles_at="running", repeats=True, during="restarting", acts_from="running",
                                       no_effect_from={"stopped": "Use start_vm to boot it."},
                                       unsure=" The restart may or may not have been accepted: call get_vm to check "
                                       "its status first.")),
}


@dataclass(frozen=True)
class ToolDef:
    """One tool, everything about it: what the client sees, and what the server does with a call."""

    name: str
    title: str
    description: str
    hints: Hints
    input_schema: dict[str, Any]
    summarise: Summariser | None = None  # spec tools: the API's answer → (text, structuredContent)
    operation: Operation | None = None  # None for agent tools
    run: AgentTool | None = None  # agent tools: their implementation
    kind: Kind | None = None
    action: Action | None = None
    rules: tuple[Rule, ...] = ()
    names_vms: bool = False
    gated: bool = False
    output_schema: dict[str, Any] | None = None
    # an operation of a loaded spec that no overlay covers: inferred hints, the request as its preview, a generic
    # summary; gated whenever it may change something
    unreviewed: bool = False
    disabled: str = ""  # why the tool is off (its reviewed operation drifted in the loaded spec); "" when it is on
    uses: tuple[str, ...] = ()  # the tools it reads through: disabled with them
    options_tool: str = ""  # the tool listing the values its arguments are chosen from: named when they are refused
    catalogue: str | None = None  # 'regions', 'plans', ...: a GET listing what create_vm arguments are chosen from
    ui: UiBinding | None = None  # MCP Apps binding (None: no view)
    not_found: tuple[Kind, ...] = ()  # what a 404 may be about (the hint names what to check); () → a generic hint

    @property
    def app_only(self) -> bool:
        """Listed and callable only for MCP Apps clients, and there only by the view."""
        return self.ui is not None and self.ui.app_only

    @property
    def repeatable(self) -> bool:
        # Nobody checked that an unreviewed PUT or DELETE keeps HTTP's idempotency contract: only safe methods repeat.
        return safe_to_retry(self.operation) if self.unreviewed and self.operation else self.hints.repeatable

    @property
    def unsure(self) -> str:
        return (self.action.unsure if self.action else "") or GENERIC_UNSURE

    @property
    def earlier_attempt(self) -> str:
        """Said when a refusal may be explained by an earlier attempt whose answer was lost: read the target."""
        target = self.kind or (self.action.creates if self.action else None)
        return target.earlier_attempt if target else GENERIC_EARLIER

    def problems(self, args: Mapping[str, Any]) -> list[str]:
        """What the tool's prose rules find wrong with already schema-valid arguments."""
        return [problem for rule in self.rules for problem in rule(args)]

    @property
    def scope(self) -> str:
        """The OAuth scope needed to see and call this tool (derived from its annotations)."""
        return self.hints.scope


def spec_operations() -> list[Operation]:
    """The operations as the vendored spec defines them: the contracts the overlays were reviewed against."""
    return list(vendored_spec().operations)


def build_registry(
    defaults: Mapping[str, str] | None = None,
    gated: Callable[[Hints], bool] | None = None,
    spec: LoadedSpec | None = None,
) -> list[ToolDef]:
    """Every tool, in a deterministic order: the reviewed operations in document order, the helpers, then the
    operations of `spec` that nothing here reviewed.

    `defaults` holds configured values for `org_id` / `project_id`, which then become optional arguments.
    `gated` decides from a tool's hints whether it needs confirmation (default: the destructive ones).
    `spec` is the loaded spec (default: the vendored one). Reviewed tools keep the schema they were reviewed with; one
    whose operation drifted in `spec` is disabled, with the tools relying on it, never re-shaped.
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
            _with_confirmation(schema)
        description = " ".join(x for x in (_sentence(op.description or op.summary), overlay.note) if x)
        tools.append(
            ToolDef(
                name=op.tool_name,
                title=overlay.title,
                description=description,
                hints=overlay.hints,
                input_schema=schema,
                summarise=overlay.summarise,
                operation=op,
                kind=overlay.kind,
                action=overlay.action,
                rules=overlay.rules,
                names_vms=overlay.names_vms,
                options_tool=overlay.options_tool,
                gated=is_gated,
                uses=(overlay.kind.getter,) if is_gated and overlay.kind else (),  # its preview reads the target
                not_found=overlay.not_found,
            )
        )
    tools.extend(_helpers(operations, defaults))
    if spec is None or spec.vendored:
        return tools
    report = compare(vendored_spec(), spec, OVERLAYS)
    tools = _disable_drifted(tools, report, spec.origin)
    for op in report.new:
        if unreviewed_problem(op, tools) is None:
            tools.append(_unreviewed_tool(op, defaults, needs_confirmation))
    return tools


def _with_confirmation(schema: dict[str, Any]) -> dict[str, Any]:
    schema["properties"][CONFIRMATION_ARG] = {
        "type": "string",
        "description": "Only when the user has approved the preview of an earlier call: the token it returned.",
    }
    return schema


def _disable_drifted(tools: list[ToolDef], report: DriftReport, origin: str) -> list[ToolDef]:
    """Each tool whose reviewed operation drifted, and each tool relying on a disabled one, with the reason."""
    why = {d.tool: f"the loaded spec ({origin}) differs from the one neev-mcp reviewed: {d.describe()}"
           for d in report.drifts}
    spreading = True
    while spreading:
        spreading = False
        for tool in tools:
            broken = [used for used in tool.uses if used in why]
            if tool.name not in why and broken:
                why[tool.name] = f"it relies on {broken[0]}, which is disabled ({why[broken[0]]})"
                spreading = True
    return [replace(t, disabled=f"{t.name} is disabled: {why[t.name]}. neev-mcp does not call a reviewed operation "
                    "whose contract changed; unset NEEV_OPENAPI_SPEC (or --spec) to use the vendored spec, or upgrade "
                    "neev-mcp.") if t.name in why else t for t in tools]


def unreviewed_problem(op: Operation, tools: list[ToolDef]) -> str | None:
    """Why an operation no overlay covers cannot be offered as a tool (None when it can)."""
    name = op.tool_name
    if not name:
        return f"its operationId {op.operation_id!r} gives no usable tool name"
    if len(name) > MAX_NAME_LENGTH:
        return f"its tool name {name} is longer than {MAX_NAME_LENGTH} characters"
    if any(t.name == name for t in tools):
        return f"its tool name {name} is already taken by another tool"
    if CONFIRMATION_ARG in op.argument_locations():
        return f"it has an argument named {CONFIRMATION_ARG}, which the confirmation gate uses"
    return None


def _unreviewed_tool(op: Operation, defaults: Mapping[str, str],
                     needs_confirmation: Callable[[Hints], bool]) -> ToolDef:
    hints = Hints(**vars(infer_hints(op)))
    # Nobody reviewed what it changes: the confirmation policy sees every unreviewed mutation as destructive.
    is_gated = not hints.read_only and needs_confirmation(replace(hints, destructive=True))
    schema = _with_defaults(input_schema(op, optional=frozenset(defaults)), defaults)
    title = title_for(op)
    return ToolDef(name=op.tool_name, title=title, description=describe(op), hints=hints,
                   input_schema=_with_confirmation(schema) if is_gated else schema,
                   summarise=partial(summarise_unreviewed, title), operation=op, action=SEND, gated=is_gated,
                   unreviewed=True, catalogue=catalogue_of(op))


def not_offered(spec: LoadedSpec, tools: list[ToolDef]) -> list[tuple[str, str]]:
    """(operation, why) for each operation of `spec` that no tool carries and no overlay reviewed: the unreadable
    ones, and new ones whose tool name is taken or too long."""
    carried = {t.operation.operation_id for t in tools if t.operation is not None}
    out = [(label, why) for label, why in spec.unreadable if not any(label.endswith(f"({oid})") for oid in OVERLAYS)]
    return out + [(f"{op.method} {op.path} ({op.operation_id})", unreviewed_problem(op, tools) or "not offered")
                  for op in spec.operations if op.operation_id not in carried and op.operation_id not in OVERLAYS]


def catalogues(tools: list[ToolDef]) -> dict[str, ToolDef]:
    """'regions' / 'plans' / 'images' / 'vm_configs' → the enabled tool listing them, when the loaded spec has one.

    The hook for vm_options and discovery: with a catalogue they can offer the full list instead of only the values
    the project's VMs use.
    """
    return {t.catalogue: t for t in reversed(tools) if t.catalogue and not t.disabled}


def reach(tools: list[ToolDef]) -> dict[str, str]:
    """VM status → the tool that brings a settled VM there (for "call stop_vm first")."""
    return {t.action.settles_at: t.name for t in tools
            if t.kind is VM and t.action and t.action.settles_at and not t.action.repeats}


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
    vm_id = copy.deepcopy(input_schema(by_id["getVM"])["properties"][VM.id_arg])
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
            run=agent_tools.project_overview,
            output_schema=OVERVIEW_OUTPUT,
            uses=(VM.lister, ROOT_DISK.lister),
            ui=UiBinding(),
        ),
        ToolDef(
            name="wait_for_vm",
            title="Wait for VM",
            description="Poll a VM until it reaches target_status (or fails, or the timeout passes: 40 s by default, "
            "55 s at most, so that the call ends before the client gives up), reporting progress. 'deleted' is reached "
            "when the VM is gone. A timeout is not a failure: call again with structuredContent.continue_with.",
            hints=READ,
            input_schema=_obj(
                {
                    **scope,
                    VM.id_arg: vm_id,
                    "target_status": {"type": "string", "enum": status_enum, "description": "Status to wait for."},
                    "timeout_seconds": {"type": "integer", "minimum": 1, "maximum": agent_tools.WAIT_MAX_SECONDS,
                                        "default": agent_tools.WAIT_DEFAULT_SECONDS,
                                        "description": "Stop waiting after this many seconds (kept under the 60 s "
                                        "many clients allow a request). If the VM is not there yet, the result says "
                                        "so and continue_with holds the call that keeps waiting."},
                },
                [*scope_required, VM.id_arg, "target_status"],
            ),
            run=agent_tools.wait_for_vm,
            kind=VM,
            output_schema=WAIT_OUTPUT,
            uses=(VM.getter,),
        ),
        *_option_tools(scope, scope_required),
        *_view_tools(scope, scope_required),
    ]


def _option_tools(scope: dict[str, Any], scope_required: list[str]) -> list[ToolDef]:
    """Discovery: what create_vm's arguments can be."""
    return [
        ToolDef(
            name="vm_options",
            title="VM options",
            description="What create_vm's arguments can be: the regions, VM configurations (with the GPU counts "
            "seen), plans and images in use in the project, each with how many VMs use it and one example VM, and "
            "the unattached root disks that attach_disk_request can take. These are the values seen in the "
            "project's VMs and root disks, not the full NeevCloud catalogue (unless the API offers one). Call it "
            "before create_vm.",
            hints=READ,
            input_schema=_obj(dict(scope), scope_required),
            run=agent_tools.vm_options,
            output_schema=OPTIONS_OUTPUT,
            uses=(VM.lister, ROOT_DISK.lister),
        ),
    ]


def _view_tools(scope: dict[str, Any], scope_required: list[str]) -> list[ToolDef]:
    """Tools only an MCP Apps view calls (`visibility: ["app"]`); other clients never see them."""
    return [
        ToolDef(
            name="dashboard_snapshot",
            title="Dashboard snapshot",
            description="For the dashboard view only: every VM of the project (bounded) with status, failure message, "
            "IP and root disk, the root disks, and which actions this server offers.",
            hints=READ,
            input_schema=_obj(dict(scope), scope_required),
            run=agent_tools.dashboard_snapshot,
            output_schema=DASHBOARD_OUTPUT,
            uses=(VM.lister, ROOT_DISK.lister),
            ui=UiBinding(visibility=("app",)),
        ),
    ]


# Output schemas only for the helpers, whose shapes are ours (docs/summaries.md explains why). Nothing is `required`:
# error results carry {error, message, retryable} instead, and they must conform too.
_INT, _BOOL, _STR = {"type": "integer"}, {"type": "boolean"}, {"type": "string"}
WAIT_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "reached": _BOOL, "timed_out": _BOOL, "status": {"type": ["string", "null"]}, "target_status": _STR,
    "vm_id": _STR, "elapsed_seconds": {"type": "number"}, "checks": _INT, "vm": {"type": ["object", "null"]},
    # on a timeout: the call that keeps waiting, {"tool": …, "arguments": {…}}
    "continue_with": {"type": "object", "properties": {"tool": _STR, "arguments": {"type": "object"}}}}}
OVERVIEW_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "complete": _BOOL, "vm_total": _INT, "vm_by_status": {"type": "object", "additionalProperties": _INT},
    "failed": {"type": "array"}, "in_transition": {"type": "array"}, "root_disk_total": _INT,
    "unattached_root_disks": {"type": "array"}, "unattached_total_gb": _INT, "reads": {"type": "object"},
    "list_cap": _INT}}

_OPTION = {"type": "object", "properties": {
    "argument": _STR, "source": {"type": "string", "enum": ["project", "catalogue"]}, "total": _INT,
    "values": {"type": "array", "items": {"type": "object"}}, "more": _INT}}
OPTIONS_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "complete": _BOOL, "note": _STR, "vm_total": _INT, "root_disk_total": _INT, "regions": _OPTION,
    "vm_configs": _OPTION, "plans": _OPTION, "images": _OPTION, "attachable_root_disks": {"type": "object"},
    "reads": {"type": "object"}, "list_cap": _INT}}

DASHBOARD_OUTPUT: dict[str, Any] = {"type": "object", "properties": {
    "org_id": _STR, "project_id": _STR, "complete": _BOOL, "actions": {"type": "array", "items": _STR},
    "confirm": _STR, "vm_total": _INT, "vm_by_status": {"type": "object", "additionalProperties": _INT},
    "vms": {"type": "array"}, "vm_cap": _INT, "root_disks": {"type": "object"}}}


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
