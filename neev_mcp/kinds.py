"""The nouns and verbs every part agrees on: what a tool acts on (`Kind`) and what it does to it (`Action`).

Pure values, no imports of our own: the registry attaches them to tool declarations, and the gate, the summaries
and the API client read them from there instead of comparing tool or parameter names.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

SCOPE_ARGS = ("org_id", "project_id")
CONFIRMATION_ARG = "confirmation_token"


def scope_of(args: Mapping[str, Any]) -> dict[str, Any]:
    """The org/project arguments of a call."""
    return {k: args[k] for k in SCOPE_ARGS if k in args}


def scope_label(args: Mapping[str, Any]) -> str:
    """`org/project`, as every message names a project."""
    return f"{args.get('org_id')}/{args.get('project_id')}"


@dataclass(frozen=True)
class Kind:
    """A kind of resource a tool acts on."""

    key: str  # in structuredContent: "vm", "root_disk"
    label: str  # in sentences: "VM", "root disk"
    id_arg: str  # the tool argument (and path parameter) naming one: "vm_id"
    getter: str  # the tool that reads one
    lister: str  # the tool that pages through them


VM = Kind(key="vm", label="VM", id_arg="vm_id", getter="get_vm", lister="list_vms")
ROOT_DISK = Kind(key="root_disk", label="root disk", id_arg="root_disk_id", getter="get_root_disk_volume",
                 lister="list_root_disk_volumes")


@dataclass(frozen=True)
class Action:
    """What a mutating tool does, in words: for previews, summaries and answers whose outcome is unclear."""

    verb: str  # "stop"
    past: str  # "stopped"
    consequence: str = ""  # one sentence for the preview of a VM action
    settles_at: str | None = None  # the VM status the action leads to: what wait_for_vm should wait for
    repeats: bool = False  # every accepted call acts again (a restart), so "already there" does not mean "no effect"
    # VM statuses in which the action has no effect at all, with what to do instead
    no_effect_from: Mapping[str, str] = field(default_factory=dict)
    unsure: str = ""  # what to check when the call may or may not have been applied
    # for an answer that was lost (unclear.py): what a create makes (found again by its name), the VM status while
    # the action runs, and the one it acts from
    creates: Kind | None = None
    during: str | None = None  # "stopping"
    acts_from: str | None = None  # "running"


SEND = Action("send", "sent")  # what a call to an unreviewed operation does, as far as anyone here knows
GENERIC_UNSURE = " It may or may not have been applied: check the resource's current state before trying again."
