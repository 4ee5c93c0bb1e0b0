"""Fault injection: make the simulated API fail the ways real networks and gateways do."""

from __future__ import annotations

import dataclasses
import json
import re
import threading
from dataclasses import dataclass
from typing import Any, Literal, get_args

FaultKind = Literal["status", "slow", "malformed", "non_json", "drop"]
FaultWhen = Literal["before", "after"]
FAULT_KINDS: tuple[str, ...] = get_args(FaultKind)
_ERROR_CODES = {
    400: "invalid_request", 401: "unauthorized", 403: "forbidden", 404: "not_found", 409: "conflict",
    429: "rate_limited", 500: "internal_error", 502: "bad_gateway", 503: "service_unavailable", 504: "gateway_timeout",
}
_ERROR_TEXT = {
    429: "too many requests; slow down and retry later",
    500: "an unexpected internal server error occurred",
    502: "bad gateway: upstream VM service did not answer",
    503: "service temporarily unavailable; retry later",
    504: "gateway timeout: upstream VM service took too long",
}


@dataclass
class Fault:
    """One injected failure.

    kind:
      ``status``    answer ``status`` with an ErrorResponse body (optionally ``Retry-After``);
      ``slow``      sleep ``delay`` real seconds, then answer normally;
      ``malformed`` answer the real status with a truncated JSON body — the request is always processed,
                    since corruption happens on the way back (``when`` is ignored);
      ``non_json``  answer ``status`` with an HTML error page, like a misbehaving proxy;
      ``drop``      close the connection without a complete response.
    when: ``before`` = the request never reaches the simulated service (no mutation); ``after`` = the
      request is processed (mutations apply), then the answer is replaced — a lost or garbled reply.
    count: how many matching requests it hits (-1 = forever). method / path_regex narrow the match;
      the regex is searched in the path after base_path, e.g. ``/vms/[^/]+/start$``. Faults act like a
      gateway in front of the service: they are matched before authentication. Each request consumes
      at most one fault (the first active one that matches, in insertion order).
    """

    kind: FaultKind
    status: int = 500
    retry_after: float | None = None
    delay: float = 0.0
    count: int = 1
    method: str | None = None
    path_regex: str | None = None
    when: FaultWhen = "before"

    def __post_init__(self) -> None:
        if self.kind not in FAULT_KINDS:
            raise ValueError(f"unknown fault kind {self.kind!r}; expected one of {', '.join(FAULT_KINDS)}")
        if self.when not in ("before", "after"):
            raise ValueError(f"fault 'when' must be 'before' or 'after', got {self.when!r}")
        if not 100 <= int(self.status) <= 599:
            raise ValueError(f"fault status must be an HTTP status code, got {self.status!r}")
        if self.count == 0 or self.count < -1:
            raise ValueError("fault count must be a positive number of hits or -1 (forever)")
        if self.delay < 0:
            raise ValueError("fault delay must be >= 0")
        if self.path_regex is not None:
            re.compile(self.path_regex)

    def matches(self, method: str, path: str) -> bool:
        if self.method is not None and self.method.upper() != method.upper():
            return False
        return self.path_regex is None or re.search(self.path_regex, path) is not None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Fault:
        if not isinstance(data, dict):
            raise ValueError(f"a fault must be a JSON object, got {type(data).__name__}")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault field(s): {', '.join(unknown)}")
        if "kind" not in data:
            raise ValueError("a fault needs a 'kind'")
        return cls(**data)

    def error_body(self) -> dict[str, str]:
        """The ErrorResponse a ``status`` fault answers with."""
        code = _ERROR_CODES.get(self.status, f"http_{self.status}")
        return {"code": code, "message": _ERROR_TEXT.get(self.status, f"request failed with status {self.status}")}

    def html_body(self) -> str:
        """A gateway-style HTML error page for ``non_json``."""
        title = f"{self.status} {_ERROR_CODES.get(self.status, 'error').replace('_', ' ').title()}"
        return f"<html><head><title>{title}</title></head><body><center><h1>{title}</h1></center><hr>" \
               "<center>nginx</center></body></html>\n"


def parse_faults(raw: str | list[Any] | dict[str, Any]) -> list[Fault]:
    """Faults from JSON text (as in ``NEEV_SANDBOX_FAULTS``) or already-decoded data; one dict or a list."""
    data = json.loads(raw) if isinstance(raw, str) else raw
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise ValueError("faults must be a JSON list of fault objects")
    return [Fault.from_dict(item) for item in data]


class FaultBook:
    """Active faults in insertion order; each request consumes at most one (the first that matches)."""

    def __init__(self) -> None:
        self._faults: list[Fault] = []
        self._lock = threading.Lock()

    def add(self, *faults: Fault) -> None:
        with self._lock:  # copies: counting down must not mutate the caller's objects
            self._faults.extend(dataclasses.replace(f) for f in faults)

    def clear(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def active(self) -> list[Fault]:
        with self._lock:
            return [dataclasses.replace(f) for f in self._faults]

    def take(self, method: str, path: str) -> Fault | None:
        """Consume one hit of the first matching fault, if any."""
        with self._lock:
            for fault in self._faults:
                if fault.matches(method, path):
                    hit = dataclasses.replace(fault)
                    if fault.count > 0:
                        fault.count -= 1
                        if fault.count == 0:
                            self._faults.remove(fault)
                    return hit
        return None
