"""The OpenTelemetry SDK side (the `neev-mcp[otel]` extra): imported only when `OTEL_*` variables ask for it.

Everything is configured by the standard variables, read by the SDK and the OTLP/HTTP exporters themselves:
`OTEL_EXPORTER_OTLP_ENDPOINT` (or the per-signal `…_TRACES_ENDPOINT` / `…_METRICS_ENDPOINT`), `…_HEADERS`,
`OTEL_SERVICE_NAME` (default here: `neev-mcp`), `OTEL_RESOURCE_ATTRIBUTES`, `OTEL_TRACES_SAMPLER`,
`OTEL_METRIC_EXPORT_INTERVAL`, and `OTEL_TRACES_EXPORTER` / `OTEL_METRICS_EXPORTER` (`otlp`, `console` or `none`).
A provider that is already installed (e.g. by `opentelemetry-instrument`) is kept.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.metrics import CallbackOptions, Meter, Observation
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import ConsoleMetricExporter, MetricExporter, PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter, SpanExporter

from . import __version__
from .telemetry import BUCKETS, HUB, INSTRUMENTS, OPEN_SESSIONS, add_sink

log = logging.getLogger("neev_mcp.telemetry")


class OtelSink:
    """Metric points → OpenTelemetry instruments on `meter` (exported by whatever reader its provider has)."""

    def __init__(self, meter: Meter) -> None:
        self._instruments: dict[str, Any] = {}
        for name, (kind, unit, description) in INSTRUMENTS.items():
            if kind == "counter":
                self._instruments[name] = meter.create_counter(name, unit=unit, description=description)
            elif kind == "histogram":
                self._instruments[name] = meter.create_histogram(
                    name, unit=unit, description=description, explicit_bucket_boundaries_advisory=list(BUCKETS))
        _, unit, description = INSTRUMENTS[OPEN_SESSIONS]
        meter.create_observable_gauge(OPEN_SESSIONS, callbacks=[_sessions], unit=unit, description=description)

    def add(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        self._instruments[name].add(value, dict(labels))

    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        self._instruments[name].record(value, dict(labels))


def _sessions(_: CallbackOptions) -> list[Observation]:
    return [Observation(HUB.sessions())]


def _exporter_choice(env: Mapping[str, str], signal: str) -> str:
    choice = env.get(f"OTEL_{signal}_EXPORTER", "otlp").strip().lower() or "otlp"
    if choice not in ("otlp", "console", "none"):
        log.warning("OTEL_%s_EXPORTER=%s is not supported by neev-mcp[otel] (otlp, console, none): using otlp",
                    signal, choice)
        choice = "otlp"
    if choice == "otlp" and env.get("OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf").strip() != "http/protobuf":
        log.warning("neev-mcp[otel] exports OTLP over http/protobuf only; OTEL_EXPORTER_OTLP_PROTOCOL is ignored")
    return choice


def _span_exporter(choice: str) -> SpanExporter:
    if choice == "console":
        return ConsoleSpanExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter()


def _metric_exporter(choice: str) -> MetricExporter:
    if choice == "console":
        return ConsoleMetricExporter()
    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter

    return OTLPMetricExporter()


def configure(env: Mapping[str, str]) -> bool:
    """Install tracer and meter providers with the chosen exporters; True when at least one signal is exported."""
    resource = Resource.create({SERVICE_NAME: env.get("OTEL_SERVICE_NAME") or "neev-mcp",
                                "service.version": __version__})
    traces, metric_choice = _exporter_choice(env, "TRACES"), _exporter_choice(env, "METRICS")
    if traces != "none" and isinstance(trace.get_tracer_provider(), trace.ProxyTracerProvider):
        provider = TracerProvider(resource=resource)
        provider.add_span_processor(BatchSpanProcessor(_span_exporter(traces)))
        trace.set_tracer_provider(provider)  # the MCP SDK's spans and ours now go to the exporter
    if metric_choice != "none":
        meter_provider = metrics.get_meter_provider()
        if not isinstance(meter_provider, MeterProvider):
            meter_provider = MeterProvider(resource=resource, metric_readers=[
                PeriodicExportingMetricReader(_metric_exporter(metric_choice))])
            metrics.set_meter_provider(meter_provider)
        add_sink(OtelSink(meter_provider.get_meter("neev_mcp", __version__)))
    log.info("OpenTelemetry: traces → %s, metrics → %s", traces, metric_choice)
    return traces != "none" or metric_choice != "none"
