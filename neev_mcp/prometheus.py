"""Metrics kept in process and written as Prometheus text (exposition format 0.0.4) for `GET /metrics`.

Written here rather than taken from `prometheus_client`: counters and fixed-bucket histograms with labels are a few
dozen lines, and the server then needs no extra dependency. Names follow OpenTelemetry's Prometheus mapping: dots
become underscores, a unit `s` adds `_seconds`, counters end in `_total`; label names likewise.
"""

from __future__ import annotations

import hmac
import logging
import math
import re
from collections.abc import Awaitable, Callable, Mapping

from mcp.server.transport_security import TransportSecurityMiddleware, TransportSecuritySettings
from starlette.requests import Request
from starlette.responses import Response

from .bearer import request_bearer
from .telemetry import BUCKETS, INSTRUMENTS

log = logging.getLogger("neev_mcp.telemetry")
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
MAX_SERIES = 2000  # per metric: a bound on memory whatever label values arrive
Labels = tuple[tuple[str, str], ...]
INF = 'le="+Inf"'


def prometheus_name(name: str) -> str:
    kind, unit, _ = INSTRUMENTS[name]
    base = _sanitise(name) + ("_seconds" if unit == "s" else "")
    return base + "_total" if kind == "counter" else base


def _sanitise(name: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_]", "_", name)


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: str = "") -> str:
    parts = [f'{_sanitise(k)}="{_escape(v)}"' for k, v in labels]
    if extra:
        parts.append(extra)
    return "{" + ",".join(parts) + "}" if parts else ""


def _number(value: float) -> str:
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value)) if not float(value).is_integer() else str(int(value))


class PrometheusStore:
    """A metrics sink (see `telemetry.Sink`) that renders itself as Prometheus text."""

    def __init__(self, sessions: Callable[[], int] | None = None) -> None:
        self.counters: dict[str, dict[Labels, float]] = {}
        self.histograms: dict[str, dict[Labels, list[float]]] = {}  # bucket counts…, sum, count
        self.sessions = sessions
        self._warned: set[str] = set()

    def _series(self, table: dict[str, dict[Labels, list[float]]] | dict[str, dict[Labels, float]], name: str,
                labels: Mapping[str, str]) -> Labels | None:
        key = tuple(sorted((k, str(v)) for k, v in labels.items()))
        series = table.setdefault(name, {})
        if key not in series and len(series) >= MAX_SERIES:
            if name not in self._warned:
                self._warned.add(name)
                log.warning("metric %s has %d label sets: new ones are dropped", name, MAX_SERIES)
            return None
        return key

    def add(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        key = self._series(self.counters, name, labels)
        if key is not None:
            self.counters[name][key] = self.counters[name].get(key, 0.0) + value

    def record(self, name: str, value: float, labels: Mapping[str, str]) -> None:
        key = self._series(self.histograms, name, labels)
        if key is None:
            return
        cells = self.histograms[name].setdefault(key, [0.0] * (len(BUCKETS) + 2))
        for i, bound in enumerate(BUCKETS):
            if value <= bound:
                cells[i] += 1  # stored per bucket; rendered cumulatively
                break
        cells[-2] += value
        cells[-1] += 1

    def render(self) -> str:
        lines: list[str] = []
        for name, (kind, _, description) in INSTRUMENTS.items():
            metric = prometheus_name(name)
            lines += [f"# HELP {metric} {description}.", f"# TYPE {metric} {kind}"]
            if kind == "counter":
                lines += [f"{metric}{_labels(k)} {_number(v)}" for k, v in sorted(self.counters.get(name, {}).items())]
            elif kind == "histogram":
                for key, cells in sorted(self.histograms.get(name, {}).items()):
                    lines += _histogram_lines(metric, key, cells)
            elif self.sessions is not None:
                lines.append(f"{metric} {self.sessions()}")
        return "\n".join(lines) + "\n"


def _histogram_lines(metric: str, key: Labels, cells: list[float]) -> list[str]:
    out, running = [], 0.0
    for bound, count in zip(BUCKETS, cells, strict=False):
        running += count
        le = 'le="' + _number(bound) + '"'
        out.append(f"{metric}_bucket{_labels(key, le)} {_number(running)}")
    out.append(f"{metric}_bucket{_labels(key, INF)} {_number(cells[-1])}")
    out.append(f"{metric}_sum{_labels(key)} {_number(cells[-2])}")
    out.append(f"{metric}_count{_labels(key)} {_number(cells[-1])}")
    return out


def metrics_endpoint(store: PrometheusStore, security: TransportSecuritySettings,
                     token: str | None) -> Callable[[Request], Awaitable[Response]]:
    """`GET /metrics`: behind the same Host/Origin allow-list as `/mcp`, and behind `token` when one is set."""
    guard = TransportSecurityMiddleware(security)

    async def metrics(request: Request) -> Response:
        refused = await guard.validate_request(request)
        if refused is not None:
            return refused
        if token is not None:
            presented = request_bearer(request.headers) or ""
            if not hmac.compare_digest(presented.encode(), token.encode()):
                return Response("send 'Authorization: Bearer <NEEV_MCP_METRICS_TOKEN>'", status_code=401,
                                headers={"WWW-Authenticate": 'Bearer realm="neev-mcp metrics"'})
        return Response(store.render(), media_type=CONTENT_TYPE, headers={"Cache-Control": "no-store"})

    return metrics
