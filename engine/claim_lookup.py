"""One claim, looked up live at the payer: the console's Claims tab (the original system's claim
search page).

The look-up is a one-row plan of the same planner the workers use, so a claim found here is
found the same way a job would find it:
- with a date range: the range is the job window (clipped to the payer's look-back and to
  today); the rest of the look-back is searched only when that is cheaper than one inquiry
  (never, for one claim); then a claim-number inquiry;
- without dates: a claim-number inquiry at once (one call; it needs no dates).

The result is the normalised `ClaimResult` of the latest adjudication, with how it was matched
(`matched_by`), or a `Not Found` / `Error` result with the reason. Bad input raises
`LookupInputError`; a payer configuration problem (credentials, URLs) raises
`PayerConfigError`. No database access here: the caller audits the look-up.
"""

from __future__ import annotations

import asyncio
import re
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import TYPE_CHECKING

from engine.errors import OperatorError
from engine.intake import MAX_CLAIM_NUMBER_LENGTH
from engine.payer.windows import WindowLimit
from engine.results import ClaimResult
from engine.text import safe_text

if TYPE_CHECKING:  # the payer client (and httpx) load on the first look-up: the console imports this
    import httpx

    from engine.payer.client import PayerClient, PayerSettings
    from engine.payer.limits import PayerLimits

DEFAULT_PAYER_ID = "87726"
DEFAULT_DEADLINE_S = 90.0
DEFAULT_WINDOW_DAYS = 90  # when only an end date is given
LOOKUP_RATE_PER_SECOND = 20.0
LOOKUP_CONCURRENCY = 8
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_CLAIM_NUMBER = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
_TIN = re.compile(r"^\d{9}$")


CANCEL_POLL_S = 0.1


class LookupInputError(OperatorError, ValueError):
    """A field of the look-up the operator must correct; the message names it."""


class LookupCancelled(Exception):
    """The caller gave up on the look-up (the console is closing)."""


@dataclass(frozen=True)
class LookupRequest:
    """Checked and normalised input of one look-up."""

    claim_number: str
    tin: str
    payer_id: str
    start: date | None
    end: date | None
    today: date

    @property
    def dated(self) -> bool:
        return self.start is not None

    @property
    def strategy(self) -> str:
        return "auto" if self.dated else "individual"


@dataclass(frozen=True)
class ClaimLookup:
    """The outcome of one look-up: the normalised result and what it cost."""

    request: LookupRequest
    result: ClaimResult
    payer_calls: int
    seconds: float

    @property
    def found(self) -> bool:
        return self.result.success

    def summary(self) -> str:
        """One line without PHI, for the audit trail and the logs."""
        result = self.result
        codes = "/".join(c for c in (result.status_category, result.status_code) if c)
        text = safe_text(result.status, max_len=40)
        if codes:
            text += f" ({safe_text(codes, max_len=20)})"
        if result.matched_by:
            text += f" matched by {result.matched_by}"
        elif result.error_message:
            text += f": {safe_text(result.error_message, max_len=200)}"
        calls = f"{self.payer_calls} payer call{'s' if self.payer_calls != 1 else ''}"
        return f"{text}; {calls} in {self.seconds:.1f} s"


def check_request(
    claim_number: str, *, tin: str, payer_id: str = DEFAULT_PAYER_ID, start: date | None = None,
    end: date | None = None, today: date | None = None,
) -> LookupRequest:
    """Validate and normalise the input; LookupInputError names the field to correct.

    Only a start date: the range runs to today. Only an end date: the 90 days up to it. A range
    reaching past today or before the payer's look-back is searched where it overlaps them.
    """
    today = today or date.today()
    number = (claim_number or "").strip()
    if not number:
        raise LookupInputError("claim number: type the claim number to look up")
    if len(number) > MAX_CLAIM_NUMBER_LENGTH:
        raise LookupInputError(f"claim number: at most {MAX_CLAIM_NUMBER_LENGTH} characters")
    if not _CLAIM_NUMBER.match(number):
        raise LookupInputError("claim number: letters and digits only (and - _ . inside)")
    tin_digits = (tin or "").replace("-", "").strip()
    if not _TIN.match(tin_digits):
        raise LookupInputError("TIN: 9 digits (the billing provider's tax id)")
    payer = (payer_id or DEFAULT_PAYER_ID).strip()
    if not payer or len(payer) > 16 or _CONTROL.search(payer):
        raise LookupInputError("payer id: up to 16 characters, e.g. 87726")
    if start is not None and end is None:
        end = max(start, today)
    elif end is not None and start is None:
        start = end - timedelta(days=DEFAULT_WINDOW_DAYS)
    if start is not None and end is not None and start > end:
        raise LookupInputError(f"dates: the start date {start.isoformat()} is after the end date {end.isoformat()}")
    return LookupRequest(number, tin_digits, payer, start, end, today)


async def lookup_with(client: PayerClient, request: LookupRequest, *, deadline_s: float = DEFAULT_DEADLINE_S) -> ClaimLookup:
    """Run the one-row plan with an open client. A payer that does not answer within
    `deadline_s` gives an `Error` result; a configuration problem raises PayerConfigError."""
    from engine.payer.client import CallScope
    from engine.payer.errors import root_cause
    from engine.payer.planner import JobWindow, LookupPlanner, LookupRow

    started = time.monotonic()
    scope = CallScope()  # this look-up's payer calls
    results: list[ClaimResult] = []

    async def sink(batch: Sequence[tuple[int, ClaimResult]]) -> None:
        results.extend(result for _, result in batch)

    if request.dated:
        assert request.start is not None and request.end is not None
        window = JobWindow(request.start, request.end, request.today, "auto")
    else:
        window = JobWindow(request.today - timedelta(days=DEFAULT_WINDOW_DAYS), request.today, request.today,
                           "individual")
    planner = LookupPlanner(client, window, sink, scope)
    row = LookupRow(1, request.claim_number, request.tin, request.payer_id)
    try:
        async with asyncio.timeout(deadline_s):
            await planner.run([row])
    except TimeoutError:
        results = [ClaimResult.error(f"the payer did not answer within {deadline_s:g} s; try again later")]
    except Exception as exc:  # the planner's task groups wrap what went wrong
        cause = root_cause(exc)
        if cause is exc:
            raise
        raise cause from None
    result = results[0] if results else ClaimResult.error("the look-up ended without a result")
    return ClaimLookup(request, result, scope.calls, round(time.monotonic() - started, 3))


def lookup_claim(
    payer: PayerSettings, claim_number: str, *, tin: str, payer_id: str = DEFAULT_PAYER_ID,
    start: date | None = None, end: date | None = None, today: date | None = None,
    deadline_s: float = DEFAULT_DEADLINE_S, limits: PayerLimits | None = None,
    transport: httpx.AsyncBaseTransport | None = None, cancel: threading.Event | None = None,
    window_limit: WindowLimit | None = None,
) -> ClaimLookup:
    """Look one claim up at the payer (blocking: runs its own event loop; call it from a worker
    thread). Raises LookupInputError for bad input, PayerConfigError for a payer that refuses
    our credentials or requests, and LookupCancelled within 0.1 s of `cancel` being set.
    Each look-up has its own client: pass `window_limit` to keep what earlier look-ups at this
    payer learned of its widest window."""
    from engine.payer.client import PayerClient
    from engine.payer.limits import LocalLimits

    request = check_request(claim_number, tin=tin, payer_id=payer_id, start=start, end=end, today=today)

    async def run() -> ClaimLookup:
        client = PayerClient(
            payer, limits=limits or LocalLimits(LOOKUP_RATE_PER_SECOND, LOOKUP_CONCURRENCY), transport=transport,
            window_limit=window_limit,
        )
        try:
            lookup = asyncio.create_task(lookup_with(client, request, deadline_s=deadline_s))
            while cancel is not None and not lookup.done():
                await asyncio.wait({lookup}, timeout=CANCEL_POLL_S)
                if cancel.is_set() and not lookup.done():
                    lookup.cancel()
                    await asyncio.gather(lookup, return_exceptions=True)
                    raise LookupCancelled(f"look-up of {request.claim_number} cancelled")
            return await lookup
        finally:
            await client.aclose()

    return asyncio.run(run())
