"""The look-up planner: the fewest payer calls on the shortest critical path.

Per TIN (all TINs concurrently): search the windows the rows' own service dates and the job's
window call for, concurrently, consuming pages as they arrive and matching every claim by
number; then, for rows still unmatched, the rest of the look-back (each window once for every
row of the TIN) when that is cheaper than asking claim by claim; then claim-number inquiry.

The calls go out through a priority gate: window pages before inquiries and one TIN's windows
before the next's, so the TINs whose windows are done keep the payer's rate busy while the last
TIN's windows drain. A slow call is hedged (engine.payer.hedging) only when the plan's waiting
calls would leave the rate idle before the copy could answer.

Every call is made in the plan's `CallScope` (one per job or look-up, from the caller), and the
payer's window limit is the client's: learned once per payer, shared by every plan.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TypeVar

from engine.payer.client import CallHooks, CallScope, PayerClient
from engine.payer.errors import (
    CallFailed,
    InquiryRefused,
    OutsideLookback,
    PageTokenExpired,
    PayerOutage,
    TooManyResults,
    WindowTooWide,
)
from engine.payer.limits import PriorityGate
from engine.payer.normalize import Found, latest
from engine.payer.windows import (
    Window,
    clip,
    cut,
    halve,
    lookback_start,
    merge,
    subtract,
    width,
)
from engine.results import NOT_FOUND_MESSAGE, ClaimResult

log = logging.getLogger("claimsops.planner")
T = TypeVar("T")

ResultSink = Callable[[list[tuple[int, ClaimResult]]], Awaitable[None]]
BUFFER_DAYS = 3
PAGE_SIZE_GUESS = 50
MAX_RESTARTS = 3
INQUIRY_FANOUT = 256
WINDOW_TURN, INQUIRY_TURN = 0, 1  # call priorities (lower first), then by group rank
GATE_WIDTH = 8  # calls of one plan waiting at the shared limits at once
WINDOW_HORIZON = 3.0  # a slow window page is hedged when the other calls would run out within 3 delays

@dataclass(frozen=True)
class LookupRow:
    row_number: int
    claim_number: str
    tin: str
    payer_id: str
    first_service_date: date | None = None
    last_service_date: date | None = None

    def own_window(self) -> Window | None:
        if self.first_service_date is None:
            return None
        last = self.last_service_date or self.first_service_date
        return (self.first_service_date - timedelta(days=BUFFER_DAYS), last + timedelta(days=BUFFER_DAYS))


@dataclass(frozen=True)
class JobWindow:
    start: date
    end: date
    today: date
    strategy: str = "auto"
    lookback_months: int = 24
    # a follow-up job: search only the rows' own service dates, not the job's window as well
    own_dates_only: bool = False


@dataclass
class PlanStats:
    windows_searched: int = 0
    pages: int = 0
    inquiries: int = 0
    splits: int = 0
    restarts: int = 0
    critical_path: int = 0  # the longest chain of sequential calls this plan made


class _Group:
    """The unmatched rows of one (TIN, payer id) and the occurrences seen for them."""

    def __init__(self, tin: str, payer_id: str, rows: Sequence[LookupRow], rank: int = 0) -> None:
        self.tin, self.payer_id = tin, payer_id
        self.rank = rank  # the order in which groups' window searches go out
        self.wanted: dict[str, list[LookupRow]] = {}
        for row in rows:
            self.wanted.setdefault(row.claim_number, []).append(row)
        self.seen: dict[str, dict[tuple, Found]] = {}
        self.covered: list[Window] = []
        self.old_rows: set[int] = set()
        self.claims_seen = 0
        self.days_searched = 0
        self.failure = ""  # why a window search of this group got no answer (its rows may be in it)

    def note(self, found: Found) -> None:
        if found.claim_number in self.wanted:
            key = (found.suffix, found.processed_date, found.first_service_date)
            self.seen.setdefault(found.claim_number, {})[key] = found


class LookupPlanner:
    def __init__(self, client: PayerClient, job: JobWindow, sink: ResultSink, scope: CallScope) -> None:
        self.client = client
        self.job = job
        self.sink = sink
        self.scope = scope
        self.limit = client.window_limit
        self.stats = PlanStats()
        self._probe = asyncio.Lock()
        # Window pages before inquiries, and one group's windows before the next group's: a
        # group's inquiries wait for its last window, so groups that finish their windows early
        # keep the payer's rate busy while the last group's windows drain.
        self._gate = PriorityGate(GATE_WIDTH)
        # A slow call is hedged only when the calls waiting for a turn would not keep the limits
        # busy until the copy answers: the copy then takes rate the plan would leave idle. A
        # window page looks further ahead: its window's later pages follow it one by one, and its
        # group's inquiries wait for the last of them.
        self._may_hedge = {
            WINDOW_TURN: lambda seconds: self._gate.runway() < seconds * WINDOW_HORIZON,
            INQUIRY_TURN: lambda seconds: self._gate.runway() < seconds,
        }
        self.earliest = lookback_start(job.today, job.lookback_months)
        self.density = 0.0  # claims per day, at least, as far as a probe has shown

    async def run(self, rows: Sequence[LookupRow]) -> PlanStats:
        groups: dict[tuple[str, str], list[LookupRow]] = {}
        for row in rows:
            groups.setdefault((row.tin, row.payer_id), []).append(row)
        strategy = self.job.strategy
        runner = self._individual if strategy == "individual" else self._batched
        async with asyncio.TaskGroup() as tasks:
            for rank, ((tin, payer_id), group_rows) in enumerate(groups.items()):
                tasks.create_task(runner(_Group(tin, payer_id, group_rows, rank)))
        return self.stats

    async def _turn(self, priority: tuple[int, int], call: Callable[..., Awaitable[T]], *args: object) -> T:
        """`call(*args)`, one of the client's data calls, in the plan's scope when the gate gives
        it its turn; the turn ends once it is sent."""
        async with self._gate.turn(priority) as sent:
            return await call(*args, scope=self.scope, hooks=CallHooks(sent, self._may_hedge[priority[0]]))

    # ---- strategies ----

    async def _individual(self, group: _Group) -> None:
        self.stats.critical_path = max(self.stats.critical_path, await self._inquire_all(group, depth=0))

    async def _batched(self, group: _Group) -> None:
        depth = await self._batched_phases(group)
        self.stats.critical_path = max(self.stats.critical_path, depth)

    async def _batched_phases(self, group: _Group) -> int:
        today, span = self.job.today, (self.earliest, self.job.today)
        first = [] if self.job.own_dates_only else [(self.job.start, self.job.end)]
        for rows in group.wanted.values():
            for row in rows:
                own = row.own_window()
                if own is None:
                    continue
                if own[1] < self.earliest:
                    group.old_rows.add(row.row_number)
                first.append(own)
        first_windows = clip(merge(first), self.earliest, today)
        depth = 0
        if first_windows and not self.limit.settled:
            depth += await self._learn_limit(group, first_windows[0])
        rest = subtract(span, first_windows)
        if rest and (self.job.strategy == "batch" or self._widening_likely(group, rest)):
            # Rows without dates will need the rest of the look-back anyway: search it in the same
            # concurrent pass instead of waiting for the first pass's slowest page.
            first_windows = merge(first_windows + rest)
        depth = await self._search_all(group, first_windows, phase="first", depth=depth)
        if not group.wanted:
            return depth
        rest = subtract(span, group.covered)
        if rest and (self.job.strategy == "batch" or self._widening_pays(group, rest)):
            depth = await self._search_all(group, rest, phase="widened", depth=depth)
        if not group.wanted:
            return depth
        if self.job.strategy == "batch":
            if group.failure:
                for claim_number in list(group.wanted):
                    await self._emit_error(group, claim_number, _call_failed(group.failure))
                return depth
            reason = (
                "Claim not found in any window back to the 24-month look-back "
                "(batch strategy: no claim-number look-up)"
            )
            await self._emit(group, dict.fromkeys(group.wanted), reason)
            return depth
        return await self._inquire_all(group, depth)

    def _widening_likely(self, group: _Group, rest: list[Window]) -> bool:
        """Before any search: rows with no dates of their own are the ones that may need wider
        windows; compare their number with the pages the rest of the look-back should take."""
        undated = sum(1 for rows in group.wanted.values() if all(r.own_window() is None for r in rows))
        pieces = [p for w in rest for p in cut(w, self.limit.guess())]
        est_pages = sum(max(1, math.ceil(width(p) * self.density / PAGE_SIZE_GUESS)) for p in pieces)
        return undated > est_pages

    def _widening_pays(self, group: _Group, rest: list[Window]) -> bool:
        """Searching the rest of the look-back answers every unmatched row of the TIN at once;
        asking claim by claim costs one call each. Pages are estimated from the density seen."""
        per_day = group.claims_seen / max(1, group.days_searched)
        pieces = [p for w in rest for p in cut(w, self.limit.guess())]
        est_pages = sum(max(1, math.ceil(width(p) * per_day / PAGE_SIZE_GUESS)) for p in pieces)
        return len(group.wanted) > est_pages

    # ---- window searches ----

    async def _search_all(self, group: _Group, windows: list[Window], *, phase: str, depth: int = 0) -> int:
        if not self.limit.settled and windows:
            depth += await self._learn_limit(group, windows[0])
        pieces = [p for w in windows for p in cut(w, self.limit.guess())]
        results = await asyncio.gather(*(self._search_window(group, w, phase) for w in pieces))
        return depth + max(results, default=0)

    async def _learn_limit(self, group: _Group, window: Window) -> int:
        """Probe one window until the payer's widest window is known (shared by every group)."""
        calls = 0
        failed = False
        async with self._probe:
            learning = not self.limit.settled and not self._hinted()  # else an earlier group learned it
            while not failed and not self.limit.settled and not self._hinted():
                days = self.limit.guess()
                probe = (window[0], window[0] + timedelta(days=days - 1))
                try:
                    claims, token = await self._turn(
                        (WINDOW_TURN, -1), self.client.search_page, group.tin, group.payer_id, *probe)
                    self.limit.accepted(days)
                    seen = PAGE_SIZE_GUESS if token else len(claims)
                    self.density = max(self.density, seen / days)
                except WindowTooWide as exc:
                    self.limit.refused(days, exc.stated_days)
                except OutsideLookback:
                    window = (window[0] + timedelta(days=days), window[1])
                    if window[0] > self.job.today:
                        break
                except CallFailed as exc:
                    failed = True
                    self._window_failed(group, probe, exc)
                calls += 1
                self.stats.pages += 1
            if failed:
                return calls
            if self.limit.max_ok is None and not self._hinted():
                self.limit.accepted(1)
            if learning:
                log.info("payer accepts windows of up to %d days (learned in %d call%s)", self.limit.guess(), calls,
                         "" if calls == 1 else "s")
        return calls

    def _hinted(self) -> bool:
        """The payer named its widest window when it refused a wider one: search with that width
        at once instead of probing it first (the first window it accepts settles the limit; a
        refusal of it narrows the limit and probing resumes)."""
        limit = self.limit
        return limit.hint is not None and limit.guess() == limit.hint

    async def _search_window(self, group: _Group, window: Window, phase: str) -> int:
        """All pages of one window; returns the number of sequential calls it took."""
        for _ in range(MAX_RESTARTS + 1):
            try:
                return await self._pages(group, window, phase)
            except PageTokenExpired:
                self.stats.restarts += 1
            except WindowTooWide as exc:
                self.limit.refused(width(window), exc.stated_days)
                return 1 + await self._search_all(group, [window], phase=phase)
            except TooManyResults:
                self.stats.splits += 1
                halves = halve(window)
                if len(halves) == 1:
                    log.warning("more than the payer's cap of claims on a single day for one TIN")
                    return 1
                depths = await asyncio.gather(*(self._search_window(group, h, phase) for h in halves))
                return 1 + max(depths)
            except OutsideLookback:
                group.covered.append(window)
                return 1
            except CallFailed as exc:
                self._window_failed(group, window, exc)
                return 1
        log.warning("window %s..%s: page tokens kept expiring; its rows go to the next step", *window)
        return MAX_RESTARTS

    def _window_failed(self, group: _Group, window: Window, exc: CallFailed) -> None:
        group.failure = str(exc)
        if not isinstance(exc, PayerOutage):  # an outage is logged once, by the client
            log.warning("window %s..%s skipped: %s; its rows go to the next step", window[0], window[1], exc)

    async def _pages(self, group: _Group, window: Window, phase: str) -> int:
        token: str | None = None
        calls = 0
        finished: dict[str, None] = {}
        while True:
            claims, token = await self._turn(
                (WINDOW_TURN, group.rank), self.client.search_page, group.tin, group.payer_id, *window, token)
            calls += 1
            self.stats.pages += 1
            group.claims_seen += len(claims)
            for found in claims:
                if found.claim_number in group.wanted:
                    group.note(found)
                    finished[found.claim_number] = None
            if not token:
                break
        self.limit.accepted(width(window))
        self.stats.windows_searched += 1
        group.days_searched += width(window)
        group.covered.append(window)
        # Occurrences of one claim share its service dates, so a finished window holds them all.
        await self._emit(group, {cn: phase for cn in finished if cn in group.wanted})
        return calls

    # ---- claim inquiry ----

    async def _inquire_all(self, group: _Group, depth: int) -> int:
        """One claim-number inquiry per unmatched claim, by a fixed pool of callers (bounded
        memory however many rows)."""
        todo = list(group.wanted)

        async def caller() -> None:
            while todo:
                claim_number = todo.pop()
                if claim_number in group.wanted:
                    await self._inquire(group, claim_number)

        async with asyncio.TaskGroup() as tasks:
            for _ in range(min(INQUIRY_FANOUT, len(todo))):
                tasks.create_task(caller())
        return depth + 1

    async def _inquire(self, group: _Group, claim_number: str) -> None:
        self.stats.inquiries += 1
        try:
            found = await self._turn(
                (INQUIRY_TURN, group.rank), self.client.inquire, group.tin, group.payer_id, claim_number)
        except InquiryRefused as exc:
            await self._emit_error(group, claim_number, f"payer could not answer: {exc}")
            return
        except CallFailed as exc:
            await self._emit_error(group, claim_number, _call_failed(str(exc)))
            return
        for item in found:
            group.note(item)
        await self._emit(group, {claim_number: "claim_lookup" if found else None})

    # ---- results ----

    async def _emit(self, group: _Group, claims: dict[str, str | None], reason: str = NOT_FOUND_MESSAGE) -> None:
        """Conclude `claims` (claim number -> phase that found it, or None for not found)."""
        out: list[tuple[int, ClaimResult]] = []
        for claim_number, phase in claims.items():
            rows = group.wanted.pop(claim_number, None)
            if rows is None:
                continue
            occurrences = list(group.seen.pop(claim_number, {}).values())
            if phase is None or not occurrences:
                for row in rows:
                    why = reason
                    if row.row_number in group.old_rows and reason == NOT_FOUND_MESSAGE:
                        why = f"{reason} (its service dates are outside the payer's 24-month look-back)"
                    out.append((row.row_number, ClaimResult.not_found(why)))
                continue
            best = latest(occurrences)
            for row in rows:
                out.append((row.row_number, best.with_match(self._matched_by(row, best, phase))))
        if out:
            await self.sink(out)

    async def _emit_error(self, group: _Group, claim_number: str, message: str) -> None:
        rows = group.wanted.pop(claim_number, [])
        group.seen.pop(claim_number, None)
        if rows:
            await self.sink([(row.row_number, ClaimResult.error(message)) for row in rows])

    def _matched_by(self, row: LookupRow, found: Found, phase: str) -> str:
        if phase == "claim_lookup":
            return "claim_lookup"
        if phase == "widened":
            return "widened_window"
        served = found.first_service_date
        own = row.own_window()
        if served is not None and own is not None and own[0] <= served <= own[1]:
            return "row_dates"
        if served is not None and self.job.start <= served <= self.job.end:
            return "window"
        return "widened_window"


def _call_failed(why: str) -> str:
    """The reason a row gets when the payer call it needed got no usable answer."""
    return f"payer call failed: {why}"
