"""The confirmation gate: no gated call reaches NeevCloud until a human has confirmed exactly that call.

One entry point, `Gate.run`; the parts are `previews` (what a call would do, in words, and the decisive facts a
confirmation binds), `tokens` (signed confirmations, one strict grammar), `replay` (each confirmation runs once: in
process, or across replicas in a shared Redis), `audit` (one JSON line per decision) and `flow` (the decision).
"""

from .flow import Gate, derive_key

__all__ = ["Gate", "derive_key"]
