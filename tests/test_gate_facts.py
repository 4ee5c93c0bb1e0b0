"""Finding 3 of issue 12: what the human approved is what runs. A confirmation binds the decisive facts its preview
stated (a VM's status class, delete_root_disk, root disk, attached data disks); when one changed before the call
executes, the call is refused and the refusal names the change. Before this, flipping `delete_root_disk` after a
preview that said "detached and kept" still deleted the VM *and* its disk.

Each path is covered: the token (any client), the handshake-era elicitation (the re-read after the user answered)
and the 2026-07-28 input_required round (the sealed state carries the facts).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from neev_mcp.gate.previews import decisive_facts, preview_for
from neev_mcp.registry import CONFIRM_POLICIES, build_registry
from neev_mcp.sandbox import Sandbox

from .conftest import MakeServer, vm_path
from .support import disk_id, text, vm_id
from .support.gate import User, audit_lines, upstream

pytestmark = pytest.mark.anyio

Change = Callable[[Sandbox], None]


def flip_delete_root_disk(sandbox: Sandbox) -> None:
    sandbox.vms[vm_id(sandbox, "web-1")].delete_root_disk = True


def attach_data_disk(sandbox: Sandbox) -> None:
    sandbox.vms[vm_id(sandbox, "web-1")].data_disks.append({"id": "dd-7", "name": "scratch", "type": "block",
                                                             "size_gb": 10})


def stop_it(sandbox: Sandbox) -> None:
    sandbox.vms[vm_id(sandbox, "web-1")].status = "stopped"


def swap_root_disk(sandbox: Sandbox) -> None:
    sandbox.vms[vm_id(sandbox, "web-1")].root_disk_id = disk_id(sandbox, "old-root-disk")


def flip_and_stop(sandbox: Sandbox) -> None:
    flip_delete_root_disk(sandbox)
    stop_it(sandbox)


# change → (names in the audit reason, what the refusal says now, what it says with the earlier value at hand)
CHANGES: dict[str, tuple[Change, str, str, str]] = {
    "delete_root_disk": (flip_delete_root_disk, "delete_root_disk", "delete_root_disk is now true",
                         "delete_root_disk was false, is now true"),
    "data-disk-attached": (attach_data_disk, "attached data disks", "attached data disks is now dd-7",
                           "attached data disks was none, is now dd-7"),
    "stopped": (stop_it, "status", "status is now stopped", "status was running, is now stopped"),
    "root-disk-swapped": (swap_root_disk, "root disk", "root disk is now {old}", "root disk was {web}, is now {old}"),
    "two-at-once": (flip_and_stop, "status, delete_root_disk", "status is now stopped; delete_root_disk is now true",
                    "status was running, is now stopped; delete_root_disk was false, is now true"),
}


def refusal(sandbox: Sandbox, said: str, channel: str) -> str:
    web = vm_id(sandbox, "web-1")
    said = said.format(old=disk_id(sandbox, "old-root-disk"), web=disk_id(sandbox, "web-1-root"))
    again = "call delete_vm again" + (" without confirmation_token" if channel == "token" else "")
    return (f"VM web-1 ({web}) was not deleted: what the user confirmed no longer holds. Since the preview: {said}. "
            f"Nothing was done; {again} for a fresh preview and ask the user again.")


def assert_refused_and_audited(audit: Path, channel: str, names: str) -> None:
    last = audit_lines(audit)[-1]
    assert (last["event"], last["channel"], last["reason"]) == ("refused", channel, f"facts changed: {names}")


@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
async def test_a_token_is_refused_when_a_fact_its_preview_stated_changed(
    change: tuple[Change, str, str, str], make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    mutate, names, now, _ = change
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(audit_log=audit)) as client:
        preview = await client.call_tool("delete_vm", {"vm_id": web})
        assert "is detached and kept (delete_root_disk=false)" in text(preview)
        mutate(sandbox)
        result = await client.call_tool("delete_vm", {"vm_id": web,
                                                      "confirmation_token": preview.structured_content[
                                                          "confirmation_token"]})
    assert result.is_error
    assert text(result) == refusal(sandbox, now, "token")
    assert result.structured_content["decision"] == "refused"
    assert upstream(sandbox, "DELETE") == []
    assert_refused_and_audited(audit, "token", names)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
@pytest.mark.parametrize("change", CHANGES.values(), ids=CHANGES.keys())
async def test_an_elicited_confirmation_is_refused_when_a_fact_changed_while_the_user_read_the_preview(
    change: tuple[Change, str, str, str], mode: str, make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    """legacy: the handshake era's re-read after the answer (the earlier value is at hand); auto: the 2026-07-28
    retry, whose sealed round state carries the facts' fingerprints."""
    mutate, names, now, before_and_now = change
    channel = "elicitation" if mode == "legacy" else "input_required"
    audit = tmp_path / "audit.jsonl"
    user = User("accept", "web-1", before_answer=lambda: mutate(sandbox))
    async with Client(make_server(audit_log=audit), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_vm", {"vm_id": vm_id(sandbox, "web-1")})
        assert client.protocol_version == ("2025-11-25" if mode == "legacy" else "2026-07-28")
    assert len(user.asked) == 1
    assert result.is_error
    assert text(result) == refusal(sandbox, before_and_now if mode == "legacy" else now, channel)
    assert upstream(sandbox, "DELETE") == []
    assert_refused_and_audited(audit, channel, names)


@pytest.mark.parametrize("mode", ["legacy", "auto"])
async def test_a_change_the_preview_did_not_state_as_decisive_does_not_block_the_confirmed_call(
    mode: str, make_server: MakeServer, sandbox: Sandbox
) -> None:
    """The control: the status moving within its class (running → running) and a new label change nothing."""
    web = vm_id(sandbox, "web-1")

    def relabel() -> None:
        sandbox.vms[web].status = "running"
        sandbox.vms[web].exposed_ports.append({"port": 8443, "protocol": "tcp"})

    user = User("accept", "web-1", before_answer=relabel)
    async with Client(make_server(), mode=mode, elicitation_callback=user) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert not result.is_error, text(result)
    assert upstream(sandbox, "DELETE") == [vm_path(web)]


def test_the_decisive_facts_are_those_the_preview_stated() -> None:
    vm = {"id": "v1", "name": "web-1", "status": "stopping", "delete_root_disk": True,
          "root_disk": {"id": "r1", "name": "web-1-root", "size_gb": 50},
          "data_disks": [{"id": "d2", "name": "b", "size_gb": 1}, {"id": "d1", "name": "a", "size_gb": 1}]}
    tools = {t.name: t for t in build_registry(gated=CONFIRM_POLICIES["mutating"])}
    assert decisive_facts(preview_for(tools["delete_vm"], vm)) == (
        ("status", "transitional"), ("delete_root_disk", "true"), ("root disk", "r1"),
        ("attached data disks", "d1, d2"))
    assert decisive_facts(preview_for(tools["restart_vm"], vm)) == (("status", "transitional"),)
    disk = {"id": "r1", "name": "old", "status": "available", "is_attached": False, "vm_id": None}
    delete_disk = tools["delete_root_disk_volume"]
    assert decisive_facts(preview_for(delete_disk, disk)) == (("attachment", "not attached"),)
    assert decisive_facts(preview_for(delete_disk, {**disk, "is_attached": True, "vm_id": "v9"})) == (
        ("attachment", "attached to VM v9"),)
