"""The payer client: the two data surfaces of payer-api.md over one httpx AsyncClient, with
tokens, shared limits, bounded retries and hedged sends (engine.payer.hedging). What goes on the
wire and what an answer means is engine.payer.wire; this module decides when to send, resend or
give up. The window limit learned from the payer's answers lives here too, one per client."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Container
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any, TypeVar

import httpx

from engine.payer import wire
from engine.payer.errors import (
    BadAnswer,
    PayerConfigError,
    PayerOutage,
    PayerUnavailable,
)
from engine.payer.hedging import Answer, Hedging
from engine.payer.limits import LocalLimits, PayerLimits
from engine.payer.normalize import Found
from engine.payer.tokens import TokenSource
from engine.payer.transport import CookielessClient, PooledTransport
from engine.payer.windows import WindowLimit

log = logging.getLogger("claimsops.payer")
T = TypeVar("T")

CallObserver = Callable[[str, str, float], None]  # surface, outcome, seconds
HedgeObserver = Callable[[str], None]  # surface of a hedged copy
SURFACES = ("summary", "inquiry")


@dataclass(slots=True)
class CallScope:
    """The payer calls made on behalf of one job or one look-up. Its caller creates it and hands
    it to every data call; each request sent (hedged copies and retries too) is counted in it, so
    one shared client can serve several jobs at once.

    It also keeps whether the payer is down for these calls: `down_since` is when the first of
    them failed after the payer last answered one. In a scope that `waits_for_payer` (a job's), a
    call that spends its retries while the payer has answered none of them since it began waits
    on, until the payer answers or it has been down for `PayerSettings.outage_s`; then `outage`
    says why and every later call of the scope fails at once (PayerOutage), so the rows left get
    `Error` without more waiting. Other scopes (one claim looked up while an operator waits)
    give up when the retries are spent.

    `close()` ends the scope: a call of it that has not sent its request by then never sends
    it. A job's runner closes the scope before it cancels the plan, so no request of a
    cancelled job goes out while the cancellation is still reaching every task of the plan."""

    calls: int = 0
    waits_for_payer: bool = False
    down_since: float | None = None  # monotonic
    down_since_at: datetime | None = None  # the same moment, on the wall clock
    waiting: bool = False  # a call outlasted its retries and waits for the payer to come back
    outage: str = ""
    closed: bool = False

    def close(self) -> None:
        self.closed = True

    def answered(self) -> None:
        self.down_since = self.down_since_at = None
        self.waiting = False

    def failed(self, now: float) -> None:
        if self.down_since is None:
            self.down_since, self.down_since_at = now, datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class CallHooks:
    """How the caller of one data call (the planner) takes part in it."""

    sent: Callable[[], None] = lambda: None  # a request got its slot of the limits and is being sent
    # Would a copy of a slow call, sent now and answered in about this many seconds, delay none
    # of the caller's other calls? (They would otherwise keep the limits busy that long.)
    may_hedge: Callable[[float], bool] = lambda seconds: True


NO_HOOKS = CallHooks()


@dataclass(frozen=True)
class PayerSettings:
    summary_url: str
    inquiry_url: str
    client_id: str
    client_secret: str
    timeout_s: float = 30.0
    max_attempts: int = 6
    backoff_base_s: float = 0.5
    backoff_cap_s: float = 15.0
    throttle_budget_s: float = 900.0
    outage_s: float = 300.0  # how long a job waits for a payer that answers none of its calls
    # A data call still unanswered after this quantile of recent latencies (and at least three
    # times the median) may get another copy; the first answer wins (0 = never hedge). See
    # engine.payer.hedging and `CallHooks.may_hedge`.
    hedge_quantile: float = 0.95
    hedge_min_samples: int = 20


class PayerClient:
    """One per process and event loop, and so one per payer. Safe for many concurrent calls."""

    def __init__(
        self,
        settings: PayerSettings,
        *,
        limits: PayerLimits | None = None,
        observer: CallObserver | None = None,
        hedge_observer: HedgeObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        window_limit: WindowLimit | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits or LocalLimits(rate_per_second=50, concurrency=50)
        self.observer = observer
        self.hedge_observer = hedge_observer
        # The payer's widest window as learned from its answers, shared by every job of this
        # client; pass what an earlier client of the same payer learned to keep it.
        self.window_limit = window_limit if window_limit is not None else WindowLimit()
        timeout = httpx.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s), pool=None)
        self.http = CookielessClient(
            timeout=timeout,
            transport=transport or PooledTransport(max_connections=200, max_keepalive=100),
            follow_redirects=False,
        )
        self._tokens = {
            "summary": TokenSource(lambda: self._fetch_token(settings.summary_url)),
            "inquiry": TokenSource(lambda: self._fetch_token(settings.inquiry_url)),
        }
        if settings.inquiry_url.rstrip("/") == settings.summary_url.rstrip("/"):
            self._tokens["inquiry"] = self._tokens["summary"]
        # parsed once: httpx parses a URL given as text on every request
        self._summary_url = httpx.URL(settings.summary_url + wire.SUMMARY_PATH)
        self._inquiry_url = httpx.URL(settings.inquiry_url + wire.INQUIRY_PATH)
        self._throttle_streak = 0
        self.hedging = Hedging(settings.hedge_quantile, settings.hedge_min_samples, SURFACES, self._observe_hedge)

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> PayerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- public surfaces ----

    async def search_page(
        self, tin: str, payer_id: str, start: date, end: date, transaction_id: str | None = None, *,
        scope: CallScope, hooks: CallHooks = NO_HOOKS, wanted: Container[str] | None = None,
    ) -> wire.SummaryPage:
        """One page of the claims of `tin` whose first service date is in [start, end]; with
        `wanted`, only the occurrences of those claim numbers are normalised and returned."""
        headers = wire.summary_headers(tin, payer_id, start, end, transaction_id)
        return await self._call("summary", "GET", self._summary_url, scope, hooks,
                                lambda response: wire.summary_result(response, start, end, wanted), headers=headers)

    async def inquire(
        self, tin: str, payer_id: str, claim_number: str, *, scope: CallScope, hooks: CallHooks = NO_HOOKS,
    ) -> list[Found]:
        """Every occurrence of one claim number (no dates needed)."""
        headers, body = wire.inquiry_request(tin, payer_id, claim_number)
        return await self._call("inquiry", "POST", self._inquiry_url, scope, hooks,
                                wire.inquiry_result, headers=headers, json=body)

    # ---- one exchange, with tokens, limits and retries ----

    async def _call(self, surface: str, method: str, url: httpx.URL, scope: CallScope, hooks: CallHooks,
                    read: Callable[[httpx.Response], T], **kwargs: Any) -> T:
        """What `read` makes of the first answer that is neither 401, 429, 5xx nor unreadable
        (BadAnswer); raises PayerUnavailable when the retry budget is spent, PayerOutage when the
        payer has answered none of the scope's calls for `outage_s`, and PayerConfigError on a
        second 401."""
        if scope.outage:
            raise PayerOutage(scope.outage)
        tokens = self._tokens[surface]
        send_copy = partial(self._send, surface, method, url, kwargs, scope, hooks.sent)
        failures = 0
        first_failure = 0.0
        replayed = False
        throttled_since: float | None = None
        while True:
            try:
                response, outcome, token = await self.hedging.send(surface, send_copy, hooks.may_hedge)
                what = ""
            except PayerUnavailable as exc:  # the token endpoint spent its own retries
                response, outcome, token, what = None, wire.PAYER_ERROR, "", str(exc)
            if response is not None and response.status_code == 401:
                tokens.invalidate(token)
                if replayed:
                    raise PayerConfigError(
                        "payer refused a freshly issued token twice: check CLAIMSOPS_PAYER_CLIENT_ID, "
                        "the secret and the payer URLs"
                    )
                replayed = True
                continue
            if response is not None and response.status_code == 429:
                now = time.monotonic()
                throttled_since = throttled_since or now
                if now - throttled_since > self.settings.throttle_budget_s:
                    raise PayerUnavailable(
                        f"payer kept throttling for {int(now - throttled_since)} s (429 Too Many Requests)"
                    )
                await self.limits.pause(self._throttle_wait(wire.retry_after(response)))
                continue
            self._throttle_streak = 0
            unreadable = False
            if response is not None and response.status_code < 500:
                scope.answered()  # the payer is up, even when what it says is a refusal or unreadable
                try:
                    return read(response)
                except BadAnswer as exc:
                    what, unreadable = str(exc), True
            failures += 1
            now = time.monotonic()
            if not unreadable:
                scope.failed(now)
            first_failure = first_failure or now
            what = what or ("payer timed out" if outcome == wire.TIMEOUT else (
                f"payer answered {response.status_code}" if response is not None else "payer could not be reached"
            ))
            await self._after_failure(scope, failures, first_failure, now, what)

    async def _after_failure(self, scope: CallScope, failures: int, first_failure: float, now: float,
                             what: str) -> None:
        """Wait before the next attempt of a call that failed `failures` times in a row, or raise
        when it should not be sent again."""
        if scope.outage:
            raise PayerOutage(scope.outage)
        wait = self._backoff(failures)
        if failures >= self.settings.max_attempts:
            down_since = scope.down_since
            if not scope.waits_for_payer or down_since is None or down_since > first_failure:
                # (when the payer answered other calls meanwhile, this one is the problem, not the payer)
                raise PayerUnavailable(f"{what} {failures} times in a row")
            left = down_since + self.settings.outage_s - now
            if left <= 0:
                since = f"{scope.down_since_at:%H:%M} UTC" if scope.down_since_at else "the job started"
                scope.outage = (
                    f"the payer answered none of the job's calls for {int(self.settings.outage_s)} s "
                    f"(since {since}; last: {what})"
                )
                log.warning("%s: the rows left get Error", scope.outage)
                raise PayerOutage(scope.outage)
            if not scope.waiting:
                scope.waiting = True
                log.warning("waiting up to %d s for the payer to answer (%s)", int(left), what)
            wait = min(wait, left)
        await asyncio.sleep(wait)

    async def _send(self, surface: str, method: str, url: httpx.URL, kwargs: dict[str, Any], scope: CallScope,
                    on_sent: Callable[[], None], sent: asyncio.Event) -> Answer:
        """One HTTP exchange under a slot of the shared limits; counted when it is sent."""
        async with self.limits.slot():
            # The token is taken after the wait for a slot, which may outlast it.
            token = await self._tokens[surface].get()
            if scope.closed:  # its job stopped while this call waited for a slot or a token
                raise asyncio.CancelledError
            headers = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
            scope.calls += 1
            sent.set()
            on_sent()
            latency = self.hedging.latency[surface]
            latency.sent(id(sent))
            started = time.monotonic()
            try:
                response: httpx.Response | None = await self.http.request(method, url, **{**kwargs, "headers": headers})
                outcome = wire.outcome(response)
            except httpx.TimeoutException:
                response, outcome = None, wire.TIMEOUT
            except httpx.TransportError:
                response, outcome = None, wire.PAYER_ERROR
            except asyncio.CancelledError:
                latency.done(id(sent), answered=False)  # abandoned: it took at least this long
                raise
            quick_refusal = outcome in (wire.THROTTLED, wire.PAYER_ERROR) or (
                response is not None and response.status_code == 401)
            latency.done(id(sent), answered=outcome != wire.TIMEOUT, sample=not quick_refusal)
            self._observe(surface, outcome, time.monotonic() - started)
        return response, outcome, token

    def _throttle_wait(self, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        self._throttle_streak += 1
        ceiling = min(30.0, self.settings.backoff_base_s * 2 ** min(self._throttle_streak, 8))
        return random.uniform(ceiling / 2, ceiling)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2 ** min(failures - 1, 20))
        return random.uniform(0, ceiling)

    def _observe(self, surface: str, outcome: str, seconds: float) -> None:
        if self.observer is not None:
            try:
                self.observer(surface, outcome, seconds)
            except Exception:  # metrics must never break a look-up
                log.debug("call observer failed", exc_info=True)

    def _observe_hedge(self, surface: str) -> None:
        if self.hedge_observer is not None:
            try:
                self.hedge_observer(surface)
            except Exception:  # metrics must never break a look-up
                log.debug("hedge observer failed", exc_info=True)

    async def _fetch_token(self, base_url: str) -> tuple[str, float]:
        data = wire.token_form(self.settings.client_id, self.settings.client_secret)
        failures = 0
        while True:
            # Not under a slot: data calls holding every slot may be waiting for this token.
            wait = await self.limits.paused_for()
            if wait > 0:
                await asyncio.sleep(wait)
            started = time.monotonic()
            try:
                response = await self.http.post(base_url + wire.TOKEN_PATH, data=data)
                outcome = wire.outcome(response)
            except httpx.TimeoutException:
                response, outcome = None, wire.TIMEOUT
            except httpx.TransportError:
                response, outcome = None, wire.PAYER_ERROR
            self._observe("token", outcome, time.monotonic() - started)
            if response is not None and response.status_code == 200:
                return wire.token_result(response)
            if response is not None and response.status_code in (400, 401, 403):
                raise PayerConfigError(
                    "payer rejected the client credentials: check CLAIMSOPS_PAYER_CLIENT_ID and "
                    "CLAIMSOPS_PAYER_CLIENT_SECRET"
                )
            if response is not None and response.status_code == 429:
                await self.limits.pause(self._throttle_wait(wire.retry_after(response)))
                continue
            failures += 1
            if failures >= self.settings.max_attempts:
                raise PayerUnavailable(f"payer token endpoint failed {failures} times in a row")
            await asyncio.sleep(self._backoff(failures))
