"""What the sandbox saw: lets tests assert on exactly what a client sent (and what it was answered)."""

from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One API request (admin calls are not recorded).

    ``path`` is the full path as received (including base_path); ``body`` is parsed JSON, raw text
    when not JSON, or None when empty; ``headers`` have lower-case names and are kept verbatim
    (including Authorization, so tests can check it was sent); ``status`` is what was answered
    (0 when a ``drop`` fault closed the connection instead); ``fault`` is the injected fault kind.
    """

    method: str
    path: str
    query: dict[str, str]
    body: Any
    headers: dict[str, str]
    status: int
    fault: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def parse_body(raw: bytes) -> Any:
    """Parsed JSON when possible, otherwise the text as received, None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
