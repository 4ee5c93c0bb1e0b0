"""OpenTelemetry test helpers: an in-memory exporter on the suite's tracer provider; the agent host's trace."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import NonRecordingSpan, SpanContext, TraceFlags

TRACE_ID = 0x4BF92F3577B34DA6A3CE929D0E0E4736  # the agent host's trace (W3C example values)
PARENT_ID = 0x00F067AA0BA902B7
VM_ROUTE = "/api/v1/orgs/{org_id}/projects/{project_id}/vms/{vm_id}"
EXPORTER = InMemorySpanExporter()


_attached: list[bool] = []


def exporter() -> InMemorySpanExporter:
    """The in-memory exporter, added once to the tracer provider tests/support/hygiene.py installs, and emptied."""
    if not _attached:
        provider = trace.get_tracer_provider()
        assert isinstance(provider, TracerProvider), "tests/support/hygiene.py installs the SDK's tracer provider"
        provider.add_span_processor(SimpleSpanProcessor(EXPORTER))
        _attached.append(True)
    EXPORTER.clear()
    return EXPORTER


@contextmanager
def agent_trace() -> Iterator[None]:
    """Run as if inside the agent host's span: the MCP client sends this trace in `params._meta.traceparent`."""
    remote = SpanContext(TRACE_ID, PARENT_ID, is_remote=True, trace_flags=TraceFlags(TraceFlags.SAMPLED))
    token = otel_context.attach(trace.set_span_in_context(NonRecordingSpan(remote)))
    try:
        yield
    finally:
        otel_context.detach(token)


def named(exporter: InMemorySpanExporter, name: str) -> list[ReadableSpan]:
    return [s for s in exporter.get_finished_spans() if s.name == name]


def traceparent(span: ReadableSpan) -> str:
    ctx = span.get_span_context()
    return f"00-{ctx.trace_id:032x}-{ctx.span_id:016x}-{ctx.trace_flags:02x}"
