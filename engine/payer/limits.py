"""Payer limits shared by every caller of a payer: a rate (requests started per second), a cap on
requests in flight, and a "paused until" time set by a 429. This module holds the interface and
the in-process implementation; the workers provide one backed by Redis for many processes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import time
from collections.abc import AsyncIterator
from typing import Protocol


class PayerLimits(Protocol):
    def slot(self) -> contextlib.AbstractAsyncContextManager[None]:
        """Wait for a pause to pass, a free in-flight slot and a rate token; hold the slot."""
        ...

    async def pause(self, seconds: float) -> None:
        """Every caller waits at least this long from now (a 429 said so)."""
        ...

    async def paused_for(self) -> float:
        """Seconds left of the current pause (0 when not paused)."""
        ...


# Starts are spaced 5% wider than 1/rate: requests reach the payer with a few milliseconds of
# jitter, and exact spacing would let rate + 1 of them land in one second.
SPACING_MARGIN = 1.05


class SlidingWindowRate:
    """Starts evenly spaced at 1/rate, and never more than `n` in any window of n/rate seconds,
    so a payer counting requests per second never sees more than the configured rate (even
    spacing keeps arrivals from bunching when requests are delayed on their way)."""

    def __init__(self, rate_per_second: float) -> None:
        self.capacity = max(1, int(rate_per_second))
        self.window = self.capacity / rate_per_second
        self.spacing = SPACING_MARGIN / rate_per_second
        self._starts: collections.deque[float] = collections.deque()
        self._next = 0.0

    def delay(self, now: float) -> float:
        """0 and a recorded start if a request may start now; else how long to wait."""
        if now < self._next:
            return self._next - now
        while self._starts and now - self._starts[0] >= self.window:
            self._starts.popleft()
        if len(self._starts) < self.capacity:
            self._starts.append(now)
            self._next = now + self.spacing
            return 0.0
        return self.window - (now - self._starts[0]) + 1e-4


class LocalLimits:
    """In-process limits (embedded mode, or one worker process)."""

    def __init__(self, rate_per_second: float, concurrency: int) -> None:
        self.rate = SlidingWindowRate(rate_per_second)
        self._slots = asyncio.Semaphore(concurrency)
        self._paused_until = 0.0
        self._lock = asyncio.Lock()

    async def pause(self, seconds: float) -> None:
        self._paused_until = max(self._paused_until, time.monotonic() + seconds)

    async def paused_for(self) -> float:
        return max(0.0, self._paused_until - time.monotonic())

    @contextlib.asynccontextmanager
    async def slot(self) -> AsyncIterator[None]:
        async with self._slots:
            while True:
                wait = await self.paused_for()
                if wait <= 0:
                    async with self._lock:
                        wait = self.rate.delay(time.monotonic())
                    if wait <= 0 and await self.paused_for() <= 0:
                        break
                await asyncio.sleep(wait or await self.paused_for())
            yield
