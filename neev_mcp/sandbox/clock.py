"""Simulated time, so lifecycle transitions can be fast-forwarded or frozen in tests."""

from __future__ import annotations

import math
import threading
import time
from datetime import UTC, datetime, timedelta


class SimClock:
    """A clock whose time is ``start + real elapsed × speed + manual offset``.

    ``speed=0`` freezes time: tests then move it explicitly with :meth:`advance`, which makes
    every lifecycle transition deterministic. ``speed=60`` turns a 6 s VM boot into 0.1 s of real time.
    """

    def __init__(self, speed: float = 1.0, start: datetime | None = None) -> None:
        if not math.isfinite(speed) or speed < 0:
            raise ValueError(f"speed must be a finite number >= 0, got {speed!r}")
        if start is None:
            start = datetime.now(UTC).replace(microsecond=0)
        elif start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
        self._start = start.astimezone(UTC)
        self._speed = float(speed)
        self._t0 = time.monotonic()
        self._base = 0.0  # simulated seconds accumulated before the last speed change
        self._offset = 0.0
        self._lock = threading.Lock()

    @property
    def start(self) -> datetime:
        """The simulated time at construction; seed timestamps are relative to it."""
        return self._start

    @property
    def speed(self) -> float:
        return self._speed

    @speed.setter
    def speed(self, value: float) -> None:
        """Change speed without making simulated time jump."""
        if value < 0:
            raise ValueError("speed must be >= 0")
        with self._lock:
            now_mono = time.monotonic()
            self._base += (now_mono - self._t0) * self._speed
            self._t0 = now_mono
            self._speed = float(value)

    def elapsed(self) -> float:
        """Simulated seconds since :attr:`start`."""
        with self._lock:
            return self._base + (time.monotonic() - self._t0) * self._speed + self._offset

    def now(self) -> datetime:
        """Current simulated time (UTC, timezone-aware)."""
        return self._start + timedelta(seconds=self.elapsed())

    def advance(self, seconds: float) -> datetime:
        """Jump simulated time forward; returns the new now(). Time never goes backwards."""
        if seconds < 0:
            raise ValueError("cannot advance the clock by a negative amount")
        with self._lock:
            self._offset += float(seconds)
        return self.now()

    def __repr__(self) -> str:
        return f"SimClock(speed={self._speed}, now={self.now().isoformat()})"
