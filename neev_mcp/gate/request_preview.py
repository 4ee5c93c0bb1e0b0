"""The preview of a call to an operation nobody here has reviewed: the request itself, in words.

Pure (no I/O, no MCP). neev-mcp knows nothing about such an operation beyond its spec, so it reads no target and
claims no consequence: it shows the human exactly what would be sent (method, the path with its values filled in,
query and body arguments) and the API's own description, and the user confirms by typing the tool's name.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from ..kinds import CONFIRMATION_ARG, SEND
from ..spec.openapi import Operation
from ..text import clip
from .previews import REQUEST, Preview

if TYPE_CHECKING:
    from ..registry import ToolDef

MAX_ARGUMENTS = 20
MAX_VALUE = 500  # a human approves these values: show them whole unless they are long


def request_preview(tool: ToolDef, op: Operation, args: Mapping[str, Any]) -> Preview:
    path_args, query, body = op.split_arguments({k: v for k, v in args.items() if k != CONFIRMATION_ARG})
    path = op.path
    for name, value in path_args.items():
        path = path.replace("{" + name + "}", quote(str(value), safe=""))
    own_words = " ".join((op.description or op.summary).split())
    lines = [f"Send {op.method} {path} ({tool.name}). neev-mcp has not reviewed this operation: what it does is "
             "known only from the API's own description" + (f': "{clip(own_words, 300)}"' if own_words
                                                             else " (it has none)") + "."]
    lines.append(f"Query: {_in_words(query)}." if query else "No query arguments.")
    if body is not None:
        lines.append(f"Body: {_in_words(body)}." if body else "An empty body.")
    facts = {"operation_id": op.operation_id, "method": op.method, "path": path, "query": query, "body": body,
             "unreviewed": True}
    return Preview(tool.name, REQUEST, None, tool.name, " ".join(lines), facts, tool.action or SEND)


def _in_words(values: Mapping[str, Any]) -> str:
    """Every argument a human approves, by name; a value cut for length says so and how long it is."""
    shown = [f"{k} = {_value(v)}" for k, v in list(values.items())[:MAX_ARGUMENTS]]
    if len(values) > MAX_ARGUMENTS:
        rest = list(values)[MAX_ARGUMENTS:]
        shown.append(f"and {len(rest)} more not shown here ({', '.join(rest)})")
    return ", ".join(shown)


def _value(value: Any) -> str:
    text = json.dumps(value, ensure_ascii=False, sort_keys=True)
    return text if len(text) <= MAX_VALUE else f"{clip(text, MAX_VALUE)} (cut here: {len(text)} characters in all)"
