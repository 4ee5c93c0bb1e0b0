"""Leaner descriptions: every keyword of a schema stays, prose that only restates a keyword goes.

Tool schemas are read by models on every tools/list, so words that repeat `minimum: 20` or an enum cost tokens and
say nothing. These heuristics drop only such restatements; a sentence that adds a rule (one with "not") is kept.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any


def compact(schema: Any) -> Any:
    """The same schema with leaner prose: every keyword stays, descriptions lose what the keywords already say.

    Drops sentences and parentheticals that only restate the schema's own limits ("Must be between 20 GB and 2048 GB",
    "(default 20, maximum 100)", "Each entry must use tcp or udp."), and an array item's description when the array
    describes itself. Keeps anything that adds a rule (a sentence with "not": "Port 22 must not be listed").
    """
    if isinstance(schema, list):
        return [compact(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    out = {key: compact(value) for key, value in schema.items()}
    if isinstance(out.get("description"), str):
        text = compact_description(out["description"], schema)
        if text:
            out["description"] = text
        else:
            del out["description"]
    items = out.get("items")
    if "description" in out and isinstance(items, dict) and "description" in items:
        out["items"] = {k: v for k, v in items.items() if k != "description"}
    return out


_LIMIT_WORDS = re.compile(r"\b(between|maximum|minimum|at most|at least|up to|must use|default)\b", re.IGNORECASE)
_PARENTHETICAL = re.compile(r"\s*\(([^()]*)\)")
_FILLER = frozenset({"the", "a", "an", "of", "unique", "this", "specific", "to", "for", "which"})
_SYNONYMS = {"identifier": "id", "organization": "org", "organisation": "org"}


def compact_description(text: str, schema: Mapping[str, Any]) -> str:
    numbers, literals = _limits(schema)
    text = " ".join(text.split())
    text = _PARENTHETICAL.sub(lambda m: "" if _restates_limits(m.group(1), numbers, literals) else m.group(0), text)
    sentences = re.split(r"(?<=[.!?])\s+", text)
    return " ".join(s for s in sentences if not _restates_limits(s, numbers, literals)).strip()


def _restates_limits(fragment: str, numbers: set[str], literals: set[str]) -> bool:
    if not _LIMIT_WORDS.search(fragment) or re.search(r"\bnot\b", fragment, re.IGNORECASE):
        return False
    plain = _PARENTHETICAL.sub("", fragment)  # "(2 TB)" glosses a number; it states no limit of its own
    said_numbers = set(re.findall(r"\d+", plain))
    said_literals = set(re.findall(r"[a-z0-9_-]+", plain.lower())) & literals
    return bool(said_numbers or said_literals) and said_numbers <= numbers


def _limits(schema: Any) -> tuple[set[str], set[str]]:
    """Every number a limit keyword carries and every enum value, anywhere inside `schema`."""
    numbers: set[str] = set()
    literals: set[str] = set()
    if isinstance(schema, list):
        for item in schema:
            n, lit = _limits(item)
            numbers |= n
            literals |= lit
    elif isinstance(schema, dict):
        for key, value in schema.items():
            if key in _LIMIT_KEYWORDS and isinstance(value, int | float) and not isinstance(value, bool):
                numbers.add(f"{value:g}")
            elif key == "enum" and isinstance(value, list):
                literals |= {str(v).lower() for v in value}
            elif isinstance(value, dict | list):
                n, lit = _limits(value)
                numbers |= n
                literals |= lit
    return numbers, literals


_LIMIT_KEYWORDS = frozenset({"minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength",
                             "minItems", "maxItems", "default"})


def restates_name(text: str, name: str, tool_name: str) -> bool:
    """True when a description says nothing beyond the parameter's (and its tool's) name."""
    words = {_SYNONYMS.get(w, w) for w in re.findall(r"[a-z0-9]+", text.lower())} - _FILLER
    return bool(text) and words <= set(name.split("_")) | set(tool_name.split("_"))


