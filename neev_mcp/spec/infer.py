"""What can be said safely about an operation nobody here has reviewed: annotations, title, retry safety.

Conservative on purpose (pure; no MCP): a method that may change something is never read-only, a DELETE or an
operation whose own words say delete/remove/terminate/destroy/purge/reset is destructive, and only GET/HEAD are
repeated after an unclear failure. Reviewed operations never go through here: their declarations say it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .openapi import Operation

READ_METHODS = frozenset({"GET", "HEAD"})
IDEMPOTENT_METHODS = frozenset({"GET", "HEAD", "PUT", "DELETE"})  # RFC 9110 §9.2.2
UNREVIEWED_MARK = "(not yet reviewed by neev-mcp)"
# the words of an operation that destroy something, with their inflections (delete, deletes, deletion, ...)
_DESTRUCTIVE_WORDS = re.compile(r"\b(delet|remov|terminat|destr(?:oy|uct)|purg|reset)\w*", re.IGNORECASE)


@dataclass(frozen=True)
class InferredHints:
    """The four MCP annotations, inferred from the method and the operation's own words."""

    read_only: bool
    destructive: bool
    idempotent: bool
    open_world: bool = True


def infer_hints(op: Operation) -> InferredHints:
    read_only = op.method in READ_METHODS
    destructive = op.method == "DELETE" or (not read_only and bool(destructive_words(op)))
    return InferredHints(read_only=read_only, destructive=destructive, idempotent=op.method in IDEMPOTENT_METHODS)


def destructive_words(op: Operation) -> list[str]:
    """The destructive words in the operation's id, path, summary and description (lower case, first seen first)."""
    text = " ".join((_words(op.operation_id), op.path.replace("/", " ").replace("_", " "), op.summary,
                     op.description))
    return list(dict.fromkeys(m.group(0).lower() for m in _DESTRUCTIVE_WORDS.finditer(text)))


def safe_to_retry(op: Operation) -> bool:
    """Only a safe method may be re-sent after an unclear failure: PUT and DELETE are idempotent by contract, but
    nobody has checked that this API keeps the contract."""
    return op.method in READ_METHODS


def title_for(op: Operation) -> str:
    """The summary when it is short, else the operationId in words: `resizeVM` → 'Resize VM'."""
    summary = " ".join(op.summary.split()).rstrip(".")
    if summary and len(summary) <= 40:
        return summary
    words = _words(op.operation_id).split()
    return " ".join([words[0].capitalize(), *words[1:]]) if words else op.operation_id


def describe(op: Operation) -> str:
    """The tool description: the spec's own words, marked so agents and users can tell it from a reviewed tool."""
    text = " ".join((op.description or op.summary or f"{op.method} {op.path}").split())
    if not text.endswith("."):
        text += "."
    return f"{text} {UNREVIEWED_MARK}"


# the last path segment of a GET that lists what create_vm arguments are chosen from → the catalogue it is
CATALOGUES = {"regions": "regions", "plans": "plans", "images": "images", "vm_configs": "vm_configs",
              "vm_configurations": "vm_configs", "configurations": "vm_configs", "flavors": "vm_configs",
              "sizes": "vm_configs"}


def catalogue_of(op: Operation, scope: frozenset[str] = frozenset({"org_id", "project_id"})) -> str | None:
    """'regions', 'plans', 'images' or 'vm_configs' when `op` is a GET listing one of them that needs nothing beyond
    the org/project scope; for vm_options and discovery, which otherwise see only the values the project uses."""
    last = op.path.rstrip("/").rsplit("/", 1)[-1].lower().replace("-", "_")
    needs = {p.name for p in op.parameters if p.required} - scope
    if op.method != "GET" or last not in CATALOGUES or needs:
        return None
    return CATALOGUES[last]


def _words(identifier: str) -> str:
    """`resizeVM` → 'resize VM', `delete_snapshot` → 'delete snapshot'."""
    spaced = re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", identifier)
    return " ".join(spaced.replace("_", " ").replace("-", " ").split())
