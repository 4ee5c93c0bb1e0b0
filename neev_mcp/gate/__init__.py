"""The confirmation gate: no gated call reaches NeevCloud until a human has confirmed exactly that call.

One entry point, `Gate.run`; the parts are `previews` (what a call would do, in words), `tokens` (signed
confirmations and the replay guard), `audit` (one JSON line per decision) and `flow` (the decision itself).
"""

from .flow import Gate, derive_key

__all__ = ["Gate", "derive_key"]
