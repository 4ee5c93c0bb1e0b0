"""Audit trail of confirmation decisions: one JSON object per line, to stderr (logging) and optionally a file.

Lines carry what an operator needs to reconstruct who-confirmed-what: time, event, the caller (neev_mcp/caller.py:
`sub:<subject>`, `bearer:<hash prefix>` or `local`), tool, target id and name, the channel the decision came through,
a short reason and the W3C trace id of the call when there is one. Never a confirmation token, never an API token.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Literal

from .. import telemetry
from ..config import ConfigurationError
from ..text import utc_stamp

log = logging.getLogger("neev_mcp.audit")

Event = Literal[
    "requested",  # a preview was produced and a confirmation asked for (elicitation or token)
    "confirmed",  # a human confirmed (elicitation accepted with the right name, or a valid token presented)
    "declined",  # the user declined the elicitation
    "cancelled",  # the user dismissed the elicitation without answering
    "expired",  # a token or confirmation round arrived after its expiry
    "invalid",  # forged / misbound / replayed token, or the typed name did not match
    "refused",  # impossible request, read-only, fallback=deny, or the target changed before execution
    "executed",  # the upstream call was accepted
    "failed",  # the upstream call failed after confirmation
]
Channel = Literal["elicitation", "input_required", "token", "none"]


class AuditLog:
    def __init__(self, path: Path | None, now: Callable[[], dt.datetime]) -> None:
        self.path = path
        self._now = now
        if path is not None:
            # A trail that cannot be written is a compliance gap: refuse to start rather than run without it.
            try:
                with path.open("a", encoding="utf-8"):
                    pass
            except OSError as exc:
                raise ConfigurationError(
                    f"invalid configuration: NEEV_MCP_AUDIT_LOG: cannot append to {path}: {exc.strerror or exc}"
                ) from None

    def record(
        self,
        event: Event,
        tool: str,
        target_id: str | None,
        target_name: str | None,
        *,
        channel: Channel = "none",
        reason: str | None = None,
        caller: str = "local",
    ) -> None:
        entry = {
            "time": utc_stamp(self._now()),
            "event": event,
            "caller": caller,
            "tool": tool,
            "target_id": target_id,
            "target_name": target_name,
            "channel": channel,
        }
        if reason:
            entry["reason"] = reason
        trace_id = telemetry.current_trace_id()
        if trace_id:
            entry["trace_id"] = trace_id  # joins this line with the call's trace
        telemetry.gate_decision(event, tool, channel, reason)  # the same decision as a span event and a metric
        line = json.dumps(entry, ensure_ascii=False, separators=(",", ":"))
        log.info("%s", line)
        if self.path is not None:
            try:
                # One write per line in append mode: concurrent writers (replicas on one volume) do not interleave.
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(line + "\n")
            except OSError as exc:
                # An unwritable audit file must be loud, but it must not turn a refusal into a crash.
                log.error("could not append to NEEV_MCP_AUDIT_LOG %s: %s", self.path, exc.strerror or exc)
