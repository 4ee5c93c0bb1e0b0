"""The project's shared contract files (the NeevCloud OpenAPI spec, docs/interface.md), kept outside this repository.

A checkout of the project has them beside it, in `../shared`; a plain clone does not. Tests that compare this
repository with them say exactly what they check and how to run them, and skip only that comparison.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

SHARED_ENV = "NEEV_SHARED_DIR"
DEFAULT_SHARED = Path(__file__).resolve().parents[2].parent / "shared"


def shared_file(relative: str, checks: str) -> Path:
    """`relative` inside the shared directory ($NEEV_SHARED_DIR, else ../shared), or skip saying what is not checked."""
    path = Path(os.environ.get(SHARED_ENV) or DEFAULT_SHARED) / relative
    if not path.is_file():
        pytest.skip(f"not checked: {checks}. It needs the project's shared contract file {relative}, which a plain "
                    f"clone does not have; to run it, put the shared directory beside this checkout (../shared) or "
                    f"set {SHARED_ENV}=/path/to/shared")
    return path
