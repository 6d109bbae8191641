"""Payer limits shared by every caller of a payer: a rate (requests started per second), a cap on
requests in flight, and a "paused until" time set by a 429. This module holds the interface and
the in-process implementation; the workers provide one backed by Redis for many processes."""

from __future__ import annotations

import asyncio
import collections
import contextlib
import heapq
import math
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class LimiterState:
    """The shared limiter as the metrics show it: calls holding a slot, and the Unix time a 429
    paused every call until (0 when not paused)."""

    in_flight: int
    throttled_until: float


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


# Starts are spaced 5% wider than 1/rate, and the sliding window is 5% longer than n/rate:
# requests reach the payer with some milliseconds of jitter, and exact spacing (or a burst that
# ends exactly one window after it began, as after a 429 pause) would let rate + 1 of them land
# in one second of the payer's clock.
SPACING_MARGIN = 1.05


class SlidingWindowRate:
    """Starts evenly spaced at 1/rate, and never more than `n` in any window of n/rate seconds
    (both widened by SPACING_MARGIN),
    so a payer counting requests per second never sees more than the configured rate (even
    spacing keeps arrivals from bunching when requests are delayed on their way)."""

    def __init__(self, rate_per_second: float) -> None:
        self.capacity = max(1, int(rate_per_second))
        self.window = self.capacity * SPACING_MARGIN / rate_per_second
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
            # Keep the cadence when this start is a little late (a busy event loop wakes sleepers
            # late; counting from `now` would lose that lateness on every start), never closer
            # than half a spacing to this one.
            self._next = max(self._next + self.spacing, now + self.spacing / 2)
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
            # One waiter at a time watches the clock (the lock is first come, first served), so
            # a start wakes one task rather than every task holding a slot.
            async with self._lock:
                while True:
                    wait = await self.paused_for()
                    if wait <= 0:
                        wait = self.rate.delay(time.monotonic())
                        if wait <= 0:
                            break
                    await asyncio.sleep(wait)
            yield


class PriorityGate:
    """Lets the payer calls of one job go to the shared limits in priority order: at most `width`
    of them wait for a slot at once (a call's turn ends when its request is sent, or when the
    call ends); the others wait here, lowest priority value first, ties in arrival order. Keeping
    the queue at the limits short also lets a hedged copy of a slow call go out promptly."""

    def __init__(self, width: int) -> None:
        self.width = max(1, width)
        self._busy = 0
        self._waiting: list[tuple[tuple, int, asyncio.Future[None]]] = []
        self._arrivals = 0
        self._sends: collections.deque[float] = collections.deque(maxlen=32)

    @contextlib.asynccontextmanager
    async def turn(self, priority: tuple) -> AsyncIterator[Callable[[], None]]:
        """Yields the function to call when the request is sent: it ends the turn early."""
        await self._acquire(priority)
        ended = False

        def end(sent: bool = True) -> None:
            nonlocal ended
            if not ended:
                ended = True
                if sent:
                    self._sends.append(time.monotonic())
                self._release()

        try:
            yield end
        finally:
            end(sent=False)

    def runway(self) -> float:
        """Seconds the calls waiting for a turn would keep the limits busy at the recent pace of
        sending (0 when none waits)."""
        if not self._waiting:
            return 0.0
        sends = self._sends
        if len(sends) < 2 or sends[-1] <= sends[0]:
            return math.inf
        return len(self._waiting) * (sends[-1] - sends[0]) / (len(sends) - 1)

    async def _acquire(self, priority: tuple) -> None:
        if self._busy < self.width and not self._waiting:
            self._busy += 1
            return
        granted: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._arrivals += 1
        heapq.heappush(self._waiting, (priority, self._arrivals, granted))
        try:
            await granted
        except asyncio.CancelledError:
            if granted.done() and not granted.cancelled():
                self._release()  # granted just as we were cancelled: pass the turn on
            else:
                self._waiting = [w for w in self._waiting if w[2] is not granted]
                heapq.heapify(self._waiting)
            raise

    def _release(self) -> None:
        self._busy -= 1
        while self._waiting and self._busy < self.width:
            _, _, granted = heapq.heappop(self._waiting)
            if not granted.done():
                self._busy += 1
                granted.set_result(None)
