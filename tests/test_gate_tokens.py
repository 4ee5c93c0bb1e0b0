"""Confirmation tokens for clients without elicitation: preview, round trip, and every way a token must be refused."""

from __future__ import annotations

from pathlib import Path

import pytest
from mcp import Client

from neev_mcp.sandbox import Sandbox, SimClock

from .conftest import MakeServer, vm_path
from .support import disk_id, text, vm_id
from .support.gate import MODES, events, upstream

pytestmark = pytest.mark.anyio

INVALID = ("confirmation_token is not valid for this call: it is malformed, forged, or was issued for another "
           "{kind}, other arguments or another tool. Call {tool} again without confirmation_token for a fresh "
           "preview, show it to the user, and use the token it returns.")


async def preview_token(client: Client, tool: str, args: dict) -> str:
    result = await client.call_tool(tool, args)
    assert not result.is_error, text(result)
    return result.structured_content["confirmation_token"]


@pytest.mark.parametrize("mode", MODES)
async def test_without_elicitation_the_first_call_returns_a_preview_and_a_token_and_deletes_nothing(
    mode: str, make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(audit_log=audit), mode=mode) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
    assert not result.is_error
    structured = result.structured_content
    token = structured["confirmation_token"]
    assert structured["confirmation_required"] is True
    assert structured["executed"] is False
    assert structured["target"] == {"id": web, "name": "web-1"}
    assert structured["expires_at"] == "2026-11-28T12:05:00Z"
    assert structured["facts"]["root_disk_fate"] == "detached_and_kept"
    assert len(token) == 82 and all(c.isascii() and (c.isalnum() or c in "-_.") for c in token)
    assert text(result).startswith(f"Delete VM web-1 ({web}): status running, public IP 203.0.113.10.")
    assert text(result).endswith(
        "Not deleted yet: this needs the user's confirmation. Show the preview above to the user and ask whether to "
        "delete VM web-1. Only if they agree, call delete_vm again with the same arguments plus "
        f'confirmation_token="{token}". The token expires at 2026-11-28T12:05:00Z (300 s) and works once, only for '
        "this VM with these arguments."
    )
    assert upstream(sandbox, "DELETE") == []
    assert events(audit) == [("requested", "delete_vm", "token")]
    assert token not in audit.read_text()


@pytest.mark.parametrize("mode", MODES)
async def test_calling_again_with_the_token_deletes_exactly_once(
    mode: str, make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(audit_log=audit), mode=mode) as client:
        token = await preview_token(client, "delete_vm", {"vm_id": web})
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
        assert not result.is_error, text(result)
        assert upstream(sandbox, "DELETE") == [vm_path(web)]
        replay = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    assert replay.is_error
    assert text(replay) == (f"VM web-1 ({web}) was not deleted: it is already being deleted (status 'deleting'). "
                            "Follow it with wait_for_vm target_status=deleted.")
    assert upstream(sandbox, "DELETE") == [vm_path(web)]
    assert events(audit) == [("requested", "delete_vm", "token"), ("confirmed", "delete_vm", "token"),
                             ("executed", "delete_vm", "token"), ("refused", "delete_vm", "none")]
    assert token not in audit.read_text()


async def test_explicit_scope_arguments_equal_to_the_defaults_are_the_same_call(
    server, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(server) as client:
        token = await preview_token(client, "delete_vm", {"vm_id": web})
        result = await client.call_tool("delete_vm", {"vm_id": web, "org_id": "demo-org", "project_id": "demo-project",
                                                      "confirmation_token": token})
    assert not result.is_error, text(result)
    assert upstream(sandbox, "DELETE") == [vm_path(web)]


@pytest.mark.parametrize(
    "forge",
    [
        lambda t: "c2.4102444800.AAAAAAAAAAAA." + "A" * 32 + "." + "A" * 22,  # well-formed, never minted
        lambda t: t[:-1] + ("A" if t[-1] != "A" else "B"),  # one character of the MAC changed
        lambda t: t.replace(t.split(".")[1], str(int(t.split(".")[1]) + 3600)),  # expiry pushed back an hour
        lambda t: t.replace(t.split(".")[2], "BBBBBBBBBBBB"),  # nonce swapped
        lambda t: "true",  # what an over-eager agent might send
        lambda t: "",
    ],
    ids=["never-minted", "mac-edited", "expiry-extended", "nonce-swapped", "true", "empty"],
)
async def test_a_forged_or_altered_token_is_refused_and_nothing_is_deleted(
    forge, server, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(server) as client:
        token = await preview_token(client, "delete_vm", {"vm_id": web})
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": forge(token)})
    assert result.is_error
    assert text(result) == f"VM web-1 ({web}) was not deleted: " + INVALID.format(kind="VM", tool="delete_vm")
    assert result.structured_content["decision"] == "invalid"
    assert upstream(sandbox, "DELETE") == []


async def test_a_token_for_one_vm_does_not_delete_another(server, sandbox: Sandbox) -> None:
    web, db = vm_id(sandbox, "web-1"), vm_id(sandbox, "db-1")
    async with Client(server) as client:
        token = await preview_token(client, "delete_vm", {"vm_id": web})
        result = await client.call_tool("delete_vm", {"vm_id": db, "confirmation_token": token})
    assert result.is_error
    assert text(result) == f"VM db-1 ({db}) was not deleted: " + INVALID.format(kind="VM", tool="delete_vm")
    assert upstream(sandbox, "DELETE") == []


async def test_a_token_for_delete_vm_does_not_delete_a_root_disk(server, sandbox: Sandbox) -> None:
    web, orphan = vm_id(sandbox, "web-1"), disk_id(sandbox, "old-root-disk")
    async with Client(server) as client:
        token = await preview_token(client, "delete_vm", {"vm_id": web})
        result = await client.call_tool("delete_root_disk_volume", {"root_disk_id": orphan,
                                                                    "confirmation_token": token})
    assert result.is_error
    assert text(result) == (f"root disk old-root-disk ({orphan}) was not deleted: "
                            + INVALID.format(kind="root disk", tool="delete_root_disk_volume"))
    assert upstream(sandbox, "DELETE") == []


async def test_a_token_is_refused_when_the_vm_behind_the_id_is_no_longer_the_one_previewed(
    server, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(server) as client:
        token = await preview_token(client, "delete_vm", {"vm_id": web})
        sandbox.vms[web].name = "web-1-renamed"  # the cloud changed under the preview
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    assert result.is_error
    assert text(result).startswith(f"VM web-1-renamed ({web}) was not deleted: confirmation_token is not valid")
    assert upstream(sandbox, "DELETE") == []


async def test_a_token_signed_with_another_secret_is_refused(make_server: MakeServer, sandbox: Sandbox) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(mcp_secret="some-other-secret-0123456789abcdef-012345")) as other:
        token = await preview_token(other, "delete_vm", {"vm_id": web})
    async with Client(make_server()) as client:
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    assert result.is_error
    assert upstream(sandbox, "DELETE") == []


async def test_an_expired_token_is_refused_and_one_just_inside_the_window_works(
    make_server: MakeServer, sandbox: Sandbox, clock: SimClock, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    web, db = vm_id(sandbox, "web-1"), vm_id(sandbox, "db-1")
    async with Client(make_server(audit_log=audit)) as client:
        old = await preview_token(client, "delete_vm", {"vm_id": web})
        clock.advance(300)
        expired = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": old})
        fresh = await preview_token(client, "delete_vm", {"vm_id": db})
        clock.advance(299)
        in_time = await client.call_tool("delete_vm", {"vm_id": db, "confirmation_token": fresh})
    assert expired.is_error
    assert text(expired) == (f"VM web-1 ({web}) was not deleted: the confirmation expired at 2026-11-28T12:05:00Z. "
                             "Call delete_vm again without confirmation_token for a fresh preview and ask the user "
                             "again.")
    assert not in_time.is_error, text(in_time)
    assert upstream(sandbox, "DELETE") == [vm_path(db)]
    assert [e[0] for e in events(audit)] == ["requested", "expired", "requested", "confirmed", "executed"]


async def test_with_fallback_deny_a_client_without_elicitation_is_refused_with_how_to_enable_it(
    make_server: MakeServer, sandbox: Sandbox
) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(confirm_fallback="deny"), mode="legacy") as client:
        result = await client.call_tool("delete_vm", {"vm_id": web})
        with_token = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": "c1.1.A.B"})
    assert result.is_error
    assert text(result) == (
        f"VM web-1 ({web}) was not deleted: this client cannot ask the user (no elicitation support, or no "
        "back-channel on this transport). This server requires confirmation by the user (NEEV_CONFIRM=destructive, "
        "NEEV_CONFIRM_FALLBACK=deny). To enable it: use an MCP client that supports elicitation (form mode), or set "
        "NEEV_CONFIRM_FALLBACK=token so the server returns a preview and a one-time confirmation token the agent "
        "passes back after the user approves."
    )
    assert "confirmation_token" not in (result.structured_content or {})
    assert with_token.is_error
    assert text(with_token).startswith(f"VM web-1 ({web}) was not deleted: a confirmation_token was given but "
                                       "NEEV_CONFIRM_FALLBACK=deny accepts only confirmation by the user")
    assert upstream(sandbox, "DELETE") == []


async def test_a_token_from_a_token_replica_is_refused_by_a_deny_replica(make_server: MakeServer, sandbox: Sandbox
                                                                          ) -> None:
    web = vm_id(sandbox, "web-1")
    async with Client(make_server()) as lenient:
        token = await preview_token(lenient, "delete_vm", {"vm_id": web})
    async with Client(make_server(confirm_fallback="deny")) as strict:
        result = await strict.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    assert result.is_error
    assert upstream(sandbox, "DELETE") == []


def test_every_other_spelling_of_the_mac_is_refused_even_where_base64_would_decode_it_to_the_same_bytes() -> None:
    import datetime as dt
    import string

    from neev_mcp.gate.tokens import Binding, TokenRejected, TokenSigner

    now = dt.datetime(2026, 11, 28, tzinfo=dt.UTC)
    signer = TokenSigner(b"k" * 32, 300, lambda: now)
    binding = Binding("delete_vm", {"vm_id": "x"}, "x", "web-1")
    token, _ = signer.mint(binding)
    signer.verify(token, binding)
    alphabet = string.ascii_letters + string.digits + "-_"
    for char in alphabet.replace(token[-1], ""):
        with pytest.raises(TokenRejected):
            signer.verify(token[:-1] + char, binding)
