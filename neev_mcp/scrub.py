"""Keep NeevCloud bearer tokens out of everything an upstream answer (or a log line) can carry.

A hostile or careless upstream can echo the bearer back: whole, cut at some length, or wrapped by an HTML page at 76
columns. So the scrub works on *fragments*: any run of `MIN_FRAGMENT` or more characters of a known token, with
whitespace inside the run ignored, becomes `[redacted]`. It runs on the full text, before any clipping or whitespace
collapsing, so a cut can never split a token into pieces the scrub no longer recognises.

Known tokens: the one a request is sent with (always passed explicitly), and for log records every token this process
has sent recently (`remember`; bounded, pass-through mode sees one per tenant).
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from functools import lru_cache
from typing import Any

MIN_FRAGMENT = 16  # shorter runs are too likely to be ordinary text (and reveal too little of a JWT to matter)
# Every run of MIN_FRAGMENT characters of a token holds one of its PROBE-character pieces that start at a multiple of
# PROBE (2 * PROBE - 1 <= MIN_FRAGMENT), so text holding none of those few pieces needs no closer look.
PROBE = 8
REDACTED = "[redacted]"
_REMEMBERED = 256  # distinct bearers kept for the log filter (pass-through: one per recent tenant)
_SLIDE_BELOW = 512  # shorter texts: slide a window (cheap); longer ones: search each fragment at C speed
_SPACE = re.compile(r"\s+")
_ASCII_SPACE = b" \t\n\r\f\v"  # what \s matches in ASCII text
# Any run of MIN_FRAGMENT characters covers a whole 8-byte block starting at a multiple of 8 *of the text*; that block
# is one of the token's 8-grams (wherever in the token the run starts). Blocks read as integers are hashed at C speed.
_BLOCK = 8


class Scrubber:
    """Redacts every fragment (>= MIN_FRAGMENT characters) of the given tokens from text and JSON values."""

    def __init__(self, tokens: Iterable[str]) -> None:
        self._grams: set[str] = set()
        self._probes: set[str] = set()
        self._blocks: set[int] = set()  # every 8-gram of every token (as bytes), read as one integer
        self._longest = 0
        for token in tokens:
            self._longest = max(self._longest, len(token))
            self._probes.update(token[i:i + PROBE] for i in range(0, len(token) - PROBE + 1, PROBE))
            self._grams.update(token[i:i + MIN_FRAGMENT] for i in range(len(token) - MIN_FRAGMENT + 1))
            raw = token.encode()
            self._blocks.update(int.from_bytes(raw[i:i + _BLOCK], sys.byteorder) for i in range(len(raw) - _BLOCK + 1))

    def __bool__(self) -> bool:
        return bool(self._grams)

    def text(self, text: str) -> str:
        if not self._grams or len(text) < MIN_FRAGMENT:
            return text
        dense = _SPACE.sub("", text)  # fragments are matched with whitespace ignored (wrapped lines, split words)
        if not self._probed(dense):
            return text
        spans = _merge(self._hits(dense))
        if not spans:
            return text
        out: list[str] = []
        last = 0
        for start, end in spans:
            # the same characters in `text`, whitespace allowed between them; the first match after the previous
            # span is this one (an earlier one would itself be a fragment, hence an earlier span)
            found = re.compile(r"\s*".join(map(re.escape, dense[start:end]))).search(text, last)
            assert found is not None
            out += [text[last:found.start()], REDACTED]
            last = found.end()
        out.append(text[last:])
        return "".join(out)

    def excerpt(self, text: str, limit: int) -> str:
        """At most `limit` characters of `text` with whitespace runs collapsed, scrubbed *before* the cut: enough of
        the text is scrubbed that a token straddling the cut is recognised whole."""
        reach = _prefix_end(text, limit + self._longest + MIN_FRAGMENT)
        return " ".join(self.text(text[:reach]).split())[:limit]

    def value(self, value: Any, raw: bytes | None = None) -> Any:
        """A JSON value with every string (keys included) scrubbed; other values unchanged.

        `raw`: the JSON text `value` was parsed from. When it is plain ASCII with no escape in it, every string of the
        value stands in it verbatim, so a raw text holding no probe settles the common case without walking the value
        (a 100-VM page of 54 KB: ~0.3 ms instead of ~4 ms). Anything else (escapes, non-ASCII whitespace) takes the
        full walk.
        """
        if not self._grams:
            return value
        if raw is not None and raw.isascii() and b"\\" not in raw:
            dense = raw.translate(None, _ASCII_SPACE)
            if self._blocks.isdisjoint(_as_blocks(dense[:len(dense) // _BLOCK * _BLOCK])):
                return value
        elif not self._probed(_SPACE.sub("", "\0".join(_strings(value)))):
            return value  # settled in one pass over all strings at C speed
        return self._value(value)

    def _value(self, value: Any) -> Any:
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, dict):
            return {self.text(k) if isinstance(k, str) else k: self._value(v) for k, v in value.items()}
        if isinstance(value, list | tuple):  # a tuple in an answer built by our code serialises as a list too
            return [self._value(v) for v in value]
        return value

    def _probed(self, dense: str) -> bool:
        return any(probe in dense for probe in self._probes)

    def _hits(self, dense: str) -> list[int]:
        """Start index (in `dense`) of every occurrence of every fragment."""
        if len(dense) < _SLIDE_BELOW:
            return [i for i in range(len(dense) - MIN_FRAGMENT + 1) if dense[i:i + MIN_FRAGMENT] in self._grams]
        hits: list[int] = []
        for gram in self._grams:
            at = dense.find(gram)
            while at != -1:
                hits.append(at)
                at = dense.find(gram, at + 1)
        return hits


def _as_blocks(data: bytes) -> array[int]:
    """`data` (a multiple of 8 bytes long) as 8-byte unsigned integers, in machine byte order."""
    blocks = array("Q")
    blocks.frombytes(data)
    return blocks


def _strings(value: Any) -> Iterator[str]:
    """Every string in a JSON value, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            if isinstance(key, str):
                yield key
            yield from _strings(item)
    elif isinstance(value, list | tuple):
        for item in value:
            yield from _strings(item)


def _prefix_end(text: str, visible: int) -> int:
    """End of the shortest prefix of `text` holding `visible` non-whitespace characters (or all of it)."""
    found = re.match(rf"(?:\s*\S){{{visible}}}", text)
    return found.end() if found else len(text)


def _merge(hits: list[int]) -> list[tuple[int, int]]:
    """Overlapping or touching fragment matches → maximal [start, end) spans."""
    spans: list[tuple[int, int]] = []
    for start in sorted(hits):
        end = start + MIN_FRAGMENT
        if spans and start <= spans[-1][1]:
            spans[-1] = (spans[-1][0], max(spans[-1][1], end))
        else:
            spans.append((start, end))
    return spans


def scrubber(*tokens: str | None) -> Scrubber:
    return _scrubber_for(tuple(t for t in tokens if t))


@lru_cache(maxsize=64)
def _scrubber_for(tokens: tuple[str, ...]) -> Scrubber:
    """One per set of tokens (a 100,000-VM walk asks for the same one 2,000 times); the tokens are held in memory
    anyway, by the client that sends them."""
    return Scrubber(tokens)


# -- tokens this process sends, for the log filter --------------------------------------------------------------------
_known: OrderedDict[str, None] = OrderedDict()
_known_lock = threading.Lock()
_known_scrubber = Scrubber(())


def remember(token: str | None) -> None:
    """Note a bearer this process sends upstream, so log records never show it (bounded, most recent kept)."""
    global _known_scrubber
    if not token:
        return
    with _known_lock:
        if token in _known:
            _known.move_to_end(token)
            return
        _known[token] = None
        while len(_known) > _REMEMBERED:
            _known.popitem(last=False)
        _known_scrubber = Scrubber(_known)


class BearerLogFilter(logging.Filter):
    """Rewrites a record's message (and traceback text) with every remembered token redacted; drops nothing."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub = _known_scrubber
        if not scrub:
            return True
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: leave it to logging's own error handling
            return True
        cleaned = scrub.text(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = scrub.text(record.exc_text)
        return True


LOG_FILTER = BearerLogFilter()


def guard_loggers(prefix: str = "neev_mcp") -> None:
    """Attach the filter to `prefix` and every logger below it that exists now (called when a client is built, after
    the package's modules, and so their loggers, are imported). A filter on a logger sees only its own records, hence
    one per logger."""
    names = [prefix, *(n for n in list(logging.Logger.manager.loggerDict) if n.startswith(prefix + "."))]
    for name in names:
        logger = logging.getLogger(name)
        if LOG_FILTER not in logger.filters:
            logger.addFilter(LOG_FILTER)
