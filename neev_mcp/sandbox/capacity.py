"""A capacity model for the simulated API: answer latency and a limit on requests in flight.

Real NeevCloud answers each page after some network and service time, and a gateway turns away requests beyond
what it allows at once (429 with Retry-After). Off by default (latency 0, no limit), so tests stay fast; benchmarks
switch it on to show how a client's concurrency meets such an API.
"""

from __future__ import annotations

import math
import threading
from dataclasses import dataclass
from typing import Any

from .faults import Fault


@dataclass(frozen=True)
class Capacity:
    latency: float = 0.0  # real seconds added to every API answer (requests overlap while they wait)
    max_parallel: int = 0  # requests in flight beyond this are answered 429; 0 = no limit
    retry_after: float = 0.05  # seconds the 429 asks the client to wait

    def __post_init__(self) -> None:
        if not (math.isfinite(self.latency) and 0 <= self.latency <= 60):
            raise ValueError("latency must be between 0 and 60 seconds")
        if not (isinstance(self.max_parallel, int) and 0 <= self.max_parallel <= 10_000):
            raise ValueError("max_parallel must be a whole number between 0 (no limit) and 10000")
        if not (math.isfinite(self.retry_after) and 0 <= self.retry_after <= 60):
            raise ValueError("retry_after must be between 0 and 60 seconds")

    @classmethod
    def from_dict(cls, data: Any) -> Capacity:
        if not isinstance(data, dict) or set(data) - {"latency", "max_parallel", "retry_after"}:
            raise ValueError('expected {"latency": s, "max_parallel": n, "retry_after": s} (any of them)')
        return cls(latency=float(data.get("latency", 0.0)), max_parallel=int(data.get("max_parallel", 0)),
                   retry_after=float(data.get("retry_after", 0.05)))

    def to_dict(self) -> dict[str, Any]:
        return {"latency": self.latency, "max_parallel": self.max_parallel, "retry_after": self.retry_after}


class Gatekeeper:
    """Counts requests in flight; `admit` says whether one more fits, or the 429 that turns it away."""

    def __init__(self, capacity: Capacity = Capacity()) -> None:
        self.capacity = capacity
        self.in_flight = 0
        self.peak = 0
        self.refused = 0
        self._lock = threading.Lock()

    def admit(self) -> Fault | None:
        with self._lock:
            limit = self.capacity.max_parallel
            if limit and self.in_flight >= limit:
                self.refused += 1
                return Fault(kind="status", status=429, retry_after=self.capacity.retry_after)
            self.in_flight += 1
            self.peak = max(self.peak, self.in_flight)
            return None

    def release(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def stats(self) -> dict[str, Any]:
        with self._lock:
            return {**self.capacity.to_dict(), "in_flight": self.in_flight, "peak": self.peak,
                    "refused": self.refused}

    def reset_stats(self) -> None:
        with self._lock:
            self.peak, self.refused = self.in_flight, 0
