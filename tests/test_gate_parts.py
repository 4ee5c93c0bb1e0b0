"""The gate's pure parts on their own: previews (what a call would do, in words) and signed confirmation tokens."""

from __future__ import annotations

import datetime as dt

import pytest

from neev_mcp.gate.previews import confirmation_form, create_preview, impossible, preview_for, shell
from neev_mcp.gate.replay import LocalReplays
from neev_mcp.gate.tokens import Binding, TokenRejected, TokenSigner
from neev_mcp.registry import CONFIRM_POLICIES, build_registry

TOOLS = {t.name: t for t in build_registry(gated=CONFIRM_POLICIES["mutating"])}
VM = {"id": "vm-1", "name": "web-1", "status": "running", "public_ip": "203.0.113.7", "delete_root_disk": False,
      "root_disk": {"id": "rd-1", "name": "web-1-root", "size_gb": 40},
      "data_disks": [{"id": "dd-1", "name": "data", "size_gb": 100}]}
DISK = {"id": "rd-9", "name": "old-root", "size_gb": 60, "image_id": "ubuntu-24.04", "region": "in-mum-1",
        "status": "available", "is_attached": True, "vm_id": "vm-1", "vm_name": "web-1"}
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)


# -- previews ----------------------------------------------------------------------------------------------------
def test_a_vm_delete_preview_states_the_root_disk_fate_and_the_data_disks() -> None:
    preview = preview_for(TOOLS["delete_vm"], VM)
    assert preview.text == (
        "Delete VM web-1 (vm-1): status running, public IP 203.0.113.7. Its root disk web-1-root (rd-1, 40 GB) is "
        "detached and kept (delete_root_disk=false); it stays in list_root_disk_volumes until deleted separately. "
        "Data disks attached: data (100 GB). delete_root_disk does not cover them and NeevCloud does not document "
        "whether they are kept: make sure nothing on them is needed. The VM and its public IP are released. This "
        "cannot be undone.")
    assert preview.facts["root_disk_fate"] == "detached_and_kept"
    assert (preview.kind, preview.verb, preview.past, preview.label) == ("VM", "delete", "deleted", "VM web-1 (vm-1)")


@pytest.mark.parametrize(("tool", "consequence"), [
    ("stop_vm", "It shuts down: running processes stop and unsaved in-memory state is lost."),
    ("restart_vm", "It reboots: running processes are interrupted."),
    ("start_vm", "It boots; a running VM accrues charges on hourly plans."),
])
def test_an_action_preview_carries_the_declared_consequence(tool: str, consequence: str) -> None:
    preview = preview_for(TOOLS[tool], VM)
    verb = TOOLS[tool].action.verb
    assert preview.text == f"{verb.capitalize()} VM web-1 (vm-1): status running, public IP 203.0.113.7. {consequence}"
    assert preview.not_done("because.") == f"VM web-1 (vm-1) was not {TOOLS[tool].action.past}: because."


def test_a_root_disk_preview_names_the_vm_holding_it_and_an_attached_disk_cannot_be_deleted() -> None:
    tool = TOOLS["delete_root_disk_volume"]
    preview = preview_for(tool, DISK)
    assert "attached to VM web-1 (vm-1)" in preview.text and preview.kind == "root disk"
    code, why = impossible(tool, preview, DISK) or ("", "")
    assert code == "attached to a VM" and why.startswith("it is attached to VM web-1 (vm-1).")
    assert impossible(tool, preview, {**DISK, "is_attached": False, "vm_id": None}) is None


@pytest.mark.parametrize(("status", "code"), [("deleting", "already deleting"), ("deleted", "already deleted")])
def test_a_resource_already_going_cannot_be_acted_on(status: str, code: str) -> None:
    tool = TOOLS["delete_vm"]
    target = {**VM, "status": status}
    assert impossible(tool, preview_for(tool, target), target)[0] == code


def test_a_create_preview_is_the_requested_spec_and_a_shell_names_only_the_id() -> None:
    preview = create_preview(TOOLS["create_vm"], {"name": "web-2", "region_id": "in-mum-1", "vm_config_id": "c",
                                                  "plan_id": "hourly", "delete_root_disk": True})
    assert preview.target_id is None and preview.name == "web-2" and preview.verb == "create"
    assert "On VM deletion the root disk will be deleted with it." in preview.text
    unread = shell(TOOLS["get_root_disk_volume"], "rd-7")
    assert unread.label == "root disk rd-7" and unread.text == ""


def test_the_confirmation_form_is_one_flat_string_field_asking_for_the_name() -> None:
    message, schema = confirmation_form(preview_for(TOOLS["delete_vm"], VM))
    assert message.endswith("To delete VM web-1, type its name exactly: web-1\nDecline or cancel to keep it as it is.")
    assert schema == {"type": "object", "required": ["confirm_name"], "properties": {"confirm_name": {
        "type": "string", "title": "Type the VM name to confirm", "description": "Type web-1 to delete it."}}}


# -- confirmation tokens -----------------------------------------------------------------------------------------
KEY = b"k" * 32
BINDING = Binding("delete_vm", {"org_id": "o", "project_id": "p", "vm_id": "vm-1"}, "vm-1", "web-1")


def signer(at: dt.datetime = NOW) -> TokenSigner:
    return TokenSigner(KEY, 300, lambda: at)


def test_a_token_verifies_for_exactly_its_binding_and_purpose() -> None:
    token, expires = signer().mint(BINDING)
    assert expires == NOW + dt.timedelta(seconds=300)
    assert signer().verify(token, BINDING).expires_at == expires
    other = [Binding("delete_vm", {**BINDING.args, "vm_id": "vm-2"}, "vm-2", "web-1"),
             Binding("delete_vm", BINDING.args, "vm-1", "web-1-renamed"),
             Binding("stop_vm", BINDING.args, "vm-1", "web-1")]
    for binding in other:
        with pytest.raises(TokenRejected) as refused:
            signer().verify(token, binding)
        assert refused.value.failure == "invalid"
    with pytest.raises(TokenRejected):
        signer().verify(token, BINDING, "elicit")


def test_a_token_ignores_its_own_argument_but_not_any_other() -> None:
    token, _ = signer().mint(BINDING)
    with_token = Binding("delete_vm", {**BINDING.args, "confirmation_token": token}, "vm-1", "web-1")
    assert signer().verify(token, with_token)


def test_an_expired_token_says_when_it_expired_and_a_malformed_one_is_malformed() -> None:
    token, expires = signer().mint(BINDING)
    with pytest.raises(TokenRejected) as late:
        signer(NOW + dt.timedelta(seconds=301)).verify(token, BINDING)
    assert (late.value.failure, late.value.expired_at) == ("expired", expires)
    for bad in ("", "c1", "c2.1.a.b", token + ".x", token.replace("c2.", "c2.x")):
        with pytest.raises(TokenRejected) as refused:
            signer().verify(bad, BINDING)
        assert refused.value.failure in ("malformed", "invalid")


@pytest.mark.anyio
async def test_the_in_process_replay_store_admits_a_confirmation_once_until_it_expires() -> None:
    clock = [NOW]
    guard = LocalReplays(lambda: clock[0])
    verified = signer().verify(signer().mint(BINDING)[0], BINDING)
    assert await guard.claim(verified.nonce, verified.expires_at)
    assert not await guard.claim(verified.nonce, verified.expires_at)
    clock[0] = NOW + dt.timedelta(seconds=301)  # past expiry the nonce is forgotten: the token itself is dead
    assert await guard.claim(verified.nonce, verified.expires_at)


def test_a_short_key_is_refused() -> None:
    with pytest.raises(ValueError, match="at least 32 bytes"):
        TokenSigner(b"short", 300, lambda: NOW)
