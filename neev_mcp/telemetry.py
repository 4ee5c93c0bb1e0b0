"""Traces and metrics: what neev-mcp did, for operators; a no-op unless switched on.

    tools/call X   SERVER span, made by the MCP SDK (it continues the client's `traceparent` from `params._meta`)
    ├── event neev.gate.decision         one per audited confirmation decision (requested, confirmed, declined…)
    └── GET /api/v1/orgs/{org_id}/…      CLIENT span per NeevCloud request attempt; `traceparent` goes upstream

Spans use the OpenTelemetry *API*, which the MCP SDK already imports: without an SDK configured they cost a few
microseconds and record nothing, yet a client's `traceparent` still reaches NeevCloud (the no-op span carries the
client's context). `setup_from_env()` installs the SDK and OTLP exporters only when `OTEL_*` variables ask for them
(the `neev-mcp[otel]` extra), and the Prometheus store only with `NEEV_MCP_METRICS=1`; otherwise no sink exists and
a metric is one loop over an empty list.

Nothing secret goes into a span or a metric: names, route templates (never the raw path), statuses, error class
names, tool names and the caller label from `caller.py` (a hash prefix, never a token).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

from opentelemetry import propagate, trace
from opentelemetry.trace import SpanKind, StatusCode

from . import __version__

log = logging.getLogger("neev_mcp.telemetry")
_tracer = trace.get_tracer("neev_mcp", __version__)

# Instruments: name → (kind, unit, description). OpenTelemetry names; Prometheus names are derived from them.
TOOL_CALLS = "neev_mcp.tool.calls"
OPERATION_DURATION = "mcp.server.operation.duration"
UPSTREAM_DURATION = "http.client.request.duration"
UPSTREAM_RETRIES = "neev_mcp.upstream.retries"
GATE_DECISIONS = "neev_mcp.gate.decisions"
OPEN_SESSIONS = "neev_mcp.sessions.open"
INSTRUMENTS: dict[str, tuple[str, str, str]] = {
    TOOL_CALLS: ("counter", "{call}", "Tool calls by tool and outcome"),
    OPERATION_DURATION: ("histogram", "s", "Duration of MCP tool calls, by tool and outcome"),
    UPSTREAM_DURATION: ("histogram", "s", "NeevCloud request attempts: latency by method, route and status"),
    UPSTREAM_RETRIES: ("counter", "{retry}", "NeevCloud requests sent again, by route and reason"),
    GATE_DECISIONS: ("counter", "{decision}", "Confirmation gate decisions, by tool, decision and channel"),
    OPEN_SESSIONS: ("gauge", "{session}", "Open stateful MCP sessions on the HTTP transport"),
}
# OpenTelemetry's advice for HTTP durations (seconds)
BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0)


class Sink(Protocol):
    """Where metric points go: the Prometheus store, OpenTelemetry instruments, a test's reader."""

    def add(self, name: str, value: float, labels: Mapping[str, str]) -> None: ...

    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None: ...


@dataclass
class Hub:
    sinks: list[Sink] = field(default_factory=list)
    open_sessions: Callable[[], int] | None = None  # set by the HTTP transport

    def add(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        for sink in self.sinks:
            sink.add(name, value, labels)

    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        for sink in self.sinks:
            sink.record(name, value, labels)

    def sessions(self) -> int:
        return self.open_sessions() if self.open_sessions is not None else 0


HUB = Hub()


def add_sink(sink: Sink) -> None:
    if sink not in HUB.sinks:
        HUB.sinks.append(sink)


def remove_sink(sink: Sink) -> None:
    if sink in HUB.sinks:
        HUB.sinks.remove(sink)


# -- which trace --------------------------------------------------------------------------------------------
def current_trace_id() -> str | None:
    """The W3C trace id of the request in progress (the client's, when it sent one), for joining audit and traces."""
    ctx = trace.get_current_span().get_span_context()
    return format(ctx.trace_id, "032x") if ctx.is_valid else None


# -- tool calls -----------------------------------------------------------------------------------------------------
def outcome_of(result: Any) -> str:
    """ok, isError, refused (the gate said no), gated-declined (the user said no), confirmation-requested."""
    if getattr(result, "result_type", None) == "input_required" or _field(result, "resultType") == "input_required":
        return "confirmation-requested"
    structured = _field(result, "structured_content", "structuredContent") or {}
    decision = structured.get("decision") if isinstance(structured, dict) else None
    if _field(result, "is_error", "isError"):
        if decision in ("declined", "cancelled"):
            return "gated-declined"
        return "refused" if decision else "isError"
    if isinstance(structured, dict) and structured.get("confirmation_required"):
        return "confirmation-requested"
    return "ok"


def _field(result: Any, *names: str) -> Any:
    for name in names:
        value = result.get(name) if isinstance(result, dict) else getattr(result, name, None)
        if value is not None:
            return value
    return None


class ToolCallTelemetry:
    """SDK middleware (runs inside the SDK's own span): the caller and the outcome on that span; tool metrics."""

    def __init__(self, known_tools: Callable[[str], bool]) -> None:
        from .caller import caller_of  # here, not at the top: caller → registry → client → telemetry is a cycle

        self.known_tools = known_tools
        self.caller_of = caller_of

    async def __call__(self, ctx: Any, call_next: Callable[[Any], Any]) -> Any:
        if ctx.method != "tools/call":
            return await call_next(ctx)
        name = (ctx.params or {}).get("name")
        # Unknown names are the client's to choose: one label for all of them keeps /metrics bounded.
        tool = name if isinstance(name, str) and self.known_tools(name) else "unknown"
        caller = self.caller_of(ctx)
        span = trace.get_current_span()
        span.set_attribute("neev.caller", caller)
        began, outcome = time.perf_counter(), "error"  # "error": a JSON-RPC error (raised), not a tool result
        try:
            result = await call_next(ctx)
            outcome = outcome_of(result)
            return result
        finally:
            span.set_attribute("neev.outcome", outcome)
            labels = {"gen_ai.tool.name": tool, "neev.outcome": outcome}
            HUB.add(TOOL_CALLS, 1, labels)
            HUB.record(OPERATION_DURATION, time.perf_counter() - began, {"mcp.method.name": "tools/call", **labels})


# -- gate decisions -------------------------------------------------------------------------------------------------
def gate_decision(event: str, tool: str, channel: str, reason: str | None) -> None:
    attributes = {"neev.gate.decision": event, "gen_ai.tool.name": tool, "neev.gate.channel": channel}
    if reason:
        attributes["neev.gate.reason"] = reason
    trace.get_current_span().add_event("neev.gate.decision", attributes)
    HUB.add(GATE_DECISIONS, 1, {"gen_ai.tool.name": tool, "neev.gate.decision": event, "neev.gate.channel": channel})


# -- upstream requests ----------------------------------------------------------------------------------------------
@dataclass
class Attempt:
    """One NeevCloud request attempt in flight: the headers to send (with `traceparent`) and, later, its status."""

    headers: dict[str, str]
    status: int | None = None


def retry_reason(exc: BaseException) -> str:
    """Why an attempt is being repeated: the failure's class, with the HTTP status when there was one."""
    status = getattr(exc, "status", None)
    return f"{type(exc).__name__} {status}" if status else type(exc).__name__


@contextmanager
def upstream(
    method: str, route: str, operation_id: str, attempt: int, reason: str | None, headers: Mapping[str, str]
) -> Iterator[Attempt]:
    """A CLIENT span around one attempt; the caller sends `Attempt.headers` and sets `Attempt.status`."""
    attributes: dict[str, Any] = {"http.request.method": method, "url.template": route,
                                  "neev.operation": operation_id, "neev.attempt": attempt + 1}
    if attempt:
        attributes["http.request.resend_count"] = attempt
        attributes["neev.retry.reason"] = reason or "unknown"
        HUB.add(UPSTREAM_RETRIES, 1, {"url.template": route, "neev.retry.reason": reason or "unknown"})
    began = time.perf_counter()
    with _tracer.start_as_current_span(f"{method} {route}", kind=SpanKind.CLIENT, attributes=attributes,
                                       record_exception=False, set_status_on_exception=False) as span:
        sent = dict(headers)
        propagate.inject(sent)  # W3C traceparent (+ tracestate/baggage) of this span, or of the client's
        current = Attempt(sent)
        error_type: str | None = None
        try:
            yield current
        except BaseException as exc:
            current.status = current.status or getattr(exc, "status", None)
            error_type = type(exc).__name__
            raise
        finally:
            labels = {"http.request.method": method, "url.template": route,
                      "http.response.status_code": str(current.status or 0)}
            if current.status:
                span.set_attribute("http.response.status_code", current.status)
            if error_type or (current.status or 0) >= 400:
                # semconv: the status code for an HTTP error, else the failure's class (Timeout, BadResponse…)
                labels["error.type"] = str(current.status) if (current.status or 0) >= 400 else str(error_type)
                span.set_attribute("error.type", labels["error.type"])
                span.set_status(StatusCode.ERROR)
            HUB.record(UPSTREAM_DURATION, time.perf_counter() - began, labels)


# -- switching on ---------------------------------------------------------------------------------------------------
OTEL_SWITCHES = ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
                 "OTEL_EXPORTER_OTLP_METRICS_ENDPOINT", "OTEL_TRACES_EXPORTER", "OTEL_METRICS_EXPORTER")


def otel_requested(environ: Mapping[str, str]) -> bool:
    """The standard variables ask for an exporter (and OTEL_SDK_DISABLED does not forbid it)."""
    if environ.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return False
    return any(environ.get(name, "").strip() not in ("", "none") for name in OTEL_SWITCHES)


def setup_from_env(environ: Mapping[str, str] | None = None) -> bool:
    """Install the OpenTelemetry SDK and OTLP exporters when `OTEL_*` asks for them; True when installed."""
    env = os.environ if environ is None else environ
    if not otel_requested(env):
        return False
    try:
        from . import otel  # the SDK is imported only here: zero cost for everyone who did not ask
    except ImportError:
        log.warning("OTEL_* variables are set but the OpenTelemetry SDK is not installed: "
                    "pip install 'neev-mcp[otel]' to export traces and metrics")
        return False
    return otel.configure(env)
