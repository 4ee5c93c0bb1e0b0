"""What the sandbox saw: lets tests assert on exactly what a client sent (and what it was answered)."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class RecordedRequest:
    """One API request (admin calls are not recorded).

    ``path`` is the full path as received (including base_path); ``body`` is parsed JSON, raw text
    when not JSON, or None when empty; ``headers`` have lower-case names, Authorization redacted to a
    fingerprint (see :func:`redact_authorization`: tests can still tell which token was sent, a reader of
    the log cannot reuse it); ``status`` is what was answered
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


def redact_authorization(value: str) -> str:
    """`Bearer abc…` → `Bearer [redacted sha256:<12 hex>]`: the scheme and a fingerprint of the credential."""
    scheme, _, credential = value.strip().partition(" ")
    digest = hashlib.sha256(credential.strip().encode()).hexdigest()[:12]
    return f"{scheme} [redacted sha256:{digest}]" if credential.strip() else "[redacted]"


def recorded_headers(headers: dict[str, str]) -> dict[str, str]:
    return {k: redact_authorization(v) if k in ("authorization", "proxy-authorization") else v
            for k, v in headers.items()}


def parse_body(raw: bytes) -> Any:
    """Parsed JSON when possible, otherwise the text as received, None when empty."""
    if not raw:
        return None
    text = raw.decode("utf-8", errors="replace")
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text
