"""The ways every message shapes text: clipping what has no length limit of its own, stamping times, listing ids."""

from __future__ import annotations

import datetime as dt
from typing import Any


def whole(value: Any, default: int = 0) -> int:
    """A number NeevCloud sent (a size, a count) as an integer, or `default` when it is none: an off-spec value must
    neither fail a whole-project answer nor reach an error message (it may be anything, even an echoed token)."""
    try:
        return int(value) if value is not None and not isinstance(value, bool) else default
    except (TypeError, ValueError, OverflowError):
        return default


def clip(text: str, limit: int, *, marker: str = "…") -> str:
    """`text`, cut to at most `limit` characters with `marker` at the cut."""
    return text if len(text) <= limit else text[: limit - len(marker)] + marker


MAX_IDS = 10  # ids one message lists (a name look-up collects one more, to know there are more)


def listed_ids(ids: list[str]) -> str:
    """'a, b' or 'a, b, … and more': ids, at most MAX_IDS of them."""
    return ", ".join(ids[:MAX_IDS]) + (", … and more" if len(ids) > MAX_IDS else "")


def utc_stamp(when: dt.datetime) -> str:
    """`2026-11-28T12:00:00Z`: the one timestamp format of messages and audit lines."""
    return when.astimezone(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
