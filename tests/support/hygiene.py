"""pytest plugin: a test fails if a secret shows up in anything the suite produced.

Scanned for every test: each result and each error of `mcp.Client` calls (observed by wrapping the SDK client's public
methods; the originals still run), every log record that is emitted, every OpenTelemetry span that ends in this
process (name, attributes, events, status: the plugin installs the SDK's tracer provider, so the whole suite runs
with tracing on), and the test's captured stdout/stderr/log (captured stderr includes subprocesses that inherit it).
Secrets: the NeevCloud token the suite uses, the suite's NEEV_MCP_SECRET, and anything a test adds with `watch()`.
A leak fails the test with a message that names the secret and where it appeared, never its value.
The suite's NeevCloud token is the sandbox's built-in one, a public constant that `neev-mcp sandbox` prints on purpose
(with the command that uses it); here it stands for a real token, which neev-mcp itself must never show. Tests read that
banner from the sandbox process's own stderr (a pipe or a file), which this scan does not see. Registered from
tests/conftest.py (`pytest_plugins`).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Callable, Generator
from typing import Any

import pytest
from mcp import Client

from neev_mcp.sandbox import DEFAULT_TOKEN

SUITE_SECRET = "test-secret-for-neev-mcp-0123456789abcdef"  # tests/conftest.py's NEEV_MCP_SECRET
_watched: dict[str, str] = {DEFAULT_TOKEN: "the NeevCloud token", SUITE_SECRET: "NEEV_MCP_SECRET"}
_produced: list[tuple[str, str]] = []  # (where, text) since the last report
stats = {"results": 0, "log records": 0, "spans": 0, "reports": 0}
OBSERVED = ("call_tool", "list_tools", "read_resource", "get_prompt", "list_prompts", "list_resources")


def watch(secret: str, label: str = "a watched secret") -> None:
    """Also fail any test that lets `secret` out (e.g. a token a test made up)."""
    if secret:
        _watched[secret] = label
        _pieces_of.clear()  # a new secret may share fragments with those already watched


def leaks(text: str) -> list[str]:
    """Labels of the secrets found in `text`: whole, or for a JWT any 16-character fragment of it past its header
    (every HS256 JWT starts with the same header; a cut or wrapped token is still the token)."""
    found = []
    dense: str | None = None
    for secret, label in _watched.items():
        if secret in text:
            found.append(label)
            continue
        pieces = _pieces(secret)
        if not pieces:
            continue
        dense = re.sub(r"\s+", "", text) if dense is None else dense
        if any(probe in dense for probe in pieces[0]) and any(f in dense for f in pieces[1]):
            found.append(label)
    return found


def _pieces(secret: str) -> tuple[tuple[str, ...], tuple[str, ...]] | None:
    """For a JWT: its 16-character fragments past the header that no other watched secret shares (tokens made alike
    share more than the header), and the 8-character probes every such fragment contains one of; None for any other
    secret (matched whole)."""
    if secret not in _pieces_of:
        parts = secret.split(".")
        if len(parts) != 3 or len(secret) < 64:
            _pieces_of[secret] = None
        else:
            body = secret[len(parts[0]) + 1:]
            shared = {other[i:i + 16] for other in _watched if other != secret for i in range(len(other) - 15)}
            own = dict.fromkeys(body[i:i + 16] for i in range(len(body) - 15))
            fragments = tuple(f for f in own if f not in shared)
            _pieces_of[secret] = (tuple(body[i:i + 8] for i in range(0, len(body) - 7, 8)), fragments)
    return _pieces_of[secret]


_pieces_of: dict[str, tuple[tuple[str, ...], tuple[str, ...]] | None] = {}


def record(where: str, text: str) -> None:
    _produced.append((where, text))


class _LogTap(logging.Handler):
    def emit(self, record_: logging.LogRecord) -> None:
        stats["log records"] += 1
        try:
            text = record_.getMessage()
        except Exception:  # a bad format string is another test's problem
            text = str(record_.msg)
        if record_.exc_info:
            text += logging.Formatter().formatException(record_.exc_info)
        record(f"a log record of {record_.name}", text)


def _observe(method: Callable[..., Any], name: str) -> Callable[..., Any]:
    @functools.wraps(method)
    async def observed(self: Client, *args: Any, **kwargs: Any) -> Any:
        try:
            result = await method(self, *args, **kwargs)
        except Exception as exc:
            record(f"an error from Client.{name}", f"{type(exc).__name__}: {exc}")
            raise
        stats["results"] += 1
        dump = getattr(result, "model_dump_json", None)
        record(f"a Client.{name} result", dump() if dump else repr(result))
        return result

    observed.__wrapped_by_hygiene__ = method  # type: ignore[attr-defined]
    return observed


_tap = _LogTap(level=logging.NOTSET)


def span_text(span: Any) -> str:
    """Everything a span exports that could carry text: name, attributes, events and their attributes, status."""
    parts = [span.name, repr(dict(span.attributes or {})), str(span.status.description or "")]
    parts += [f"{event.name} {dict(event.attributes or {})!r}" for event in span.events]
    return "\n".join(parts)


def _install_span_tap() -> None:
    try:
        from opentelemetry import trace
        from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    except ImportError:  # the test extra installs the SDK; without it there are no spans to scan
        return

    class SpanTap(SpanProcessor):
        def on_end(self, span: Any) -> None:
            stats["spans"] += 1
            record(f"span {span.name!r}", span_text(span))

    provider = trace.get_tracer_provider()
    if not isinstance(provider, TracerProvider):
        provider = TracerProvider()
        trace.set_tracer_provider(provider)
    provider.add_span_processor(SpanTap())


def pytest_configure(config: pytest.Config) -> None:
    logging.getLogger().addHandler(_tap)
    _install_span_tap()
    for name in OBSERVED:
        method = getattr(Client, name, None)
        if method is not None and not hasattr(method, "__wrapped_by_hygiene__"):
            setattr(Client, name, _observe(method, name))


def pytest_unconfigure(config: pytest.Config) -> None:
    logging.getLogger().removeHandler(_tap)
    for name in OBSERVED:
        method = getattr(Client, name, None)
        original = getattr(method, "__wrapped_by_hygiene__", None)
        if original is not None:
            setattr(Client, name, original)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item: pytest.Item, call: pytest.CallInfo[None]) -> Generator[None, Any, Any]:
    report = yield
    produced, _produced[:] = list(_produced), []
    produced += [(section.lower(), content) for section, content in report.sections]
    stats["reports"] += 1
    found = sorted({f"{label} appeared in {where}" for where, text in produced for label in leaks(text)})
    _withhold(item, report)
    if found:
        message = "token hygiene: " + "; ".join(found) + " (value withheld)"
        if report.failed:
            report.sections.append(("token hygiene", message))
        else:
            report.outcome = "failed"
            report.longrepr = message
    return report


def scrub(text: str) -> str:
    for secret in _watched:
        text = text.replace(secret, "[withheld by token hygiene]")
    return text


def _withhold(item: pytest.Item, report: pytest.TestReport) -> None:
    """Keep the values out of the report (pytest prints captured output of failing tests) and out of later phases."""
    item._report_sections = [(when, key, scrub(content)) for when, key, content in item._report_sections]
    report.sections = [(key, scrub(content)) for key, content in report.sections]


def pytest_terminal_summary(terminalreporter: Any) -> None:
    terminalreporter.write_line(
        f"token hygiene: scanned {stats['results']} MCP results, {stats['log records']} log records, "
        f"{stats['spans']} spans and {stats['reports']} test reports for {len(_watched)} secrets"
    )
