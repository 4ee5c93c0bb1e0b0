"""Confirmation gate: no gated call reaches NeevCloud until a human has confirmed exactly that call.

    preview ─ fetch the target (nothing to fetch for a create); refuse at once what cannot succeed
    ├─ 2026-07-28 retry carrying our sealed state + the user's answer → check answer → re-check target → execute
    ├─ confirmation_token argument (fallback=token only) → verify HMAC, expiry, binding, first use → execute
    └─ ask:  client declared elicitation
             ├─ 2026-07-28: return InputRequiredResult (the client asks the user and retries)
             └─ handshake era: elicitation/create mid-call → check answer → re-fetch target → execute
             no elicitation (or no back-channel): fallback=token → preview + signed token; fallback=deny → refuse

Confirmation is stateless across calls: the token and the 2026-07-28 round state are signed with a key derived from
NEEV_MCP_SECRET and bound to the tool, the exact arguments, the target's id and name and the decisive facts the
preview stated (`previews.decisive_facts`), so any replica sharing the secret can finish the job, and a target whose
facts changed since the preview is refused with the change named. "At most once" is a claim in the replay store
(`replay.py`) before anything is sent: per process by default, across replicas with NEEV_MCP_REPLAY_STORE.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from mcp import MCPError
from mcp.shared.exceptions import NoBackChannelError
from mcp.types import (
    CallToolResult,
    ElicitRequest,
    ElicitRequestFormParams,
    ElicitResult,
    InputRequiredResult,
    TextContent,
)
from mcp_types.version import is_version_at_least

from ..caller import caller_binding, caller_of
from ..config import Settings
from ..errors import NeevError, NotFound
from ..kinds import CONFIRMATION_ARG, scope_label
from ..text import clip, utc_stamp
from .audit import AuditLog, Channel, Event
from .previews import (
    CONFIRM_FIELD,
    Preview,
    changed_facts,
    confirmation_form,
    create_preview,
    decisive_facts,
    impossible,
    preview_for,
    shell,
)
from .replay import ReplayStoreUnavailable, replay_store
from .request_preview import request_preview
from .tokens import Binding, Purpose, TokenRejected, TokenSigner, Verified

if TYPE_CHECKING:
    from ..registry import ToolDef

log = logging.getLogger("neev_mcp.gate")

INPUT_REQUIRED_VERSION = "2026-07-28"  # the protocol that asks the user by returning input_required
INPUT_KEY = "confirm"
FetchTarget = Callable[[], Awaitable[dict[str, Any]]]
Execute = Callable[[dict[str, Any] | None], Awaitable[CallToolResult]]


def derive_key(secret: bytes, purpose: str) -> bytes:
    """A separate 32-byte key per purpose, so one secret can sign tokens and seal request state independently."""
    return hmac.new(secret, f"neev-mcp/{purpose}/v1".encode(), hashlib.sha256).digest()


class Refusal(Exception):
    """Stops a gated call; becomes an `isError` result saying what was not done (`preview.not_done(why)`)."""

    def __init__(self, event: Event, *, preview: Preview, why: str, reason: str, channel: Channel = "none") -> None:
        self.text = preview.not_done(why)
        super().__init__(self.text)
        self.event, self.preview, self.reason, self.channel = event, preview, reason, channel


class Gate:
    def __init__(self, settings: Settings, secret: bytes, *, now: Callable[[], dt.datetime]) -> None:
        self.settings = settings
        self._now = now
        self.signer = TokenSigner(derive_key(secret, "confirmation-token"), settings.confirm_ttl, now)
        store = settings.replay_store.get_secret_value() if settings.replay_store else None
        self.replays = replay_store(store, now)
        if store:
            log.info("confirmations are claimed in the replay store: %s", self.replays.description)
        self.audit = AuditLog(settings.audit_log, now)

    async def run(
        self, tool: ToolDef, args: dict[str, Any], context: Any, fetch_target: FetchTarget, execute: Execute
    ) -> CallToolResult | InputRequiredResult:
        try:
            preview, target = await self._preview(tool, args, fetch_target)
            binding = Binding(tool.name, args, preview.target_id, preview.name, decisive_facts(preview),
                              caller_binding(context))
            if getattr(context, "request_state", None) is not None:
                self._check_answer(_answer(context), preview, "input_required")
                verified = self._verify(context.request_state, binding, preview, "elicit", "input_required")
                self._record("confirmed", preview, "input_required")
                return await self._execute(tool, preview, target, execute, "input_required", verified)
            if args.get(CONFIRMATION_ARG) is not None:
                if self.settings.confirm_fallback == "deny":
                    raise self._deny(preview, "a confirmation_token was given but NEEV_CONFIRM_FALLBACK=deny "
                                     "accepts only confirmation by the user through the client")
                verified = self._verify(args[CONFIRMATION_ARG], binding, preview, "token", "token")
                self._record("confirmed", preview, "token")
                return await self._execute(tool, preview, target, execute, "token", verified)
            return await self._ask(tool, preview, binding, context, fetch_target, execute)
        except Refusal as refusal:
            return self._refused(tool, refusal)

    # -- preview -----------------------------------------------------------------------------------------------------
    async def _preview(
        self, tool: ToolDef, args: dict[str, Any], fetch_target: FetchTarget
    ) -> tuple[Preview, dict[str, Any] | None]:
        if tool.unreviewed:  # nothing reviewed to read or to foresee: the preview is the request itself
            assert tool.operation is not None
            return request_preview(tool, tool.operation, args), None
        if tool.kind is None:  # create_vm under NEEV_CONFIRM=mutating: the requested spec, and who has the name
            existing = await fetch_target()
            return create_preview(tool, args, existing), existing
        target = await self._fetch(tool, args, fetch_target)
        _check_identity(tool, args, target)
        preview = preview_for(tool, target)
        blocked = impossible(tool, preview, target)
        if blocked:
            raise Refusal("refused", preview=preview, why=blocked[1], reason=blocked[0])
        return preview, target

    async def _fetch(self, tool: ToolDef, args: dict[str, Any], fetch_target: FetchTarget) -> dict[str, Any]:
        assert tool.kind is not None
        unread = shell(tool, str(args.get(tool.kind.id_arg, "")))
        try:
            return await fetch_target()
        except NotFound:
            why = f"it does not exist in project {scope_label(args)} (HTTP 404). Take ids from {tool.kind.lister}."
            raise Refusal("refused", preview=unread, why=why, reason="not found") from None
        except NeevError as exc:
            why = f"its current state could not be read, so nothing was done. {exc.message}"
            raise Refusal("refused", preview=unread, why=why, reason=type(exc).__name__) from None

    # -- asking ------------------------------------------------------------------------------------------------------
    async def _ask(
        self, tool: ToolDef, preview: Preview, binding: Binding, context: Any, fetch_target: FetchTarget,
        execute: Execute,
    ) -> CallToolResult | InputRequiredResult:
        message, schema = confirmation_form(preview)
        if _can_elicit(context):
            if is_version_at_least(context.protocol_version or "", INPUT_REQUIRED_VERSION):
                # No back-channel on 2026-07-28: the client asks the user and retries with the answer. Our state is a
                # signed binding (tool, arguments, target, expiry); the SDK seals it again with the shared key.
                state, _ = self.signer.mint(binding, "elicit")
                self._record("requested", preview, "input_required")
                request = ElicitRequest(params=ElicitRequestFormParams(message=message, requested_schema=schema))
                return InputRequiredResult(input_requests={INPUT_KEY: request}, request_state=state)
            if context.session.can_send_request:
                asked_at = self._now()
                self._record("requested", preview, "elicitation")
                try:
                    answer = await context.session.elicit_form(message, schema, related_request_id=context.request_id)
                except MCPError as exc:
                    if not _no_back_channel(exc):
                        # The client could ask but the dialog failed (dismissed, timed out, unsupported form):
                        # that is not consent, and must not degrade into a token the agent could redeem alone.
                        why = (f"the confirmation dialog failed ({exc.message}). Nothing was done; ask the user "
                               "again if they still want it.")
                        raise Refusal("cancelled", preview=preview, why=why, reason="elicitation error",
                                      channel="elicitation") from None
                    # e.g. stateless HTTP: elicitation declared, but there is no way to ask mid-call
                    log.info("no back-channel to ask the user for %s; using fallback=%s", tool.name,
                             self.settings.confirm_fallback)
                else:
                    if (self._now() - asked_at).total_seconds() > self.settings.confirm_ttl:
                        why = f"the answer came after the {self.settings.confirm_ttl:.0f} s confirmation window."
                        raise Refusal("expired", preview=preview, why=why, reason="late answer", channel="elicitation")
                    self._check_answer(answer, preview, "elicitation")
                    self._record("confirmed", preview, "elicitation")
                    # The user may have taken minutes: read the target again right before acting on it.
                    target = await self._recheck(tool, dict(binding.args), preview, fetch_target)
                    return await self._execute(tool, preview, target, execute, "elicitation", None)
        if self.settings.confirm_fallback == "deny":
            raise self._deny(preview, "this client cannot ask the user (no elicitation support, or no back-channel "
                             "on this transport)")
        token, expires = self.signer.mint(binding, "token")
        self._record("requested", preview, "token")
        return _token_preview(tool, preview, token, expires, self.settings.confirm_ttl)

    def _check_answer(self, answer: ElicitResult | None, preview: Preview, channel: Channel) -> None:
        action = answer.action if isinstance(answer, ElicitResult) else "cancel"
        if action == "decline":
            raise Refusal("declined", preview=preview, why="the user declined. Do not retry unless the user asks "
                          "again.", reason="declined", channel=channel)
        if action != "accept":
            raise Refusal("cancelled", preview=preview, why="the user cancelled the confirmation. Do not retry unless "
                          "the user asks again.", reason="cancelled", channel=channel)
        assert answer is not None
        content = answer.content or {}
        if not preview.name.strip():  # nothing to type means nothing was confirmed
            raise Refusal("invalid", preview=preview, why="the resource has no name to confirm against.",
                          reason="empty name", channel=channel)
        if CONFIRM_FIELD not in content:  # say what came instead of pretending an empty name was typed
            got = (f"only {clip(repr(dict(content)), 120, marker='...')}" if content else "no fields at all")
            why = (f"the answer had no {CONFIRM_FIELD} field ({got}), so no name was typed and the confirmation "
                   "does not count.")
            raise Refusal("invalid", preview=preview, why=why, reason="no name field", channel=channel)
        typed = str(content[CONFIRM_FIELD]).strip()
        if not hmac.compare_digest(typed.encode(), preview.name.encode()):
            shown = clip(typed, 60, marker="...")
            why = f"the name typed ({shown!r}) does not match {preview.name!r}, so the confirmation does not count."
            raise Refusal("invalid", preview=preview, why=why, reason="name mismatch", channel=channel)

    async def _recheck(
        self, tool: ToolDef, args: dict[str, Any], preview: Preview, fetch_target: FetchTarget
    ) -> dict[str, Any] | None:
        """The target as it is now, provided it is still the one confirmed (same id and name) and still actionable."""
        if preview.target_id is None:
            return None
        fresh, target = await self._preview(tool, args, fetch_target)
        if (fresh.target_id, fresh.name) != (preview.target_id, preview.name):
            why = (f"it is no longer the {preview.kind} the user confirmed (now {fresh.label}). Nothing was done; "
                   "ask again.")
            raise Refusal("refused", preview=preview, why=why, reason="target changed")
        then, now = decisive_facts(preview), decisive_facts(fresh)
        if then != now:
            changed = tuple(name for name, value in now if (name, value) not in then)
            raise _facts_changed(preview, changed_facts(now, changed, then), changed, "elicitation")
        return target

    # -- tokens ------------------------------------------------------------------------------------------------------
    def _verify(self, token: Any, binding: Binding, preview: Preview, purpose: Purpose, channel: Channel) -> Verified:
        try:
            return self.signer.verify(token, binding, purpose)
        except TokenRejected as exc:
            if exc.failure == "changed":
                changes = changed_facts(tuple(binding.facts), exc.changed)
                raise _facts_changed(preview, changes, exc.changed, channel) from None
            if exc.failure == "expired":
                when = utc_stamp(exc.expired_at) if exc.expired_at else "earlier"
                why = (f"the confirmation expired at {when}. Call {preview.tool} again without confirmation_token "
                       "for a fresh preview and ask the user again.")
                raise Refusal("expired", preview=preview, why=why, reason="expired", channel=channel) from None
            if purpose == "elicit" and exc.failure == "invalid":
                why = (f"the {preview.kind} is no longer the one the user confirmed (its id or name changed). "
                       "Nothing was done; ask again.")
                raise Refusal("refused", preview=preview, why=why, reason="target changed", channel=channel) from None
            why = (f"confirmation_token is not valid for this call: it is malformed, forged, or was issued for "
                   f"another {preview.kind}, other arguments or another tool. Call {preview.tool} again without "
                   "confirmation_token for a fresh preview, show it to the user, and use the token it returns.")
            raise Refusal("invalid", preview=preview, why=why, reason=exc.failure, channel=channel) from None

    def _deny(self, preview: Preview, cause: str) -> Refusal:
        why = (f"{cause}. This server requires confirmation by the user (NEEV_CONFIRM={self.settings.confirm}, "
               "NEEV_CONFIRM_FALLBACK=deny). To enable it: use an MCP client that supports elicitation "
               "(form mode), or set NEEV_CONFIRM_FALLBACK=token so the server returns a preview and a one-time "
               "confirmation token the agent passes back after the user approves.")
        return Refusal("refused", preview=preview, why=why, reason="fallback=deny")

    # -- execution ---------------------------------------------------------------------------------------------------
    async def _execute(
        self, tool: ToolDef, preview: Preview, target: dict[str, Any] | None, execute: Execute, channel: Channel,
        verified: Verified | None,
    ) -> CallToolResult:
        # `target` was read in this very call, just now: that read is the re-check (same id and name, not deleting).
        if verified is not None:
            await self._claim(verified, preview, channel)
        try:
            result = await execute(target)
        except NeevError as exc:
            self._record("failed", preview, channel, type(exc).__name__)
            raise
        except Exception:
            self._record("failed", preview, channel, "internal error")
            raise
        self._record("failed" if result.is_error else "executed", preview, channel)
        return result

    async def _claim(self, verified: Verified, preview: Preview, channel: Channel) -> None:
        """Mark this confirmation used before anything is sent; refuse a second use, and refuse when unsure."""
        try:
            first = await self.replays.claim(verified.nonce, verified.expires_at)
        except ReplayStoreUnavailable as exc:
            why = (f"the shared replay store (NEEV_MCP_REPLAY_STORE) could not record that this confirmation is "
                   f"being used ({exc}), and without it the call could run twice. Nothing was sent to NeevCloud. "
                   "Try again in a moment; if the store stays down, an operator must restore it.")
            raise Refusal("refused", preview=preview, why=why, reason="replay store unavailable",
                          channel=channel) from None
        if not first:
            why = (f"this confirmation has already been used. Each confirmation runs once; call {preview.tool} "
                   "again without confirmation_token if the user wants it done again.")
            raise Refusal("invalid", preview=preview, why=why, reason="replayed", channel=channel)

    # -- results and audit -------------------------------------------------------------------------------------------
    def _record(self, event: Event, preview: Preview, channel: Channel, reason: str | None = None) -> None:
        self.audit.record(event, preview.tool, preview.target_id, preview.name, channel=channel, reason=reason,
                          caller=caller_of())

    def _refused(self, tool: ToolDef, refusal: Refusal) -> CallToolResult:
        preview = refusal.preview
        if preview is not None:
            self._record(refusal.event, preview, refusal.channel, refusal.reason)
        structured = {
            "executed": False,
            "decision": refusal.event,
            "reason": refusal.reason,
            "tool": tool.name,
            "target": {"id": preview.target_id, "name": preview.name} if preview else None,
        }
        return CallToolResult(content=[TextContent(type="text", text=refusal.text)], structured_content=structured,
                              is_error=True)


def _check_identity(tool: ToolDef, args: dict[str, Any], target: dict[str, Any]) -> None:
    """Fail closed unless the API described exactly the resource the call names, with a name to confirm against."""
    assert tool.kind is not None
    wanted = str(args.get(tool.kind.id_arg, ""))
    got_id, got_name = str(target.get("id") or ""), str(target.get("name") or "").strip()
    if got_id.lower() != wanted.lower() or not got_name:
        why = (f"NeevCloud described {'another' if got_id else 'an unidentified'} resource ({got_id or 'no id'}) "
               f"when asked for {wanted}, so nothing was done. Try again later.")
        raise Refusal("refused", preview=shell(tool, wanted), why=why, reason="target mismatch")


def _facts_changed(preview: Preview, changes: str, changed: tuple[str, ...], channel: Channel) -> Refusal:
    again = f"call {preview.tool} again" + (" without confirmation_token" if channel == "token" else "")
    why = (f"what the user confirmed no longer holds. Since the preview: {changes}. Nothing was done; {again} for a "
           "fresh preview and ask the user again.")
    reason = "facts changed: " + (", ".join(changed) or "preview")
    return Refusal("refused", preview=preview, why=why, reason=reason, channel=channel)


def _no_back_channel(exc: MCPError) -> bool:
    """The transport cannot carry a server-to-client request: the one case where falling back to a token is right."""
    return isinstance(exc, NoBackChannelError) or "no back-channel" in str(exc.message).lower()


def _can_elicit(context: Any) -> bool:
    caps = getattr(context, "client_capabilities", None) if context is not None else None
    return caps is not None and caps.elicitation is not None


def _answer(context: Any) -> ElicitResult | None:
    answer = (context.input_responses or {}).get(INPUT_KEY)
    return answer if isinstance(answer, ElicitResult) else None


def _token_preview(
    tool: ToolDef, preview: Preview, token: str, expires: dt.datetime, ttl: float
) -> CallToolResult:
    when = utc_stamp(expires)
    text = (
        f"{preview.text}\n\nNot {preview.past} yet: this needs the user's confirmation. Show the preview above to the "
        f"user and ask whether to {preview.verb} {preview.kind} {preview.name}. Only if they agree, call {tool.name} "
        f'again with the same arguments plus confirmation_token="{token}". The token expires at {when} '
        f"({ttl:.0f} s) and works once, only for this {preview.kind} with these arguments."
    )
    structured = {
        "executed": False,
        "confirmation_required": True,
        "tool": tool.name,
        "target": {"id": preview.target_id, "name": preview.name},
        "preview": preview.text,
        "facts": preview.facts,
        "confirmation_token": token,
        "expires_at": when,
    }
    return CallToolResult(content=[TextContent(type="text", text=text)], structured_content=structured)
