"""Traces, metrics and the caller in audit lines, seen through real MCP clients and the sandbox's request log.

Spans come from the global tracer provider that tests/support/hygiene.py installs (the whole suite runs with tracing
on, and every span is scanned for secrets), through an in-memory exporter (the `spans` fixture). Metrics go to an
in-memory reader through the same sink the OTLP path uses, and to the Prometheus store that serves `/metrics`.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from mcp import Client
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind
from prometheus_client.parser import text_string_to_metric_families

from neev_mcp import telemetry
from neev_mcp.otel import OtelSink
from neev_mcp.prometheus import PrometheusStore
from neev_mcp.sandbox import Fault, Sandbox

from .conftest import MakeServer, vm_path
from .support import hygiene as _hygiene
from .support import vm_id
from .support.gate import User, audit_lines
from .support.otel import TRACE_ID, VM_ROUTE, agent_trace, named, traceparent

pytestmark = pytest.mark.anyio

def points(reader: InMemoryMetricReader, name: str) -> dict[tuple[tuple[str, Any], ...], Any]:
    """label set → value (counters) or count (histograms) of one metric."""
    data = reader.get_metrics_data()
    out: dict[tuple[tuple[str, Any], ...], Any] = {}
    for resource in data.resource_metrics if data else []:
        for scope in resource.scope_metrics:
            for metric in scope.metrics:
                if metric.name == name:
                    for point in metric.data.data_points:
                        out[tuple(sorted(point.attributes.items()))] = getattr(point, "value", None) \
                            if not hasattr(point, "bucket_counts") else point.count
    return out


@pytest.fixture
async def modern(make_server: MakeServer) -> AsyncIterator[Client]:
    async with Client(make_server(), raise_exceptions=True) as client:
        yield client


@pytest.fixture
def reader() -> Iterator[InMemoryMetricReader]:
    """An in-memory metric reader fed through `OtelSink`, the sink `neev-mcp[otel]` installs for OTLP."""
    metric_reader = InMemoryMetricReader()
    sink = OtelSink(MeterProvider(metric_readers=[metric_reader]).get_meter("test"))
    telemetry.add_sink(sink)
    yield metric_reader
    telemetry.remove_sink(sink)


@pytest.fixture
def store() -> Iterator[PrometheusStore]:
    prometheus = PrometheusStore()
    telemetry.add_sink(prometheus)
    yield prometheus
    telemetry.remove_sink(prometheus)


# -- traces ---------------------------------------------------------------------------------------------------------
async def test_a_tool_call_is_one_trace_down_to_the_neevcloud_request_and_the_traceparent_goes_upstream(
    modern: Client, sandbox: Sandbox, spans: InMemorySpanExporter
) -> None:
    web = vm_id(sandbox, "web-1")
    with agent_trace():
        result = await modern.call_tool("get_vm", {"vm_id": web})
    assert not result.is_error
    (call,) = named(spans, "tools/call get_vm")  # the SDK's SERVER span, continuing the client's trace
    (upstream,) = named(spans, f"GET {VM_ROUTE}")
    assert call.kind is SpanKind.SERVER and upstream.kind is SpanKind.CLIENT
    assert call.context.trace_id == upstream.context.trace_id == TRACE_ID
    assert upstream.parent is not None and upstream.parent.span_id == call.context.span_id
    assert dict(upstream.attributes or {}) == {
        "http.request.method": "GET", "url.template": VM_ROUTE, "neev.operation": "getVM", "neev.attempt": 1,
        "http.response.status_code": 200,
    }
    assert call.attributes is not None
    assert (call.attributes["neev.caller"], call.attributes["neev.outcome"]) == ("local", "ok")
    (request,) = sandbox.requests
    assert request.path == vm_path(web)
    assert request.headers["traceparent"] == traceparent(upstream)  # NeevCloud can continue the same trace


async def test_a_retried_request_is_one_span_per_attempt_with_its_number_and_the_reason(
    modern: Client, sandbox: Sandbox, spans: InMemorySpanExporter, reader: InMemoryMetricReader
) -> None:
    sandbox.add_faults(Fault(kind="status", status=503, count=1))
    result = await modern.call_tool("get_vm", {"vm_id": vm_id(sandbox, "db-1")})
    assert not result.is_error
    first, second = sorted(named(spans, f"GET {VM_ROUTE}"), key=lambda s: s.start_time or 0)
    assert first.attributes is not None and second.attributes is not None
    assert (first.attributes["neev.attempt"], first.attributes["http.response.status_code"],
            first.attributes["error.type"]) == (1, 503, "503")
    assert (second.attributes["neev.attempt"], second.attributes["http.request.resend_count"],
            second.attributes["neev.retry.reason"], second.attributes["http.response.status_code"]) == (
        2, 1, "ServerError 503", 200)
    assert [r.headers["traceparent"] for r in sandbox.requests] == [traceparent(first), traceparent(second)]
    assert points(reader, telemetry.UPSTREAM_RETRIES) == {
        (("neev.retry.reason", "ServerError 503"), ("url.template", VM_ROUTE)): 1}


async def test_gate_decisions_are_span_events_and_audit_lines_carry_the_caller_and_the_trace_id(
    make_server: MakeServer, sandbox: Sandbox, spans: InMemorySpanExporter, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(audit_log=audit), mode="legacy", elicitation_callback=User("decline")) as client:
        with agent_trace():
            result = await client.call_tool("delete_vm", {"vm_id": web})
    assert result.is_error and sandbox.vms[web].status == "running"
    (call,) = named(spans, "tools/call delete_vm")
    decisions = [dict(e.attributes or {}) for e in call.events if e.name == "neev.gate.decision"]
    assert decisions == [
        {"neev.gate.decision": "requested", "gen_ai.tool.name": "delete_vm", "neev.gate.channel": "elicitation"},
        {"neev.gate.decision": "declined", "gen_ai.tool.name": "delete_vm", "neev.gate.channel": "elicitation",
         "neev.gate.reason": "declined"},
    ]
    assert call.attributes is not None and call.attributes["neev.outcome"] == "gated-declined"
    assert [(line["event"], line["caller"], line["trace_id"]) for line in audit_lines(audit)] == [
        ("requested", "local", f"{TRACE_ID:032x}"), ("declined", "local", f"{TRACE_ID:032x}")]


async def test_no_span_carries_the_token_the_secret_or_a_confirmation_token(
    modern: Client, sandbox: Sandbox, spans: InMemorySpanExporter
) -> None:
    web = vm_id(sandbox, "web-1")
    preview = await modern.call_tool("delete_vm", {"vm_id": web})
    token = preview.structured_content["confirmation_token"]
    done = await modern.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    assert not done.is_error and sandbox.vms[web].status == "deleting"
    everything = "\n".join(_hygiene.span_text(s) for s in spans.get_finished_spans())
    assert "DELETE " + VM_ROUTE in everything
    assert _hygiene.leaks(everything) == [] and token not in everything  # the suite-wide scan checks spans too
    assert "Bearer" not in everything and "authorization" not in everything.lower()


# -- metrics --------------------------------------------------------------------------------------------------------
async def _a_mixed_session(client: Client, sandbox: Sandbox) -> None:
    """2 × list_vms ok, 1 × get_vm 404 (isError), 1 × delete_vm preview (confirmation-requested), 1 × bad args."""
    await client.call_tool("list_vms", {})
    await client.call_tool("list_vms", {"limit": 5})
    missing = await client.call_tool("get_vm", {"vm_id": "00000000-0000-4000-8000-000000000000"})
    assert missing.is_error
    await client.call_tool("delete_vm", {"vm_id": vm_id(sandbox, "web-1")})
    bad = await client.call_tool("get_vm", {"vm_id": ""})
    assert bad.is_error


async def test_metrics_count_tool_calls_by_outcome_upstream_statuses_and_gate_decisions(
    modern: Client, sandbox: Sandbox, reader: InMemoryMetricReader
) -> None:
    await _a_mixed_session(modern, sandbox)

    def tool(name: str, outcome: str) -> tuple[tuple[str, Any], ...]:
        return (("gen_ai.tool.name", name), ("neev.outcome", outcome))

    assert points(reader, telemetry.TOOL_CALLS) == {
        tool("list_vms", "ok"): 2, tool("get_vm", "isError"): 2, tool("delete_vm", "confirmation-requested"): 1}
    assert points(reader, telemetry.OPERATION_DURATION) == {
        (("gen_ai.tool.name", "list_vms"), ("mcp.method.name", "tools/call"), ("neev.outcome", "ok")): 2,
        (("gen_ai.tool.name", "get_vm"), ("mcp.method.name", "tools/call"), ("neev.outcome", "isError")): 2,
        (("gen_ai.tool.name", "delete_vm"), ("mcp.method.name", "tools/call"),
         ("neev.outcome", "confirmation-requested")): 1,
    }
    routes = points(reader, telemetry.UPSTREAM_DURATION)
    assert routes == {
        (("http.request.method", "GET"), ("http.response.status_code", "200"),
         ("url.template", "/api/v1/orgs/{org_id}/projects/{project_id}/vms")): 2,
        (("error.type", "404"), ("http.request.method", "GET"), ("http.response.status_code", "404"),
         ("url.template", VM_ROUTE)): 1,
        (("http.request.method", "GET"), ("http.response.status_code", "200"), ("url.template", VM_ROUTE)): 1,
    }, routes  # the delete preview read the VM; the invalid call sent nothing
    assert points(reader, telemetry.GATE_DECISIONS) == {
        (("gen_ai.tool.name", "delete_vm"), ("neev.gate.channel", "token"), ("neev.gate.decision", "requested")): 1}
    assert points(reader, telemetry.OPEN_SESSIONS) == {(): 0}  # in process: no HTTP sessions


async def test_refusals_and_declines_have_their_own_outcomes(
    make_server: MakeServer, sandbox: Sandbox, reader: InMemoryMetricReader
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(), mode="legacy", elicitation_callback=User("decline")) as client:
        await client.call_tool("delete_vm", {"vm_id": web})
    async with Client(make_server(confirm_fallback="deny")) as client:
        await client.call_tool("delete_vm", {"vm_id": web})
    async with Client(make_server()) as client:
        await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": "forged"})
        await client.call_tool("no_such_tool", {})
    counts = points(reader, telemetry.TOOL_CALLS)
    assert counts == {(("gen_ai.tool.name", "delete_vm"), ("neev.outcome", "gated-declined")): 1,
                      (("gen_ai.tool.name", "delete_vm"), ("neev.outcome", "refused")): 2,
                      (("gen_ai.tool.name", "unknown"), ("neev.outcome", "isError")): 1}, counts


async def test_the_prometheus_text_parses_and_counts_what_was_called(
    modern: Client, sandbox: Sandbox, store: PrometheusStore
) -> None:
    await _a_mixed_session(modern, sandbox)
    families = {f.name: f for f in text_string_to_metric_families(store.render())}
    calls = {(s.labels["gen_ai_tool_name"], s.labels["neev_outcome"]): s.value
             for s in families["neev_mcp_tool_calls"].samples}
    assert calls == {("list_vms", "ok"): 2, ("get_vm", "isError"): 2, ("delete_vm", "confirmation-requested"): 1}
    histogram = families["mcp_server_operation_duration_seconds"]
    assert histogram.type == "histogram"
    counts = {s.labels["gen_ai_tool_name"]: s.value for s in histogram.samples
              if s.name.endswith("_count") and s.labels["neev_outcome"] != "isError"}
    assert counts == {"list_vms": 2, "delete_vm": 1}
    statuses: Counter[str] = Counter()
    for sample in families["http_client_request_duration_seconds"].samples:
        if sample.name.endswith("_count"):
            statuses[sample.labels["http_response_status_code"]] += int(sample.value)
    assert statuses == {"200": 3, "404": 1}  # 2 × list, the preview's read of the VM; the unknown VM


# -- switching on ---------------------------------------------------------------------------------------------------
def test_the_otel_switch_reads_only_the_standard_variables() -> None:
    assert not telemetry.otel_requested({})
    assert not telemetry.otel_requested({"OTEL_SERVICE_NAME": "x", "OTEL_TRACES_EXPORTER": "none"})
    assert telemetry.otel_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"})
    assert not telemetry.otel_requested({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318",
                                         "OTEL_SDK_DISABLED": "true"})
