"""The nouns and verbs every part agrees on: what a tool acts on (`Kind`) and what it does to it (`Action`).

Pure values, no imports of our own: the registry attaches them to tool declarations, and the gate, the summaries
and the API client read them from there instead of comparing tool or parameter names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

SCOPE_ARGS = ("org_id", "project_id")
# the settings that give SCOPE_ARGS a default (then calls may leave them out), and what each names
SCOPE_ENV = {"org_id": "NEEV_ORG_ID", "project_id": "NEEV_PROJECT_ID"}
SCOPE_NOUN = {"org_id": "organisation", "project_id": "project"}
CONFIRMATION_ARG = "confirmation_token"


def scope_of(args: Mapping[str, Any]) -> dict[str, Any]:
    """The org/project arguments of a call."""
    return {k: args[k] for k in SCOPE_ARGS if k in args}


def scope_label(args: Mapping[str, Any]) -> str:
    """`org/project`, as every message names a project."""
    return f"{args.get('org_id')}/{args.get('project_id')}"


@dataclass(frozen=True)
class Kind:
    """A kind of thing a call names: a resource a tool acts on (a VM, a root disk), or one a call refers to (the
    project, a region, an image, ...), with what to check when NeevCloud says it does not exist."""

    key: str  # in structuredContent: "vm", "root_disk"
    label: str  # in sentences: "VM", "root disk"
    id_arg: str  # the tool argument (and path parameter) naming one: "vm_id"
    getter: str = ""  # the tool that reads one ("" for what no tool reads)
    lister: str = ""  # the tool that pages through them
    # after a 404 about one: what to check ("vm_id") and where the valid values are ("list_vms shows ...")
    check: str = ""
    source: str = ""
    words: tuple[str, ...] = ()  # how NeevCloud's messages name one: tells which kind a 404 is about

    def mentioned_at(self, text: str) -> tuple[int, int] | None:
        """(where, -length) of the first of `words` in `text` (whole words, any case), or None."""
        spots = [(m.start(), -len(m.group(0))) for word in self.words
                 for m in [re.search(rf"\b{re.escape(word)}\b", text, re.IGNORECASE)] if m]
        return min(spots) if spots else None

    @property
    def missing(self) -> str:
        """The hint after a 404 about one."""
        return f"Check {self.check}: {self.source}." if self.check else ""

    @property
    def earlier_attempt(self) -> str:
        """Said when a call refused now may have been applied by an earlier attempt whose answer was lost."""
        check = (f"call {self.getter} to see the {self.label}'s current status" if self.getter
                 else "check its current state")
        return (" An earlier attempt of this call got no clear answer and may have been applied already, which would "
                f"explain this refusal: {check} before trying again.")


_IN_USE = "vm_options shows the values in use in the project"
VM = Kind(key="vm", label="VM", id_arg="vm_id", getter="get_vm", lister="list_vms", check="vm_id",
          source="list_vms shows the VMs of the project", words=("vm", "virtual machine"))
ROOT_DISK = Kind(key="root_disk", label="root disk", id_arg="root_disk_id", getter="get_root_disk_volume",
                 lister="list_root_disk_volumes", check="the root disk id",
                 source="list_root_disk_volumes shows the root disks of the project",
                 words=("root disk", "root_disk", "disk"))
PROJECT = Kind(key="project", label="project", id_arg="project_id", check="org_id and project_id",
               source="the project must exist and the token must have access to it (NEEV_ORG_ID / NEEV_PROJECT_ID "
               "set the values used when a call does not pass them)",
               words=("project", "organization", "organisation", "org"))
# what create_vm refers to by id: no operation lists them, vm_options shows the ones the project uses
REGION = Kind(key="region", label="region", id_arg="region_id", check="region_id", source=_IN_USE,
              words=("region",))
IMAGE = Kind(key="image", label="image", id_arg="image_id", check="image_id", source=_IN_USE, words=("image",))
PLAN = Kind(key="plan", label="plan", id_arg="plan_id", check="plan_id", source=_IN_USE, words=("plan",))
VM_CONFIG = Kind(key="vm_config", label="VM configuration", id_arg="vm_config_id", check="vm_config_id",
                 source=_IN_USE, words=("vm_config", "vm config", "vm configuration", "configuration", "config"))
GENERIC_MISSING = "Check the ids and org_id/project_id."


def not_found_hint(kinds: Sequence[Kind], api_message: str | None) -> str:
    """What to check after a 404: the hint of the kind NeevCloud's message names first, else of each kind the call
    refers to."""
    named = [(spot, kind) for kind in kinds if (spot := kind.mentioned_at(api_message or "")) is not None]
    if named:
        return min(named, key=lambda pair: pair[0])[1].missing
    by_source: dict[str, list[str]] = {}
    for kind in kinds:
        if kind.check:
            by_source.setdefault(kind.source, []).append(kind.check)
    return " ".join(f"Check {_either(checks)}: {source}." for source, checks in by_source.items()) or GENERIC_MISSING


def _either(items: list[str]) -> str:
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} or {items[-1]}"


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
GENERIC_EARLIER = Kind("resource", "resource", "").earlier_attempt  # for a tool that acts on no declared kind
