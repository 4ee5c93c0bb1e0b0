"""Read every page of a project's collections under one deadline, as fast as the API allows.

Every whole-project answer (project_overview, the overview resources, name look-ups, completions) reads through
`walk`: page 1 of each collection first (its pagination tells how many pages there are), then every other page exactly
once. Pages are handed to a pure sink as they arrive, so memory holds the aggregate, never the project; one `Pace`
shared by all collections decides how many requests are in flight; progress is reported while it reads. Only when the
deadline passes is the walk incomplete, and it says which pages were not read.

The API has no filters and no server-side counts, so a whole-project answer costs every page; the only levers are
parallelism (bounded by what the API answers without slowing down or throttling) and doing nothing twice.
"""

from __future__ import annotations

import math
import random
from collections import deque
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import anyio

from .errors import BadResponse, NeevError

PAGE_SIZE = 100  # the API's maximum `limit`
DEFAULT_DEADLINE = 25.0  # NEEV_OVERVIEW_DEADLINE: below the 30-60 s after which common MCP clients give up

MAX_RETRY_AFTER = 30.0  # a longer Retry-After fails the read at once (as NeevClient does), rather than hang

Item = dict[str, Any]
Sink = Callable[[int, list[Item]], None]  # (page number, the page's items, each new to the walk)
FetchPage = Callable[[str, int], Awaitable[Any]]  # (list tool, page number) → the page's JSON body
Progress = Callable[[float, float | None, str], Awaitable[None]]


# -- adaptive concurrency ------------------------------------------------------------------------------------------
@dataclass
class Pace:
    """How many page requests may be in flight: grows while answers stay fast, halves on 429/5xx/transport errors.

    A loopback or CPU-bound API answers more slowly as requests pile up, so growth stops where latency doubles over
    the fastest answer seen (more parallelism would only queue); an API with real latency and room for parallelism
    keeps answering fast, so the limit climbs towards `ceiling` until the API throttles. Latency alone never takes the
    limit below `start`; throttling and errors can, down to 1.
    """

    start: int = 4
    ceiling: int = 32
    grow_below: float = 2.0  # answers within 2x the fastest: the API keeps up, allow more in flight
    shrink_above: float = 4.0  # answers slower than 4x the fastest: requests only queue, give back what was added
    limit: float = 0.0
    peak: int = 0
    fastest: float = math.inf
    resume_at: float = 0.0  # anyio clock time before which no new request is sent (Retry-After, backoff)
    throttled: int = 0
    errors: int = 0

    def __post_init__(self) -> None:
        self.start = max(1, min(self.start, self.ceiling))
        self.limit = float(self.start)

    @property
    def allowed(self) -> int:
        return max(1, int(self.limit))

    def answered(self, seconds: float) -> None:
        self.fastest = min(self.fastest, max(seconds, 1e-4))
        if seconds <= self.grow_below * self.fastest:
            self.limit = min(float(self.ceiling), self.limit + 0.5)  # about x1.5 per round trip
        elif seconds > self.shrink_above * self.fastest and self.limit > self.start:
            self.limit = max(float(self.start), self.limit - 0.5)

    def refused(self, exc: NeevError, attempt: int) -> None:
        """A retryable failure: halve the limit and pause new requests (Retry-After when the API gives one)."""
        self.limit = max(1.0, self.limit / 2)
        retry_after = getattr(exc, "retry_after", None)
        if getattr(exc, "status", None) == 429:
            self.throttled += 1
        else:
            self.errors += 1
        wait = retry_after if retry_after is not None else random.uniform(0, min(4.0, 0.1 * 2**attempt))
        self.resume_at = max(self.resume_at, anyio.current_time() + wait)

    def sent(self, in_flight: int) -> None:
        self.peak = max(self.peak, in_flight)


# -- what is read ------------------------------------------------------------------------------------------------
@dataclass
class Collection:
    """One paginated list to read, and the sink its pages go to."""

    tool: str  # the list tool, e.g. "list_vms"
    noun: str  # plural, for progress and notes: "VMs"
    sink: Sink
    pages: Sequence[int] | None = None  # only these pages (and never past the last); None: every page
    total_pages: int | None = None
    total_items: int | None = None
    done: set[int] = field(default_factory=set)
    items_read: int = 0
    _seen: set[int] = field(default_factory=set)  # hashes of ids: an item that moved pages mid-walk counts once

    def accept(self, page: int, data: Any) -> list[int]:
        """Feed one page to the sink; returns the pages this answer makes known (2..N after page 1)."""
        data = data if isinstance(data, dict) else {}
        paging = data.get("pagination") or {}
        first_answer = self.total_pages is None
        if first_answer:  # the walk reads the collection as its first answer found it
            try:
                self.total_pages = max(1, int(paging.get("total_pages") or 1))
                self.total_items = int(paging.get("total_items") or 0)
            except (TypeError, ValueError, OverflowError):  # never the value in the message: it may be anything
                raise BadResponse(f"NeevCloud answered {self.tool} page {page} with a pagination block whose "
                                  "total_pages or total_items is not a whole number.") from None
        fresh = []
        seen = self._seen
        for item in data.get("data") or []:
            if not isinstance(item, dict):
                continue
            ident = item.get("id")
            if ident is None:
                fresh.append(item)
                continue
            key = hash(ident if type(ident) is str else str(ident))  # a str caches its hash
            if key not in seen:
                seen.add(key)
                fresh.append(item)
        self.done.add(page)
        self.items_read += len(fresh)
        self.sink(page, fresh)
        if first_answer and self.pages is None:
            return list(range(2, (self.total_pages or 1) + 1))
        return []

    def wanted(self) -> list[int]:
        return [1] if self.pages is None else list(dict.fromkeys(p for p in self.pages if p >= 1))

    def reads(self) -> dict[str, Any]:
        total = self.total_pages or 0
        planned = set(range(1, total + 1)) if self.pages is None else {p for p in self.pages if p <= total}
        out: dict[str, Any] = {"pages_read": len(self.done), "total_pages": total, "items_read": self.items_read,
                               "total_items": self.total_items if self.total_items is not None else self.items_read}
        missing = sorted(planned - self.done) if self.total_pages is not None else [1]
        if missing:
            out["missing_pages"] = page_ranges(missing)
        return out


def page_ranges(pages: Sequence[int], limit: int = 6) -> str:
    """'3, 7–9, 12–1000' (at most `limit` ranges, then '…'): which pages to read to get the rest."""
    ranges: list[tuple[int, int]] = []
    for p in pages:
        if ranges and p == ranges[-1][1] + 1:
            ranges[-1] = (ranges[-1][0], p)
        else:
            ranges.append((p, p))
    shown = [str(a) if a == b else f"{a}–{b}" for a, b in ranges[:limit]]
    return ", ".join(shown) + (", …" if len(ranges) > limit else "")


@dataclass
class WalkResult:
    complete: bool  # every planned page read (False: the deadline passed, or `enough` stopped it)
    stopped_early: bool  # `enough` said so before every page was read
    elapsed: float
    deadline: float
    reads: dict[str, dict[str, Any]]  # by tool
    pace: Pace

    def info(self) -> dict[str, Any]:
        """The walk itself, for structuredContent and benchmarks."""
        pages = sum(r["pages_read"] for r in self.reads.values())
        return {"complete": self.complete, "elapsed_seconds": round(self.elapsed, 3),
                "deadline_seconds": self.deadline, "pages_read": pages,
                "pages_per_second": round(pages / self.elapsed, 1) if self.elapsed > 0 else None,
                "concurrency_peak": self.pace.peak, "throttled": self.pace.throttled, "retried": self.pace.errors}


# -- the walk ------------------------------------------------------------------------------------------------------
async def walk(fetch: FetchPage, collections: Sequence[Collection], *, deadline: float, pace: Pace | None = None,
               progress: Progress | None = None, enough: Callable[[], bool] | None = None,
               max_attempts: int = 4) -> WalkResult:
    """Read the collections' pages into their sinks until done, `enough()`, or `deadline` seconds have passed.

    A non-retryable error (401, 403, 404, a bad request) ends the walk by raising it; a retryable one (429, 5xx,
    transport) re-queues the page, at most `max_attempts` times in all, after which it is raised too.
    """
    run = _Walk(fetch, collections, pace or Pace(), progress, enough, max_attempts)
    started = anyio.current_time()
    with anyio.move_on_after(deadline):
        await run.run()
    elapsed = anyio.current_time() - started
    if run.failure is not None:
        raise run.failure
    reads = {c.tool: c.reads() for c in collections}
    complete = all("missing_pages" not in r for r in reads.values())
    return WalkResult(complete, run.stopped_early and not complete, elapsed, deadline, reads, run.pace)


class _Walk:
    """One walk's queue, in-flight count and reporting (its state lives here, not in closures)."""

    def __init__(self, fetch: FetchPage, collections: Sequence[Collection], pace: Pace, progress: Progress | None,
                 enough: Callable[[], bool] | None, max_attempts: int) -> None:
        self.fetch, self.collections, self.pace = fetch, collections, pace
        self.progress, self.enough, self.max_attempts = progress, enough, max_attempts
        self.queue: deque[tuple[Collection, int]] = deque((c, p) for c in collections for p in c.wanted())
        self.attempts: dict[tuple[str, int], int] = {}
        self.in_flight = 0
        self.failure: NeevError | None = None
        self.stopped_early = False
        self.wake = anyio.Event()
        self.reported, self.reported_at = 0, anyio.current_time()

    async def run(self) -> None:
        async with anyio.create_task_group() as tg:
            while self.queue or self.in_flight:
                if self.failure is not None or self.stopped_early:
                    tg.cancel_scope.cancel()
                    return
                pause = self.pace.resume_at - anyio.current_time()
                if self.queue and self.in_flight < self.pace.allowed and pause <= 0:
                    collection, page = self.queue.popleft()
                    if collection.total_pages is not None and page > collection.total_pages:
                        continue  # an explicitly wanted page past the last one
                    self.in_flight += 1
                    self.pace.sent(self.in_flight)
                    tg.start_soon(self.read, collection, page)
                    continue
                with anyio.move_on_after(pause if pause > 0 and self.queue else math.inf):
                    await self.wake.wait()
                self.wake = anyio.Event()

    async def read(self, collection: Collection, page: int) -> None:
        sent = anyio.current_time()
        try:
            data = await self.fetch(collection.tool, page)
        except NeevError as exc:
            self.retry_or_fail(collection, page, exc)
        else:
            self.pace.answered(anyio.current_time() - sent)
            try:
                self.queue.extend((collection, p) for p in collection.accept(page, data))
            except NeevError as exc:  # an answer the walk cannot follow: end it, as a non-retryable error does
                self.failure = self.failure or exc
                return
            if self.enough is not None and self.enough():
                self.stopped_early = True
            await self.report()
        finally:
            self.in_flight -= 1
            self.wake.set()

    def retry_or_fail(self, collection: Collection, page: int, exc: NeevError) -> None:
        key = (collection.tool, page)
        self.attempts[key] = attempt = self.attempts.get(key, 1) + 1
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None and retry_after > MAX_RETRY_AFTER:
            self.failure = self.failure or exc  # an hour's pause is the agent's call, not a hung tool call
            return
        if not exc.retryable or attempt > self.max_attempts:
            if exc.retryable and self.failure is None:
                exc.message += f" (gave up after {self.max_attempts} attempts)"
            self.failure = self.failure or exc
            return
        self.pace.refused(exc, attempt)
        self.queue.appendleft((collection, page))

    async def report(self) -> None:
        """Progress about every 5% of pages or half a second, and at the end; values only grow."""
        if self.progress is None:
            return
        done = sum(len(c.done) for c in self.collections)
        known = [c.total_pages for c in self.collections if c.total_pages is not None]
        total = float(sum(known)) if len(known) == len(self.collections) else None
        now = anyio.current_time()
        step = max(1, int((total or 0) / 20))
        if done < (total or math.inf) and done - self.reported < step and now - self.reported_at < 0.5:
            return
        self.reported, self.reported_at = done, now
        parts = ", ".join(f"{c.noun} {len(c.done)}/{c.total_pages or '?'}" for c in self.collections)
        await self.progress(float(done), total, f"Read {done} of {int(total) if total else '?'} pages ({parts}).")
