"""The two ways every message shapes text: clipping what has no length limit of its own, and stamping times."""

from __future__ import annotations

import datetime as dt


def clip(text: str, limit: int, *, marker: str = "…") -> str:
    """`text`, cut to at most `limit` characters with `marker` at the cut."""
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


def utc_stamp(when: dt.datetime) -> str:
    """`2026-11-28T12:00:00Z`: the one timestamp format of messages and audit lines."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
