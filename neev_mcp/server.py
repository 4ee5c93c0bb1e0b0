"""Wiring: an `MCPServer` whose tools come from the registry.

A call travels one straight road: look up → fill configured defaults → validate against the tool's own schema →
gate (destructive tools) → API client → summariser → result. Errors a model can fix come back as `isError` results;
nothing a tool does can take the server down.
"""

from __future__ import annotations

import datetime as dt
import difflib
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

from mcp import MCPError
from mcp.server import MCPServer, ServerRequestContext
from mcp.server.apps import client_supports_apps
from mcp.server.mcpserver import Context
from mcp.server.request_state import RequestStateSecurity
from mcp.types import (
    INVALID_PARAMS,
    CallToolResult,
    GetPromptResult,
    InputRequiredResult,
    ListResourcesResult,
    ListToolsResult,
    PaginatedRequestParams,
    TextContent,
    Tool,
    ToolAnnotations,
)

from . import __version__, agent_tools, options, prompts, resources, summaries, telemetry, unclear, view, walker
from .bearer import request_bearer
from .bounds import RequestBounds
from .caller import granted_scopes
from .client import NeevClient, RetryPolicy, Timeouts
from .config import ConfigurationError, Settings
from .errors import APIError, InvalidArguments, NeevError, NotConfigured
from .gate import Gate, derive_key
from .kinds import CONFIRMATION_ARG, ROOT_DISK, SCOPE_ARGS, SCOPE_ENV, SCOPE_NOUN, VM, scope_of
from .registry import CONFIRM_POLICIES, READ_SCOPE, ToolDef, build_registry, catalogues, not_offered, reach
from .spec.source import LoadedSpec, SpecError, load_source, vendored_spec
from .text import clip
from .validation import normalise_integers, violations

log = logging.getLogger("neev_mcp.server")

SERVER_NAME = "neev-mcp"
INSTRUCTIONS = """\
Manage NeevCloud virtual machines. Start with project_overview for the state of the whole project.
Create/start/stop/restart return at once while the VM is in transition: follow with wait_for_vm.
Deleting needs the user's confirmation: show the user the preview you are given and pass confirmation_token only \
after they approve. Never guess ids: take them from list_vms, get_vm or list_root_disk_volumes."""


class NeevServer(MCPServer):
    """The neev-mcp server: registry-driven tools over one pooled NeevCloud client."""

    def __init__(self, settings: Settings, client: NeevClient, *, now: Callable[[], dt.datetime] | None = None,
                 limits: agent_tools.Limits | None = None, spec: LoadedSpec | None = None) -> None:
        secret = (settings.mcp_secret.get_secret_value().encode() if settings.mcp_secret
                  else secrets.token_bytes(32))
        super().__init__(
            SERVER_NAME,
            title="NeevCloud VMs",
            version=__version__,
            instructions=INSTRUCTIONS,
            lifespan=_lifespan,
            # 2026-07-28 confirmation rounds may land on another replica: seal requestState with the shared secret.
            request_state_security=RequestStateSecurity(
                keys=[derive_key(secret, "request-state")], audience=SERVER_NAME,
                # outlive our own confirmation window, so a late answer gets our refusal, not a protocol error
                ttl=settings.confirm_ttl + 60,
            ),
            warn_on_duplicate_tools=False,
            extensions=[view.extension()],  # MCP Apps: the ui:// dashboard and the capability
        )
        # not `settings`: MCPServer.settings is the SDK's own (its HTTP app reads it)
        self.config = settings
        self.client = client
        self.now = now or (lambda: dt.datetime.now(dt.UTC))
        # the whole-project deadline and poll timings; tests and the demo poll faster
        self.limits = limits or agent_tools.Limits(deadline=settings.overview_deadline,
                                                   page_attempts=settings.max_attempts)
        self.spec = spec or vendored_spec()
        self.registry = build_registry(settings.defaults, gated=CONFIRM_POLICIES[settings.confirm], spec=self.spec)
        announce_spec(self.spec, self.registry)
        self.tools_by_name = {t.name: t for t in self.registry}
        self.reach = reach(self.registry)
        # 'regions' / 'plans' / … → the loaded spec's catalogue operation listing them in full (vm_options reads it)
        self.catalogue_tools = {key: t.name for key, t in catalogues(self.registry).items()}
        # metrics and the caller of each tool call (for audit lines); the SDK itself makes the call's span
        self.middleware.append(telemetry.ToolCallTelemetry(known_tools=lambda name: name in self.tools_by_name))
        # the dashboard's buttons: the visible VM actions that destroy nothing (never a delete; none when read-only)
        self.view_actions = tuple(t.action.verb for t in self.registry if t.kind is VM and t.action
                                  and t.action.settles_at and not t.hints.destructive and self.visible(t))
        self.gate = Gate(settings, secret, now=self.now)
        reader = Reader(self)
        self.prompt_names = prompts.install(self, reader, {t.name for t in self.registry if self.visible(t)},
                                            {t.name for t in self.registry})
        resources.install(self, reader)

    # -- listing ---------------------------------------------------------------------------------------------------
    def visible(self, tool: ToolDef, apps: bool = False) -> bool:
        """Listed and callable: disabled tools never; read-only mode hides writes; a view-only tool exists only for
        MCP Apps clients."""
        if tool.app_only and not apps:
            return False
        return not tool.disabled and (tool.hints.read_only or not self.config.read_only)

    async def list_tools(self, apps: bool = False) -> list[Tool]:
        """`apps`: the client negotiated MCP Apps; any other client gets exactly the listing it always had.
        An OAuth caller sees only what its token's scopes let it call (neev_mcp/caller.py: None = unrestricted)."""
        granted = granted_scopes()
        return [to_mcp_tool(t, apps) for t in self.registry
                if self.visible(t, apps) and (granted is None or t.scope in granted)] + await super().list_tools()

    async def _handle_list_tools(self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
                                 ) -> ListToolsResult:
        # The SDK's list_tools() has no request context; the listing depends on the client's Apps support.
        return ListToolsResult(tools=await self.list_tools(apps=client_supports_apps(ctx)))

    async def _handle_list_resources(self, ctx: ServerRequestContext[Any], params: PaginatedRequestParams | None
                                     ) -> ListResourcesResult:
        listed = await self.list_resources()
        if not client_supports_apps(ctx):  # a ui:// view means nothing to a client that cannot render it
            listed = [r for r in listed if not str(r.uri).startswith("ui://")]
        return ListResourcesResult(resources=listed)

    def scope_for(self, method: str, params: Any) -> str | None:
        """The OAuth scope a JSON-RPC request needs (None: any valid token may send it; tools/list is filtered)."""
        if method == "tools/call":
            name = params.get("name") if isinstance(params, dict) else None
            tool = self.tools_by_name.get(name) if isinstance(name, str) else None
            return tool.scope if tool is not None else None
        return READ_SCOPE if method.startswith(("resources/", "prompts/", "completion/")) else None

    async def get_prompt(
        self, name: str, arguments: dict[str, Any] | None = None, context: Context | None = None
    ) -> GetPromptResult | InputRequiredResult:
        if name not in self.prompt_names:  # the client's mistake (-32602), not an internal error
            raise MCPError(code=INVALID_PARAMS, message=f"Unknown prompt {name!r}: prompts/list shows the prompts "
                           f"this server offers ({', '.join(sorted(self.prompt_names)) or 'none'}).")
        return await super().get_prompt(name, arguments, context)

    # -- calling ---------------------------------------------------------------------------------------------------
    async def call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        result = await self._call_tool(name, arguments, context)
        if isinstance(result, CallToolResult):  # every road (spec tools, helpers, gate previews) ends here
            for block in result.content:
                if isinstance(block, TextContent):
                    block.text = clip(block.text, MAX_RESULT_TEXT, marker=CLIPPED)
        return result

    async def _call_tool(
        self, name: str, arguments: dict[str, Any], context: Context | None = None
    ) -> CallToolResult | InputRequiredResult:
        tool = self.tools_by_name.get(name)
        apps = context is not None and client_supports_apps(context)
        if tool is None or (tool.app_only and not apps):
            if self._tool_manager.get_tool(name) is not None:  # one registered with the SDK itself
                return await super().call_tool(name, arguments, context)
            return error_result(self.unknown_tool(name, apps, context))
        if tool.disabled:  # its reviewed operation drifted in the loaded spec
            return error_result(f"{tool.disabled} Nothing was sent.")
        if not self.visible(tool, apps):
            return error_result(
                f"{name} is disabled: this server runs in read-only mode (--read-only / NEEV_READ_ONLY). "
                "Nothing was changed."
            )
        granted = granted_scopes(context)
        if granted is not None and tool.scope not in granted:  # the HTTP layer already answered 403; belt and braces
            return error_result(f"{name} needs the OAuth scope {tool.scope}, which this token lacks. Nothing was "
                                "changed.")
        try:
            args = self.prepare(tool, arguments or {})
            token = self.upstream_token(context)
            if tool.gated:
                return await self.gate.run(
                    tool,
                    args,
                    context,
                    fetch_target=lambda: self.fetch_target(tool, args, token),
                    execute=lambda target: self.execute(tool, args, target, context, token),
                )
            return await self.execute(tool, args, None, context, token)
        except NeevError as exc:
            return error_result(exc.message, exc.to_structured())
        except Exception:  # a bug must not take the server down; the model gets a generic, safe message
            log.exception("tool %s failed unexpectedly", name)
            return error_result(f"{name} failed because of an internal error in neev-mcp; nothing more is known. "
                                "The error was logged on the server.")

    def unknown_tool(self, name: str, apps: bool, context: Context | None) -> str:
        """'Unknown tool: x', naming the tools this client may call: the closest names first, at most MAX_NAMED."""
        granted = granted_scopes(context)
        offered = [t.name for t in self.registry if self.visible(t, apps) and (granted is None or t.scope in granted)]
        close = difflib.get_close_matches(name, offered, n=3, cutoff=0.75)
        named = [*close, *(n for n in offered if n not in close)][:MAX_NAMED]
        more = f" and {len(offered) - len(named)} more (tools/list shows them all)" if len(offered) > len(named) else ""
        guess = f"Did you mean {' or '.join(close)}? " if close else ""
        return (f"Unknown tool: {clip(name, 80, marker='...')}. {guess}The tools this server offers: "
                f"{', '.join(named) or 'none'}{more}.")

    def prepare(self, tool: ToolDef, arguments: dict[str, Any]) -> dict[str, Any]:
        """Fill configured org/project defaults, then validate everything against the tool's schema and rules."""
        args = dict(arguments)
        defaults = self.config.defaults
        for key in SCOPE_ARGS:
            if key in tool.input_schema["properties"] and args.get(key) is None and key in defaults:
                args[key] = defaults[key]
        problems = scope_problems(tool.input_schema, args, defaults)
        problems += [p for p in violations(tool.input_schema, args) or tool.problems(args) if p not in problems
                     and not any(p == f"{key}: required" for key in SCOPE_ARGS)]
        if problems:
            raise InvalidArguments(tool.name, problems)
        return normalise_integers(tool.input_schema, args)

    def upstream_token(self, context: Context | None) -> str | None:
        """The NeevCloud token for this request: None means the server's own (`NEEV_API_TOKEN`).

        Only pass-through mode (HTTP, `NEEV_MCP_AUTH=passthrough`) uses the request's own bearer, and then never the
        server's token; in every other mode the MCP client's Authorization header is never forwarded upstream.
        """
        if self.config.auth_mode != "passthrough":
            return None
        bearer = request_bearer(context.headers if context is not None else None)
        if bearer is None:
            raise NotConfigured("Pass-through mode: this request carries no 'Authorization: Bearer <NeevCloud "
                                "token>' header, so there is no token to call NeevCloud with. Nothing was sent.")
        return bearer

    def api(self, token: str | None) -> agent_tools.API:
        return agent_tools.API(self.client, self.tools_by_name, token)

    async def fetch_target(self, tool: ToolDef, args: dict[str, Any], token: str | None = None) -> dict[str, Any]:
        """The resource a gated tool would act on, read fresh from the API (for previews and re-checks); for a create,
        the resources that already have the name it would give."""
        api = self.api(token)
        if tool.kind is None and tool.action is not None and tool.action.creates is not None:
            return await self.namesakes(tool, args, token)
        assert tool.kind is not None
        path = {**scope_of(args), tool.kind.id_arg: args[tool.kind.id_arg]}
        data = await api.call(tool.kind.getter, path)
        target = data if isinstance(data, dict) else {}
        if target.get("is_attached") and target.get("vm_id"):
            # A refusal should name the VM holding the disk, not only its id.
            try:
                vm = await api.call(VM.getter, {**scope_of(args), VM.id_arg: target["vm_id"]})
                target = {**target, "vm_name": (vm or {}).get("name")}
            except NeevError:
                pass  # the id alone still explains the refusal
        return target

    async def execute(
        self,
        tool: ToolDef,
        args: dict[str, Any],
        target: dict[str, Any] | None,
        context: Context | None = None,
        token: str | None = None,
    ) -> CallToolResult:
        outcome = await self.answer(tool, args, target, context, token)
        return error_result(outcome.text, outcome.structured) if outcome.is_error else ok_result(*outcome[:2])

    async def answer(
        self,
        tool: ToolDef,
        args: dict[str, Any],
        target: dict[str, Any] | None = None,
        context: Context | None = None,
        token: str | None = None,
    ) -> agent_tools.Outcome:
        """What one validated (and, if gated, confirmed) call produces: the road's last two steps."""
        if tool.disabled:  # resources and prompts come here too
            raise NotConfigured(f"{tool.disabled} Nothing was sent.")
        if tool.run is not None:
            env = agent_tools.Env(self.now, _progress_reporter(context), self.limits, self.reach, self.view_actions,
                                  self.config.confirm, self.catalogue_tools, tool=tool.name)
            return await tool.run(self.api(token), args, env)
        assert tool.operation is not None and tool.summarise is not None
        api_args = {k: v for k, v in args.items() if k != CONFIRMATION_ARG}
        if target is None and tool.action is not None and tool.action.creates is not None:
            target = await self.namesakes(tool, api_args, token)  # the gate's preview already looked when gated
        path, query, body = tool.operation.split_arguments(api_args)
        started = self.now()
        try:
            response = await self.client.call(tool.operation, path, query, body, token=token,
                                              repeatable=tool.repeatable, unsure=tool.unsure,
                                              earlier=tool.earlier_attempt, not_found=tool.not_found)
        except NeevError as exc:  # a mutation whose answer was lost: look whether it happened before saying so
            settled = await unclear.settle(self.api(token), tool, api_args, exc, started, self.now)
            if settled is not None:
                return settled
            refused = options_refusal(tool, exc)
            if refused is None:
                raise
            return refused
        try:
            names = await self._vm_names(tool, api_args, response.data, token) if tool.names_vms else {}
            answer = summaries.Answer(tool.name, api_args, response.data, self.now(), tool.kind, tool.action, target,
                                      names, status=response.status)
            return agent_tools.Outcome(*tool.summarise(answer))
        except Exception:
            # The API already acted: an answer we cannot summarise (an off-spec field, say) must not read as a
            # failure, or the agent would repeat a create that succeeded.
            log.exception("could not summarise the answer to %s", tool.name)
            text = (f"{tool.title}: NeevCloud accepted the request (HTTP {response.status}), but its answer could not "
                    "be summarised; the full answer is in structuredContent.")
            structured = response.data if isinstance(response.data, dict) else {"value": response.data}
            return agent_tools.Outcome(text, structured)

    async def namesakes(self, tool: ToolDef, args: dict[str, Any], token: str | None) -> dict[str, Any]:
        """For a create: the resources of its kind that already have the name it would give (best effort)."""
        assert tool.action is not None and tool.action.creates is not None
        return await agent_tools.namesakes(self.api(token), tool.action.creates, scope_of(args),
                                           str(args.get("name") or ""), self.limits)

    async def _vm_names(self, tool: ToolDef, args: dict[str, Any], data: Any, token: str | None) -> dict[str, str]:
        """Names of the VMs that the root disks in `data` are attached to (bounded extra reads)."""
        data = data if isinstance(data, dict) else {}
        disks = data.get("data") if isinstance(data.get("data"), list) else [data]
        paging = data.get("pagination") or {}
        near = (int(paging.get("current_page") or 1) - 1) * int(paging.get("items_per_page") or 0)
        vm_ids = [d.get("vm_id") for d in disks if isinstance(d, dict)]
        return await agent_tools.vm_names(self.api(token), scope_of(args), vm_ids, self.limits, near)


class Reader:
    """What prompts and resources may ask of the server: text produced exactly the way the tools produce it."""

    def __init__(self, server: NeevServer) -> None:
        self._server = server
        self.default_scope: dict[str, str] | None = (dict(server.config.defaults)
                                                     if server.config.own_default_project else None)

    async def tool_text(self, tool_name: str, arguments: dict[str, Any], context: Context | None) -> str:
        """The text of a read-only tool's answer; raises `NeevError` (its message) when the call fails."""
        server = self._server
        tool = server.tools_by_name[tool_name]
        agent_tools.require_read(tool)
        token = server.upstream_token(context)
        outcome = await server.answer(tool, server.prepare(tool, arguments), None, context, token)
        if outcome.is_error:
            raise NeevError(outcome.text)
        return outcome.text

    async def vms_named(self, name: str, context: Context | None) -> tuple[dict[str, Any], agent_tools.Found]:
        """(the scope searched, the VMs called `name` in the configured project: every page, under the deadline)."""
        server = self._server
        scope = scope_of(server.prepare(server.tools_by_name[VM.lister], {}))
        api = server.api(server.upstream_token(context))
        return scope, await agent_tools.find_named(api, VM.lister, scope, name, server.limits)

    async def vm_names(self, typed: str = "") -> list[str]:
        """Names in the configured project containing `typed`, in listing order, each once, or none when that cannot
        be known.

        Pages are read through the walker until more than a completion's 100 names match, every page is read, or
        prompts.COMPLETION_DEADLINE passes: a person is waiting at the keyboard.
        """
        if self.default_scope is None:
            return []  # no project to list, or no server-side token: completion is best effort
        needle = typed.strip().lower()
        names: dict[int, str] = {}  # listing position → name

        def collect(page: int, items: list[dict[str, Any]]) -> None:
            names.update({page * 1000 + i: vm["name"] for i, vm in enumerate(items)
                          if isinstance(vm.get("name"), str) and needle in vm["name"].lower()})

        limits = self._server.limits
        try:
            await agent_tools.walk(self._server.api(None), self.default_scope,
                                   [walker.Collection(VM.lister, "VMs", collect)], limits,
                                   deadline=min(limits.deadline, prompts.COMPLETION_DEADLINE),
                                   enough=lambda: len(set(names.values())) > prompts.MAX_COMPLETIONS)
        except NeevError as exc:
            log.warning("completion could not list VMs: %s", exc.message)
            return []
        return list(dict.fromkeys(names[k] for k in sorted(names)))  # two VMs may share a name: offer it once

    async def option_values(self, category: str) -> list[str]:
        """One vm_options category's values, for completion, or none when they cannot be known: the catalogue's when
        the loaded spec has one, else those of the configured project (most used first), read through the walker
        within prompts.COMPLETION_DEADLINE."""
        if self.default_scope is None:
            return []
        server, scope = self._server, self.default_scope
        api = server.api(None)
        tool = server.catalogue_tools.get(category)
        if tool is not None:
            found = await agent_tools.read_catalogue(api, tool, category, scope)
            if not found.problem:
                return list(dict.fromkeys(e["id"] for e in found.entries))
        tally = options.OptionsTally()
        collections = [walker.Collection(VM.lister, "VMs", tally.add_vms),
                       walker.Collection(ROOT_DISK.lister, "root disks", tally.add_disks)]
        try:
            await agent_tools.walk(api, scope, collections, server.limits,
                                   deadline=min(server.limits.deadline, prompts.COMPLETION_DEADLINE))
        except NeevError as exc:
            log.warning("completion could not list the project's %s: %s", category, exc.message)
            return []
        rows = options.category_rows(tally, options.BY_KEY[category], None)
        return list(dict.fromkeys(row["id"] for row in rows))


def options_refusal(tool: ToolDef, exc: NeevError) -> agent_tools.Outcome | None:
    """A refused create (400/404) about a region, configuration, plan or image: the upstream message kept whole, the
    valid values it names passed on, and the tool that lists the options named (None: any other failure)."""
    if not tool.options_tool or not isinstance(exc, APIError) or exc.status not in (400, 404):
        return None
    found = options.refusal_with_options(exc.message, exc.api_message, exc.to_structured(), tool.options_tool)
    return agent_tools.Outcome(*found, is_error=True) if found else None


def scope_problems(schema: dict[str, Any], args: dict[str, Any], defaults: dict[str, str]) -> list[str]:
    """org_id / project_id missing with no default (say which setting gives one), or passed empty: an explicit empty
    id is a mistake, never a silent way back to the default project."""
    problems = []
    for key in SCOPE_ARGS:
        if key not in schema["properties"]:
            continue
        value, env, noun = args.get(key), SCOPE_ENV[key], SCOPE_NOUN[key]
        if value is None and key in schema.get("required", ()):
            problems.append(f"{key}: required; pass the {noun}'s id, or set {env} on the server so that calls may "
                            f"leave {key} out")
        elif isinstance(value, str) and not value.strip():
            fallback = (f"leave {key} out to use {env} ({defaults[key]})" if key in defaults
                        else f"set {env} on the server so that calls may leave {key} out")
            problems.append(f"{key}: {value!r} names no {noun}; pass the {noun}'s id, or {fallback}")
    return problems


def to_mcp_tool(tool: ToolDef, apps: bool = False) -> Tool:
    """The tool as listed; `_meta.ui` (the Apps binding) only for a client that negotiated MCP Apps."""
    h = tool.hints
    meta = None
    if apps and tool.ui is not None:
        meta = {"ui": {"resourceUri": tool.ui.resource_uri, "visibility": list(tool.ui.visibility)}}
    return Tool(
        name=tool.name,
        title=tool.title,
        description=tool.description,
        input_schema=tool.input_schema,
        output_schema=tool.output_schema,
        # No annotations.title: it would repeat `title` on every tool in every tools/list.
        annotations=ToolAnnotations(
            read_only_hint=h.read_only,
            destructive_hint=h.destructive,
            idempotent_hint=h.idempotent,
            open_world_hint=h.open_world,
        ),
        _meta=meta,
    )


# Upper bound on one result's text (a list page of 100 VMs is ~27,000 characters): a hostile upstream's huge names or
# messages must not turn into a flood in the agent's context.
MAX_RESULT_TEXT = 64_000
MAX_NAMED = 20  # tools an 'Unknown tool' answer names
CLIPPED = f"\n… [clipped: one result's text is capped at {MAX_RESULT_TEXT:,} characters]"


def ok_result(text: str, structured: dict[str, Any]) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)


def error_result(text: str, structured: dict[str, Any] | None = None) -> CallToolResult:
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured,
                          is_error=True)


def _progress_reporter(context: Context | None) -> Callable[[float, float | None, str], Awaitable[None]]:
    async def report(done: float, total: float | None, message: str) -> None:
        if context is not None:
            await context.report_progress(done, total, message=message)

    return report


@asynccontextmanager
async def _lifespan(server: MCPServer) -> AsyncIterator[None]:
    try:
        yield None
    finally:
        if isinstance(server, NeevServer):
            await server.client.aclose()


def announce_spec(spec: LoadedSpec, registry: list[ToolDef]) -> None:
    """At start-up, what a loaded spec changed: drifted reviewed tools (disabled), new unreviewed ones, leftovers."""
    if spec.vendored:
        return
    log.info("OpenAPI spec: %s (OpenAPI %s, %s)", spec.origin, spec.openapi_version, spec.title)
    for tool in registry:
        if tool.disabled:
            log.warning("%s", tool.disabled)
    new = [t for t in registry if t.unreviewed]
    if new:
        log.info("%d operation(s) not yet reviewed by neev-mcp offered as tools: %s", len(new),
                 ", ".join(f"{t.name} ({'gated' if t.gated else 'read-only' if t.hints.read_only else 'not gated'})"
                           for t in new))
    for label, why in not_offered(spec, registry):
        log.warning("spec operation %s is not offered as a tool: %s", label, why)


def load_spec_setting(settings: Settings) -> LoadedSpec:
    """NEEV_OPENAPI_SPEC / --spec, checked; a problem stops start-up with one sentence (`ConfigurationError`)."""
    try:
        return load_source(settings.openapi_spec)
    except SpecError as exc:
        raise ConfigurationError(f"invalid OpenAPI spec (NEEV_OPENAPI_SPEC / --spec): {exc}") from None


def build_server(settings: Settings, *, http_transport: Any = None, now: Callable[[], dt.datetime] | None = None,
                 sandbox: Any = None, limits: agent_tools.Limits | None = None,
                 spec: LoadedSpec | None = None) -> NeevServer:
    """A server for `settings`; with `settings.sandbox`, wired to an in-process simulated NeevCloud (`sandbox`, or a
    new one configured from the environment). `spec`: NEEV_OPENAPI_SPEC already loaded (else it is loaded here)."""
    spec = spec or load_spec_setting(settings)
    token = settings.api_token.get_secret_value() if settings.api_token else None
    base_url = settings.api_base_url
    if settings.sandbox and http_transport is None:
        if sandbox is None:
            from .sandbox import Sandbox  # imported only when used: keeps cold start lean

            try:
                sandbox = Sandbox()
            except (ValueError, OverflowError) as exc:  # NEEV_SANDBOX_SPEED / NEEV_SANDBOX_FAULTS
                raise ConfigurationError(f"invalid sandbox configuration: {exc}") from None
        http_transport = sandbox.transport()
        now = now or sandbox.clock.now
        base_url, token = "http://sandbox.neev-mcp.invalid/vm", sandbox.token
        settings = settings.model_copy(update={
            "org_id": settings.org_id or sandbox.org_id,
            "project_id": settings.project_id or sandbox.project_id,
        })
    client = NeevClient(
        base_url,
        token,
        transport=http_transport,
        timeouts=Timeouts(connect=settings.connect_timeout, read=settings.read_timeout),
        retry=RetryPolicy(attempts=settings.max_attempts, backoff=settings.retry_backoff),
        bounds=RequestBounds(deadline=settings.request_deadline, max_response_bytes=settings.max_response_bytes),
        token_source=("the bearer token your MCP client sends (pass-through mode)"
                      if settings.auth_mode == "passthrough" else "NEEV_API_TOKEN"),
    )
    return NeevServer(settings, client, now=now, limits=limits, spec=spec)
