"""Telemetry of real `neev-mcp --transport http` processes: `/metrics`, OTLP export, trace pass-through, zero cost.

The OTLP collector is a recording HTTP server on loopback; its requests are decoded with the OTLP protobuf classes.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx2
import pytest
from mcp import Client
from mcp.client.streamable_http import streamable_http_client
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from prometheus_client.parser import text_string_to_metric_families

from .support import hygiene as _hygiene
from .support.http import AUTH_TOKEN, VM_IDS, Proc, free_port, running_stack, sandbox_requests
from .support.otel import TRACE_ID, VM_ROUTE, agent_trace, named, traceparent

pytestmark = [pytest.mark.anyio, pytest.mark.slow]
REPO = Path(__file__).resolve().parent.parent
READY = 60.0  # seconds to start: generous, the CI machine is shared
METRICS_TOKEN = "metrics-scrape-token-0123456789abcdef"
_hygiene.watch(METRICS_TOKEN, "NEEV_MCP_METRICS_TOKEN")


@asynccontextmanager
async def connect(server: Proc, **client_args: Any) -> AsyncIterator[Client]:
    http = httpx2.AsyncClient(headers={"Authorization": f"Bearer {AUTH_TOKEN}"}, timeout=10.0)
    async with http, Client(streamable_http_client(server.url + "/mcp", http_client=http), **client_args) as client:
        yield client


def scrape(server: Proc, token: str | None = METRICS_TOKEN, host: str | None = None) -> httpx2.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if host:
        headers["Host"] = host
    return httpx2.get(server.url + "/metrics", headers=headers, timeout=5.0)


def samples(text: str, family: str) -> dict[tuple[tuple[str, str], ...], float]:
    for parsed in text_string_to_metric_families(text):
        if parsed.name == family:
            return {tuple(sorted(s.labels.items())): s.value for s in parsed.samples}
    raise AssertionError(f"{family} missing from /metrics")


async def test_metrics_count_a_session_behind_the_host_guard_and_the_scrape_token(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    env = {"NEEV_MCP_AUTH_TOKEN": AUTH_TOKEN, "NEEV_MCP_METRICS": "1", "NEEV_MCP_METRICS_TOKEN": METRICS_TOKEN,
           "NEEV_MCP_AUDIT_LOG": str(audit)}
    with running_stack({"server": ((), env)}, timeout=READY) as stack:
        server = stack["server"]
        assert scrape(server, host="evil.example").status_code == 421  # the same DNS-rebinding guard as /mcp
        assert scrape(server, token=None).status_code == 401
        assert scrape(server, token=AUTH_TOKEN).status_code == 401  # the MCP bearer is not the scrape token
        async with connect(server, mode="legacy") as client:  # a handshake-era client holds a stateful session
            with agent_trace():
                await client.call_tool("list_vms", {})
                await client.call_tool("list_vms", {"limit": 2})
                await client.call_tool("get_vm", {"vm_id": VM_IDS["web-1"]})
                preview = await client.call_tool("delete_vm", {"vm_id": VM_IDS["db-1"]})
            assert preview.structured_content["confirmation_required"] is True
            during = scrape(server)
        after = scrape(server)
    assert during.status_code == 200 and during.headers["content-type"].startswith("text/plain; version=0.0.4")
    assert samples(during.text, "neev_mcp_sessions_open") == {(): 1.0}
    assert samples(after.text, "neev_mcp_sessions_open") == {(): 0.0}
    assert samples(during.text, "neev_mcp_tool_calls") == {
        (("gen_ai_tool_name", "list_vms"), ("neev_outcome", "ok")): 2.0,
        (("gen_ai_tool_name", "get_vm"), ("neev_outcome", "ok")): 1.0,
        (("gen_ai_tool_name", "delete_vm"), ("neev_outcome", "confirmation-requested")): 1.0,
    }
    assert samples(during.text, "neev_mcp_gate_decisions") == {
        (("gen_ai_tool_name", "delete_vm"), ("neev_gate_channel", "token"), ("neev_gate_decision", "requested")): 1.0}
    upstream = {k: v for k, v in samples(during.text, "http_client_request_duration_seconds").items()
                if dict(k).get("le") == "+Inf"}
    assert sum(upstream.values()) == 4  # 2 lists, the VM, the VM the preview describes
    (line,) = [line for line in audit.read_text().splitlines() if line]
    caller = "bearer:" + hashlib.sha256(AUTH_TOKEN.encode()).hexdigest()[:12]
    entry = json.loads(line)
    assert (entry["caller"], entry["trace_id"]) == (caller, f"{TRACE_ID:032x}")
    assert AUTH_TOKEN not in during.text + after.text + audit.read_text()


async def test_without_an_sdk_the_clients_traceparent_still_reaches_neevcloud(spans: InMemorySpanExporter) -> None:
    with running_stack({"server": ((), {"NEEV_MCP_AUTH_TOKEN": AUTH_TOKEN})}, timeout=READY) as stack:
        async with connect(stack["server"]) as client:
            with agent_trace():
                result = await client.call_tool("get_vm", {"vm_id": VM_IDS["web-1"]})
        (request,) = sandbox_requests(stack["sandbox"], "GET")
    assert not result.is_error
    (sent,) = named(spans, "MCP send tools/call get_vm")  # the client's span, in this test process
    assert sent.context.trace_id == TRACE_ID
    # The server has no SDK: its spans are no-ops that carry the client's context, so the request continues it.
    assert request["headers"]["traceparent"] == traceparent(sent)


class Collector:
    """A recording OTLP/HTTP endpoint on loopback: every POST body, decompressed, by path."""

    def __init__(self) -> None:
        self.received: list[tuple[str, bytes]] = []
        received = self.received

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                if self.headers.get("Content-Encoding") == "gzip":
                    body = gzip.decompress(body)
                received.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Type", "application/x-protobuf")
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, *_: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def bodies(self, path: str) -> list[bytes]:
        return [body for p, body in self.received if p == path]


@pytest.fixture
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()
    c.server.server_close()


def exported_spans(collector: Collector) -> list[Any]:
    out = []
    for body in collector.bodies("/v1/traces"):
        request = ExportTraceServiceRequest.FromString(body)
        for resource in request.resource_spans:
            service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
            out += [(service, span) for scope in resource.scope_spans for span in scope.spans]
    return out


def exported_metric_names(collector: Collector) -> set[str]:
    names = set()
    for body in collector.bodies("/v1/metrics"):
        for resource in ExportMetricsServiceRequest.FromString(body).resource_metrics:
            names |= {m.name for scope in resource.scope_metrics for m in scope.metrics}
    return names


async def test_with_otlp_configured_a_call_is_one_exported_trace_down_to_the_neevcloud_request(
    collector: Collector,
) -> None:
    env = {"NEEV_MCP_AUTH_TOKEN": AUTH_TOKEN, "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
           "OTEL_BSP_SCHEDULE_DELAY": "100", "OTEL_METRIC_EXPORT_INTERVAL": "300"}
    with running_stack({"server": ((), env)}, timeout=READY) as stack:
        async with connect(stack["server"]) as client:
            with agent_trace():
                await client.call_tool("get_vm", {"vm_id": VM_IDS["web-1"]})
        (request,) = sandbox_requests(stack["sandbox"], "GET")
        stack["server"].stop()  # shutting down flushes the batch processor and the last metrics
    deadline = time.monotonic() + 10
    while not (collector.bodies("/v1/traces") and collector.bodies("/v1/metrics")) and time.monotonic() < deadline:
        time.sleep(0.05)
    by_name = {span.name: (service, span) for service, span in exported_spans(collector)}
    service, call = by_name["tools/call get_vm"]
    _, upstream = by_name[f"GET {VM_ROUTE}"]
    assert service == "neev-mcp"
    assert call.trace_id == upstream.trace_id == TRACE_ID.to_bytes(16, "big")
    assert upstream.parent_span_id == call.span_id
    assert request["headers"]["traceparent"].split("-")[1:3] == [TRACE_ID.to_bytes(16, "big").hex(),
                                                                 upstream.span_id.hex()]
    assert {"neev_mcp.tool.calls", "mcp.server.operation.duration", "http.client.request.duration"} <= \
        exported_metric_names(collector)


def test_nothing_of_the_sdk_or_prometheus_is_imported_unless_asked() -> None:
    probe = ("import sys; from neev_mcp import cli, http, server, telemetry; telemetry.setup_from_env({}); "
             "print(sorted(m for m in sys.modules if m.startswith(('opentelemetry.sdk', 'opentelemetry.exporter', "
             "'prometheus', 'neev_mcp.otel', 'neev_mcp.prometheus', 'google.protobuf'))))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "[]"


def test_otel_variables_without_the_extra_give_one_clear_warning() -> None:
    probe = ("import logging, sys; logging.basicConfig(); sys.modules['opentelemetry.sdk'] = None; "
             "from neev_mcp import telemetry; "
             "print(telemetry.setup_from_env({'OTEL_EXPORTER_OTLP_ENDPOINT': 'http://127.0.0.1:4318'}))")
    run = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60, cwd=REPO)
    assert run.stdout.strip() == "False"
    assert "pip install 'neev-mcp[otel]'" in run.stderr
