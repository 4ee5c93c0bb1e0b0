"""Finding 2 of issue 12: a confirmation token is read by one strict grammar; every other spelling is `invalid`.

The old parser used `str.isdigit()` + `int()`, so `00<exp>` and Arabic-Indic digits were *accepted* (the DELETE ran)
and a superscript digit crashed the call with no audit line. Each variant below keeps the token's numeric meaning
(or its bytes) and changes only its spelling: through a real MCP client each is refused, audited as `malformed`, and
nothing is deleted. The parser is also tested directly.
"""

from __future__ import annotations

import base64
import datetime as dt
import string
from collections.abc import Callable
from pathlib import Path

import pytest
from mcp import Client

from neev_mcp.gate.tokens import Binding, TokenRejected, TokenSigner, parse_token
from neev_mcp.sandbox import Sandbox

from .conftest import MakeServer
from .support import text, vm_id
from .support.gate import audit_lines, upstream

pytestmark = pytest.mark.anyio

INVALID = ("confirmation_token is not valid for this call: it is malformed, forged, or was issued for another VM, "
           "other arguments or another tool. Call delete_vm again without confirmation_token for a fresh preview, "
           "show it to the user, and use the token it returns.")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
FULLWIDTH = str.maketrans("0123456789", "０１２３４５６７８９")


def field(token: str, index: int, new: str) -> str:
    parts = token.split(".")
    parts[index] = new
    return ".".join(parts)


def flip_spare_bits(mac: str) -> str:
    """Another base64url text for the same 16 bytes (the last character's 2 unused bits set)."""
    alphabet = string.ascii_uppercase + string.ascii_lowercase + string.digits + "-_"
    return mac[:-1] + alphabet[alphabet.index(mac[-1]) | 0b11]


SPELLINGS: dict[str, Callable[[str], str]] = {
    "expiry-leading-zeros": lambda t: field(t, 1, "00" + t.split(".")[1]),
    "expiry-arabic-indic-digits": lambda t: field(t, 1, t.split(".")[1].translate(ARABIC_INDIC)),
    "expiry-fullwidth-digits": lambda t: field(t, 1, t.split(".")[1].translate(FULLWIDTH)),
    "expiry-superscript-digit": lambda t: field(t, 1, t.split(".")[1][:-1] + "²"),
    "expiry-plus-sign": lambda t: field(t, 1, "+" + t.split(".")[1]),
    "expiry-underscore": lambda t: field(t, 1, t.split(".")[1][:4] + "_" + t.split(".")[1][4:]),
    "expiry-surrounding-space": lambda t: field(t, 1, " " + t.split(".")[1]),
    "nonce-non-ascii": lambda t: field(t, 2, "é" + t.split(".")[2][1:]),
    "mac-padded": lambda t: t + "==",
    "mac-spare-bits-set": lambda t: field(t, 4, flip_spare_bits(t.split(".")[4])),
    "mac-standard-base64-alphabet": lambda t: field(t, 4, "+/" + t.split(".")[4][2:]),
    "extra-dot-at-end": lambda t: t + ".",
    "extra-dot-inside": lambda t: t.replace(".", "..", 1),
    "extra-field": lambda t: t + ".AAAA",
    "trailing-newline": lambda t: t + "\n",
    "version-uppercase": lambda t: "C" + t[1:],
    "old-version-four-fields": lambda t: "c1." + ".".join(t.split(".")[i] for i in (1, 2, 4)),
    "fullwidth-dot": lambda t: t.replace(".", "．", 1),
}


@pytest.mark.parametrize("spell", SPELLINGS.values(), ids=SPELLINGS.keys())
async def test_any_other_spelling_of_a_valid_token_is_refused_audited_and_deletes_nothing(
    spell: Callable[[str], str], make_server: MakeServer, sandbox: Sandbox, tmp_path: Path
) -> None:
    audit = tmp_path / "audit.jsonl"
    web = vm_id(sandbox, "web-1")
    async with Client(make_server(audit_log=audit)) as client:
        preview = await client.call_tool("delete_vm", {"vm_id": web})
        token = preview.structured_content["confirmation_token"]
        variant = spell(token)
        assert variant != token
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": variant})
    assert result.is_error
    assert text(result) == f"VM web-1 ({web}) was not deleted: " + INVALID
    assert result.structured_content["decision"] == "invalid"
    assert upstream(sandbox, "DELETE") == []
    last = audit_lines(audit)[-1]
    assert (last["event"], last["tool"], last["channel"], last["reason"]) == ("invalid", "delete_vm", "token",
                                                                                "malformed")
    assert token.split(".")[4] not in audit.read_text(encoding="utf-8")


async def test_the_canonical_token_still_deletes_once(make_server: MakeServer, sandbox: Sandbox) -> None:
    """The control for the test above: the unaltered token works, so the refusals are about spelling alone."""
    web = vm_id(sandbox, "web-1")
    async with Client(make_server()) as client:
        preview = await client.call_tool("delete_vm", {"vm_id": web})
        token = preview.structured_content["confirmation_token"]
        result = await client.call_tool("delete_vm", {"vm_id": web, "confirmation_token": token})
    assert not result.is_error, text(result)
    assert len(upstream(sandbox, "DELETE")) == 1


# -- the parser itself ----------------------------------------------------------------------------------------------
NOW = dt.datetime(2026, 11, 28, 12, 0, tzinfo=dt.UTC)
BINDING = Binding("delete_vm", {"vm_id": "x"}, "x", "web-1", (("status", "running"),))


def minted() -> str:
    return TokenSigner(b"k" * 32, 300, lambda: NOW).mint(BINDING)[0]


def test_the_parser_reads_exactly_the_fields_it_minted() -> None:
    token = minted()
    parsed = parse_token(token)
    version, expires, nonce, facts, mac = token.split(".")
    assert version == "c2"
    assert (parsed.expires, parsed.nonce, parsed.facts, parsed.mac) == (int(expires), nonce, facts, mac)
    assert parsed.expires == int(NOW.timestamp()) + 300
    assert (len(nonce), len(facts), len(mac)) == (12, 32, 22)
    assert len(base64.urlsafe_b64decode(mac + "==")) == 16


@pytest.mark.parametrize("spell", SPELLINGS.values(), ids=SPELLINGS.keys())
def test_the_parser_rejects_every_other_spelling_as_malformed(spell: Callable[[str], str]) -> None:
    with pytest.raises(TokenRejected) as caught:
        parse_token(spell(minted()))
    assert caught.value.failure == "malformed"


@pytest.mark.parametrize("value", [
    None, 12, b"c2.1.AAAAAAAAAAAA", ["c2"], "", "c2", "c2....", "c2.0." + "A" * 12 + "." + "A" * 32 + "." + "A" * 22,
    "c2.123456789012." + "A" * 12 + "." + "A" * 32 + "." + "A" * 22,  # 12 digits: longer than any expiry minted
    "c2.1." + "A" * 11 + "." + "A" * 32 + "." + "A" * 22, "c2.1." + "A" * 12 + "." + "A" * 33 + "." + "A" * 22,
    "c2.1." + "A" * 12 + "." + "A" * 32 + "." + "A" * 23, "x" * 100_000, "c2.1\u0000." + "A" * 12,
])
def test_the_parser_never_crashes_and_rejects_anything_outside_the_grammar(value: object) -> None:
    with pytest.raises(TokenRejected) as caught:
        parse_token(value)
    assert caught.value.failure == "malformed"


def test_the_largest_expiry_the_grammar_admits_is_still_a_date() -> None:
    token = "c2.99999999999." + "A" * 12 + "." + "A" * 32 + "." + "A" * 22
    assert parse_token(token).expires == 99_999_999_999
    with pytest.raises(TokenRejected) as caught:  # authentic or not, it never reaches datetime overflow
        TokenSigner(b"k" * 32, 300, lambda: NOW).verify(token, BINDING)
    assert caught.value.failure == "invalid"
