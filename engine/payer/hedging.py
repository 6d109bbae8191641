"""Hedged requests: payer latency has a heavy tail (payer-api.md section 5: p99 is ten times the
median), so a data call still unanswered after nearly every recent call would have answered gets
another copy, and the first answer wins. `LatencyTracker` estimates that delay per surface;
`Hedging` sends the copies. Every copy goes through the shared limits and counts as a call."""

from __future__ import annotations

import asyncio
import collections
import time
from collections.abc import Callable, Coroutine, Iterable
from typing import Any

import httpx

HEDGE_POLL_S = 0.05
MAX_COPIES = 3  # of one request: the first and at most two hedges
MEDIAN_MULTIPLE = 3  # never hedge a call before it has taken this many times the median

Answer = tuple["httpx.Response | None", str, str]  # response (None: no answer), outcome, token used
# Sends one copy and sets the event once it has its slot of the limits and is on its way.
SendCopy = Callable[[asyncio.Event], Coroutine[Any, Any, Answer]]


class LatencyTracker:
    """Latencies of recent data calls on one surface, and from them how long to wait before
    hedging a call: a second copy of one of the slowest calls cuts the tail for a few more calls.

    A call in flight, abandoned or timed out only says "at least this long": the quantiles are
    Kaplan-Meier estimates over answered and such censored calls. Counting only answered calls
    would see the fast ones first and set the threshold far too low."""

    def __init__(self, quantile: float, min_samples: int, size: int = 500) -> None:
        self.quantile, self.min_samples = quantile, max(1, min_samples)
        self._samples: collections.deque[tuple[float, bool]] = collections.deque(maxlen=size)
        self._open: dict[int, float] = {}  # id -> send time of calls in flight
        self._answered = 0
        self._cached: tuple[float, float] | None = None  # (median, threshold)
        self._events = 0

    def sent(self, call: int) -> None:
        self._open[call] = time.monotonic()
        self._events += 1

    def done(self, call: int, *, answered: bool = True, sample: bool = True) -> None:
        """The call ended: answered, or not (abandoned, timed out); no `sample` when its time says
        nothing of the payer's latency (a quick 401, 429 or 5xx)."""
        started = self._open.pop(call, None)
        if started is not None and sample:
            self._samples.append((time.monotonic() - started, answered))
            self._answered += answered
            self._events += 1

    def hedge_after(self) -> float | None:
        """Seconds after sending to send another copy: the quantile, and at least MEDIAN_MULTIPLE
        times the median. None while hedging is off or there are too few answers to go by."""
        if self.quantile <= 0 or self._answered < self.min_samples:
            return None
        if self._cached is None or self._events >= 10:
            median, at = self._estimate(time.monotonic())
            self._cached, self._events = (median, max(at, MEDIAN_MULTIPLE * median)), 0
        return self._cached[1]

    def _estimate(self, now: float) -> tuple[float, float]:
        """Kaplan-Meier median and `quantile` (the longest time seen when the curve stops short)."""
        seen = sorted([*self._samples, *((now - t, False) for t in self._open.values())])
        surviving, median, at = 1.0, None, None
        for index, (seconds, answered) in enumerate(seen):
            if answered:
                surviving *= 1 - 1 / (len(seen) - index)
                if median is None and surviving <= 0.5:
                    median = seconds
                if surviving <= 1 - self.quantile:
                    at = seconds
                    break
        longest = seen[-1][0]
        return (median if median is not None else longest), (at if at is not None else longest)


class _Sent(asyncio.Event):
    """The event a copy sets once it is on its way; it also wakes the copy's launcher (one
    callback, not a task waiting on the event)."""

    def __init__(self, on_set: Callable[[], None]) -> None:
        super().__init__()
        self._on_set = on_set

    def set(self) -> None:
        super().set()
        self._on_set()


class Hedging:
    """One client's latency trackers (one per surface) and its hedged sending of requests."""

    def __init__(self, quantile: float, min_samples: int, surfaces: Iterable[str],
                 on_hedge: Callable[[str], None] = lambda surface: None) -> None:
        self.quantile = quantile  # 0: never hedge
        self.latency = {name: LatencyTracker(quantile, min_samples) for name in surfaces}
        self.hedges = 0  # copies sent beyond the first of each request
        self.on_hedge = on_hedge  # told the surface of each such copy

    async def send(self, surface: str, send_copy: SendCopy, may_hedge: Callable[[float], bool]) -> Answer:
        """One request; while the newest copy is slower than nearly every recent call and
        `may_hedge` agrees, another copy, up to MAX_COPIES in all. The first answer wins; the
        others are abandoned."""
        copies: set[asyncio.Task[Answer]] = set()
        try:
            sent_at = await self._launch(copies, send_copy)
            while True:
                if len(copies) < MAX_COPIES and await self._slow(copies, sent_at, surface, may_hedge):
                    self.hedges += 1
                    self.on_hedge(surface)
                    sent_at = await self._launch(copies, send_copy)
                    continue
                done = [c for c in copies if c.done()]  # _slow returns once one has ended
                if not done:  # (every copy allowed is out: wait for the first to end)
                    done, _ = await asyncio.wait(copies, return_when=asyncio.FIRST_COMPLETED)
                for copy in done:
                    copies.discard(copy)
                    answer = copy.result()
                    if answer[0] is not None or not copies:
                        return answer
        finally:
            for copy in copies:
                copy.cancel()
            if copies:
                await asyncio.gather(*copies, return_exceptions=True)

    @staticmethod
    async def _launch(copies: set[asyncio.Task[Answer]], send_copy: SendCopy) -> float:
        """Start one copy; return when it is sent (or some copy has ended) with the time."""
        woken = asyncio.get_running_loop().create_future()

        def wake(_: object = None) -> None:
            if not woken.done():
                woken.set_result(None)

        copy = asyncio.create_task(send_copy(_Sent(wake)))
        copies.add(copy)
        for each in copies:
            each.add_done_callback(wake)
        try:
            await woken
        finally:
            for each in copies:
                each.remove_done_callback(wake)
        return time.monotonic()

    def _hedge_after(self, surface: str) -> float | None:
        """The surface's hedging delay; until it has answers enough of its own, the other's."""
        own = self.latency[surface]
        others = (t for name, t in self.latency.items() if name != surface)
        return next((d for t in (own, *others) if (d := t.hedge_after()) is not None), None)

    async def _slow(self, copies: set[asyncio.Task[Answer]], sent_at: float, surface: str,
                    may_hedge: Callable[[float], bool]) -> bool:
        """Wait until a copy ends (False) or the newest, sent at `sent_at`, is slower than nearly
        every recent call and the caller welcomes a hedge now (True)."""
        while not any(copy.done() for copy in copies):
            delay = self._hedge_after(surface)
            if self.quantile <= 0:
                left: float | None = None
            elif delay is None:
                left = HEDGE_POLL_S
            else:
                left = sent_at + delay - time.monotonic()
                if left <= 0:
                    if may_hedge(delay):
                        return True
                    left = HEDGE_POLL_S
            await asyncio.wait(copies, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        return False
