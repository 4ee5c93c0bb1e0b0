"""Issue 12, finding 1: an upstream that echoes the bearer never gets it (or a piece of it) into a result or a log line.

Each case is what the security review saw with a hostile fake NeevCloud; every one leaked on the old code. A fragment is
any run of 16 characters of the token once whitespace is removed (a line-wrapped token is still the token).
"""

from __future__ import annotations

import json
import logging
import textwrap

import httpx2
import pytest
from mcp import Client
from mcp.client.extension import advertise

from neev_mcp.sandbox import make_token
from neev_mcp.scrub import MIN_FRAGMENT, REDACTED, scrubber

from .support import hygiene as _hygiene
from .support.upstream import Recording, everything_in, fragments_in, result_text, sample_vm, server_on

TOKEN = make_token(sub="hostile-upstream-victim-" + "x" * 40)
_hygiene.watch(TOKEN, "the hostile-upstream test token")


def echo_header(request: httpx2.Request) -> str:
    return request.headers["authorization"]


def non_json_straddling_the_cut(request: httpx2.Request) -> httpx2.Response:
    # "(non-JSON body: …)" keeps 200 characters: the cut falls one character before the token's end (183 of 184 leaked)
    token = echo_header(request).removeprefix("Bearer ")
    lead = "x" * (200 - len("got Bearer ") - (len(token) - 1))
    return httpx2.Response(500, text=f"{lead}got Bearer {token} and more", headers={"content-type": "text/plain"})


def html_wrapped_at_76_columns(request: httpx2.Request) -> httpx2.Response:
    wrapped = "\n".join(textwrap.wrap(f"Authorization: {echo_header(request)}", 76, break_long_words=True))
    return httpx2.Response(502, text=f"<html><body><h1>Bad gateway</h1><pre>{wrapped}</pre></body></html>",
                           headers={"content-type": "text/html"})


def json_error_echo(request: httpx2.Request) -> httpx2.Response:
    return httpx2.Response(400, json={"code": "bad_token", "message": f"token {echo_header(request)} refused"})


def get_vm_echo(request: httpx2.Request) -> httpx2.Response:
    vm = {**sample_vm(), "status": "failed", "message": f"debug: {echo_header(request)}",
          "debug": {"headers": {"authorization": echo_header(request)}, echo_header(request): "as a key"}}
    return httpx2.Response(200, json=vm)


CASES = {
    "a non-JSON 500 whose echo straddles the 200-character cut": (non_json_straddling_the_cut, "list_vms", {}),
    "an HTML 502 page wrapping the header at 76 columns": (html_wrapped_at_76_columns, "list_vms", {}),
    "a JSON 400 whose message echoes the header": (json_error_echo, "list_vms", {}),
    "a get_vm 200 that echoes the bearer in fields and a key": (get_vm_echo, "get_vm", {"vm_id": sample_vm()["id"]}),
}


@pytest.mark.anyio
@pytest.mark.parametrize("case", list(CASES))
async def test_no_fragment_of_the_token_reaches_the_result(case: str) -> None:
    answer, tool, args = CASES[case]

    async def handler(request: httpx2.Request) -> httpx2.Response:
        return answer(request)

    upstream = Recording(handler)
    async with Client(server_on(upstream.transport(), TOKEN, max_attempts=1), raise_exceptions=True) as client:
        result = await client.call_tool(tool, args)
    assert len(upstream.seen) == 1 and echo_header(upstream.seen[0]) == f"Bearer {TOKEN}"  # it was sent
    assert fragments_in(TOKEN, everything_in(result)) == []
    assert REDACTED in everything_in(result)  # the echo was there, and was redacted (not dropped wholesale)


@pytest.mark.anyio
async def test_the_rest_of_an_echoing_error_survives_the_scrub() -> None:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        return html_wrapped_at_76_columns(request)

    async with Client(server_on(Recording(handler).transport(), TOKEN, max_attempts=1)) as client:
        result = await client.call_tool("list_vms", {})
    assert result_text(result).startswith(
        "NeevCloud refused list_vms: HTTP 502 (non-JSON body: <html><body><h1>Bad gateway</h1><pre>Authorization: "
        "Bearer [redacted]</pre></body></html>)."
    )


def test_log_records_of_neev_mcp_loggers_are_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    server_on(None, TOKEN)  # building a client registers its token and guards the package's loggers
    wrapped = "\n".join(textwrap.wrap(f"upstream said: Bearer {TOKEN}", 76))
    with caplog.at_level(logging.INFO, logger="neev_mcp"):
        logging.getLogger("neev_mcp.server").warning("answer was %s", wrapped)
        try:
            raise ValueError(f"unexpected field {TOKEN[:40]}")
        except ValueError:
            logging.getLogger("neev_mcp.client").exception("could not read it")
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0] == "answer was upstream said: Bearer [redacted]"
    assert fragments_in(TOKEN, caplog.text) == []
    assert "ValueError: unexpected field [redacted]" in caplog.text


def test_every_fragment_of_16_or_more_characters_is_found_wherever_it_starts_and_however_it_is_wrapped() -> None:
    clean = scrubber(TOKEN)
    for start in range(len(TOKEN) - MIN_FRAGMENT + 1):
        for length in (MIN_FRAGMENT, len(TOKEN) - start):
            piece = TOKEN[start:start + length]
            wrapped = "\n ".join(piece[i:i + 5] for i in range(0, len(piece), 5))  # whitespace every 5 characters
            assert fragments_in(TOKEN, clean.text(f"<p>{piece}</p>")) == [], (start, length)
            assert fragments_in(TOKEN, json.dumps(clean.value({"k": [f"said: {wrapped}."]}))) == [], (start, length)
    assert clean.text(f"x {TOKEN[:MIN_FRAGMENT - 1]} y") == f"x {TOKEN[:MIN_FRAGMENT - 1]} y"  # 15 characters stay
    assert clean.value({"id": "6f1c2b7e-0d2a-4c1e-9a55-2b8f3f6f9a10"}) == {"id": "6f1c2b7e-0d2a-4c1e-9a55-2b8f3f6f9a10"}


@pytest.mark.parametrize("encode", [
    pytest.param(lambda s: json.dumps({"data": [{"name": s}]}), id="verbatim"),
    pytest.param(lambda s: json.dumps({"data": [{"name": s}]}).replace(s[20], f"\\u{ord(s[20]):04x}"),
                 id="a character as a \\u escape"),
    pytest.param(lambda s: json.dumps({"data": [{"name": s.replace(".", "\u00a0.")}]}, ensure_ascii=False),
                 id="non-ASCII whitespace inside"),
    pytest.param(lambda s: json.dumps({"data": [{"name": "\n".join(s[i:i + 9] for i in range(0, len(s), 9))}]}),
                 id="wrapped (escaped newlines)"),
    pytest.param(lambda s: json.dumps({"data": [{s: 1}]}), id="as a key"),
])
def test_the_raw_body_shortcut_never_lets_an_encoded_token_through(encode) -> None:  # type: ignore[no-untyped-def]
    """Pages are checked on their raw JSON text first (the fast path of a 100,000-VM walk); an echo hidden by JSON
    escapes or non-ASCII whitespace must still be found, in the parsed value."""
    raw = encode(f"echo: {TOKEN}").encode()
    cleaned = scrubber(TOKEN).value(json.loads(raw), raw=raw)
    assert fragments_in(TOKEN, json.dumps(cleaned, ensure_ascii=False).replace("\u00a0", "")) == []
    assert REDACTED in json.dumps(cleaned)


def test_an_answer_built_by_our_code_is_scrubbed_inside_tuples_too() -> None:
    """Whole-project answers are scrubbed as our code built them, before serialisation turns tuples into lists."""
    built = {"examples": (("vm-1", f"name {TOKEN}"),), "top": [(TOKEN[3:40], 10)]}
    assert fragments_in(TOKEN, json.dumps(scrubber(TOKEN).value(built))) == []


def test_a_clean_page_is_settled_from_its_raw_text_and_returned_as_it_is() -> None:
    page = {"data": [{**sample_vm(), "id": f"vm-{i}"} for i in range(100)], "pagination": {"total_pages": 1}}
    raw = json.dumps(page).encode()
    parsed = json.loads(raw)
    assert scrubber(TOKEN).value(parsed, raw=raw) is parsed


def test_the_raw_body_shortcut_finds_every_fragment_at_every_offset() -> None:
    """The shortcut reads the body in 8-byte blocks: a 16-character fragment is caught wherever it falls."""
    clean = scrubber(TOKEN)
    for pad in range(8):
        for start in range(len(TOKEN) - MIN_FRAGMENT + 1):
            raw = json.dumps({"p": "x" * pad, "m": TOKEN[start:start + MIN_FRAGMENT]}).encode()
            assert clean.value(json.loads(raw), raw=raw)["m"] == REDACTED, (pad, start)


# -- whole-project answers: pages are walked unscrubbed, the answer is scrubbed whole --------------------------------
def echoing_pages(request: httpx2.Request) -> httpx2.Response:
    """Three pages of VMs and of root disks with the bearer in every string an answer could repeat: names, failure
    messages, ids and a key whole; regions, configurations, plans and images as a 40-character piece of it (longer
    values are not taken for options at all)."""
    bearer = echo_header(request)
    piece = bearer.removeprefix("Bearer ")[5:45]
    page = int(request.url.params.get("page", "1"))
    items: list[dict[str, object]] = []
    for i in range(3):
        n = f"{page}-{i}"
        if request.url.path.endswith("/root_disks"):
            items.append({"id": f"{bearer} disk {n}", "name": f"disk {n} {bearer}", "region": piece, "size_gb": 10 + i,
                          "image_id": piece, "volume_mode": "filesystem", "plan_id": piece, "status": "ready",
                          "message": f"why: {bearer}", "is_attached": False, "vm_id": None,
                          "created_at": "2026-10-24T04:46:13Z", "updated_at": "2026-10-24T04:46:43Z"})
        else:
            items.append({**sample_vm(), "id": f"{bearer} vm {n}", "name": f"vm {n} {bearer}", "status": "failed",
                          "message": f"boot failed: {bearer}", "region_id": piece, "vm_config_id": piece,
                          "plan_id": piece, "image_id": piece, bearer: "as a key"})
    paging = {"current_page": page, "total_pages": 3, "total_items": 9, "items_per_page": 3}
    return httpx2.Response(200, json={"data": items, "pagination": paging})


@pytest.mark.anyio
@pytest.mark.parametrize("tool", ["project_overview", "vm_options", "dashboard_snapshot"])
async def test_a_whole_project_answer_built_from_echoing_pages_carries_no_fragment(tool: str) -> None:
    async def handler(request: httpx2.Request) -> httpx2.Response:
        return echoing_pages(request)

    upstream = Recording(handler)
    apps = advertise("io.modelcontextprotocol/ui", {"mimeTypes": ["text/html;profile=mcp-app"]})
    async with Client(server_on(upstream.transport(), TOKEN), extensions=[apps], raise_exceptions=True) as client:
        result = await client.call_tool(tool, {})
    assert not result.is_error and result.structured_content["complete"] is True
    assert len(upstream.seen) == 6  # every page of both collections, each once
    assert fragments_in(TOKEN, everything_in(result)) == []
    assert REDACTED in everything_in(result)
