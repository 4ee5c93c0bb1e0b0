"""A bounded summary of any API answer, for operations nobody here has written a summariser for.

Pure (no I/O). It picks what an agent decides with — ids, names, status-like fields, counts — from whatever shape
the answer has: one object, a list, or an object holding a list (`data`, `items`, `regions`, ...). Lists are cut
after `MAX_ITEMS` with a count of the rest; every value is clipped; the text never exceeds `MAX_CHARS`. The complete
answer always travels beside it as `structuredContent`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from .summaries import Answer, Summary
from .text import clip

MAX_ITEMS = 10
MAX_FIELDS = 6
MAX_VALUE = 60
MAX_CHARS = 2000
FULL_ANSWER = "The complete answer is in structuredContent."

_ID = re.compile(r"^(id|uuid|.*_id)$")
_NAME = re.compile(r"^(name|display_name|title|slug|label|hostname|.*_name)$")
# the object's own id and name come before other objects' ids
_OWN_ID, _OWN_NAME = re.compile(r"^(id|uuid)$"), re.compile(r"^(name|display_name)$")
_STATUS = re.compile(r"^(status|state|phase|health|.*_status|.*_state|is_.*|enabled|active)$")
_COUNT = re.compile(r"^(count|total|size|.*_count|total_.*|num_.*|.*_total|.*_gb)$")
_LIST_KEYS = ("data", "items", "results", "records", "entries")
_PAGING = re.compile(r"^(pagination|paging|page_info|meta)$")


def summarise_unreviewed(title: str, a: Answer) -> Summary:
    """The registry binds `title` for each unreviewed tool; the full answer is the structuredContent."""
    structured = a.obj if a.data is not None else {"accepted": True, "status": a.status}
    return summarise_answer(title, a.data, a.status), structured


def summarise_answer(title: str, data: Any, status: int | None = None) -> str:
    """`title` names the call ('Resize VM'); `data` is the parsed answer (None for an empty body)."""
    if data is None or data == "":
        code = f" (HTTP {status})" if status else ""
        return f"{title}: NeevCloud accepted the request{code} and sent no answer body."
    lines = _describe(title, data)
    return _bounded([*lines, FULL_ANSWER])


def _describe(title: str, data: Any) -> list[str]:
    if isinstance(data, Sequence) and not isinstance(data, str):
        return [f"{title}: {_count(len(data), 'item')}.", *_item_lines(data)]
    if not isinstance(data, Mapping):
        return [f"{title}: {_clip(data)}"]
    list_key = _main_list(data)
    if list_key is None:
        head = _fields(data)
        lines = [f"{title}: {head}." if head else f"{title}: an object with {_count(len(data), 'field')}."]
        nested = [f"{k}: {_count(len(v), 'item')}" for k, v in data.items() if _is_list(v)]
        return lines + ([", ".join(nested) + "."] if nested else [])
    items = data[list_key]
    head = f"{title}: {_count(len(items), 'item')} in {list_key}"
    extra = [", ".join(f"{n}={_clip(x)}" for n, x in v.items() if _is_scalar(x))
             for k, v in data.items() if _PAGING.match(k) and isinstance(v, Mapping)]
    extra += [f"{k}={_clip(v)}" for k, v in data.items() if _COUNT.match(k) and _is_scalar(v)]
    return [head + (f" ({'; '.join(x for x in extra if x)})" if any(extra) else "") + ".", *_item_lines(items)]


def _item_lines(items: Sequence[Any]) -> list[str]:
    lines = [f"- {_fields(item) if isinstance(item, Mapping) else _clip(item)}" for item in items[:MAX_ITEMS]]
    if len(items) > MAX_ITEMS:
        lines.append(f"... and {len(items) - MAX_ITEMS} more ({len(items)} in total).")
    return lines


def _main_list(data: Mapping[str, Any]) -> str | None:
    """The field holding the answer's list: a conventional name first, else the longest list of objects."""
    lists = {k: v for k, v in data.items() if _is_list(v)}
    for key in _LIST_KEYS:
        if key in lists:
            return key
    objects = {k: v for k, v in lists.items() if v and all(isinstance(x, Mapping) for x in v)}
    if len(data) - len(lists) > MAX_FIELDS or not objects:
        return None  # an object with a few lists inside (a VM with its disks), not a list answer
    return max(objects, key=lambda k: len(objects[k]))


def _fields(obj: Mapping[str, Any]) -> str:
    """`id=…, name=…, status=…` — the key fields in that order; a few scalars when it has none."""
    scalars = {k: v for k, v in obj.items() if _is_scalar(v)}
    picked: list[str] = []
    for pattern in (_OWN_ID, _OWN_NAME, _ID, _NAME, _STATUS, _COUNT):
        picked += [k for k in scalars if pattern.match(k.lower()) and k not in picked]
    if not picked:
        picked = list(scalars)
    shown = [f"{k}={_clip(scalars[k])}" for k in picked[:MAX_FIELDS]]
    return ", ".join(shown)


def _bounded(lines: list[str]) -> str:
    out: list[str] = []
    used = 0
    for i, line in enumerate(lines):
        if used + len(line) + 1 > MAX_CHARS - len(FULL_ANSWER) - 40 and i < len(lines) - 1:
            out.append(f"... ({len(lines) - 1 - i} more lines cut).")
            out.append(lines[-1])
            break
        out.append(line)
        used += len(line) + 1
    return "\n".join(out)


def _clip(value: Any) -> str:
    text = "null" if value is None else str(value).lower() if isinstance(value, bool) else str(value)
    return clip(" ".join(text.split()), MAX_VALUE)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")


def _is_list(value: Any) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, str)


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)
