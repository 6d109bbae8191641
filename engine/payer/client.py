"""The payer adapter: the two surfaces of payer-api.md over one httpx AsyncClient, with tokens,
shared limits, bounded retries and every error of the contract classified."""

from __future__ import annotations

import asyncio
import collections
import contextvars
import logging
import random
import re
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import httpx

from engine.dates import to_wire
from engine.payer.errors import (
    InquiryRefused,
    OutsideLookback,
    PageTokenExpired,
    PatientOutsideWindow,
    PayerConfigError,
    PayerUnavailable,
    TooManyResults,
    WindowTooWide,
)
from engine.payer.limits import LocalLimits, PayerLimits
from engine.payer.normalize import Found, from_inquiry, from_summary
from engine.payer.tokens import TokenSource
from engine.payer.transport import PooledTransport
from engine.text import safe_text

log = logging.getLogger("claimsops.payer")

SUMMARY_PATH = "/Claims/api/claim/summary/byprovider/v2.0"
INQUIRY_PATH = "/oihub/claim/inquiry/v1"
TOKEN_PATH = "/v1/oauthtoken"
INQUIRY_QUERY = (
    "query SearchClaim($searchClaimInput: SearchClaimInput!) { searchClaim(searchClaimInput: "
    "$searchClaimInput) { claims { claimNumber claimStatus member { firstName lastName dateOfBirth "
    "memberId } claimEvents { receivedDate processedDate serviceStartDate serviceEndDate } "
    "claimLevelTotalAmount { totalBilledChargeAmount totalAllowedAmount totalPaidAmount "
    "totalPatientResponsibilityAmount } payments { paymentNumber paymentIssueDate } "
    "claimStatusCrosswalkData { claim507Code claim507CodeDesc claim508Code claim508CodeDesc "
    "adjudicatedClaimSuffixCode } } pagination { hasMoreRecords nextPageToken } } }"
)

# outcome classes recorded for every exchange (the Stats tab shows them)
OK, NOT_FOUND, THROTTLED, PAYER_ERROR, TIMEOUT, CLIENT_ERROR = (
    "ok", "not_found", "throttled", "payer_error", "timeout", "client_error",
)

HEDGE_POLL_S = 0.05
MAX_COPIES = 3  # of one request: the first and at most two hedges
MEDIAN_MULTIPLE = 3  # never hedge a call before it has taken this many times the median
CallObserver = Callable[[str, str, float], None]  # surface, outcome, seconds
_Answer = tuple["httpx.Response | None", str, str]  # response (None: no answer), outcome, token used

# Requests made on behalf of the current job: the runner sets a fresh counter per job, and the
# planner's tasks inherit it, so one shared client can serve several jobs at once.
call_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("payer_calls", default=None)


@dataclass(frozen=True)
class CallHooks:
    """How the caller of the current task's data calls (the planner) takes part in them."""

    sent: Callable[[], None] = lambda: None  # a request got its slot of the limits and is being sent
    # Would a copy of a slow call, sent now and answered in about this many seconds, delay none
    # of the caller's other calls? (They would otherwise keep the limits busy that long.)
    may_hedge: Callable[[float], bool] = lambda seconds: True


call_hooks: contextvars.ContextVar[CallHooks | None] = contextvars.ContextVar("payer_call_hooks", default=None)
_NO_HOOKS = CallHooks()
_DAYS = re.compile(r"(\d{1,4})\s*days?", re.IGNORECASE)


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
    # A data call still unanswered after this quantile of recent latencies (and at least three
    # times the median) may get another copy; the first answer wins (0 = never hedge). See
    # `LatencyTracker` and `CallHooks.may_hedge`.
    hedge_quantile: float = 0.95
    hedge_min_samples: int = 20


def _error_code(response: httpx.Response) -> tuple[str, str]:
    try:
        body = response.json()
    except ValueError:
        return "", ""
    if isinstance(body, dict):
        if "code" in body:
            return str(body.get("code", "")), str(body.get("message", ""))
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("code", "")), str(errors[0].get("description", ""))
    return "", ""


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None


class LatencyTracker:
    """Latencies of recent data calls on one surface, and from them how long to wait before
    hedging a call: payer latency has a heavy tail (payer-api.md section 5: p99 is ten times the
    median), so a second copy of one of the slowest calls cuts the tail for a few more calls.
    Both copies go through the shared limits and count as calls.

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


class PayerClient:
    """One per process and event loop. Safe for many concurrent calls."""

    def __init__(
        self,
        settings: PayerSettings,
        *,
        limits: PayerLimits | None = None,
        observer: CallObserver | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self.settings = settings
        self.limits = limits or LocalLimits(rate_per_second=50, concurrency=50)
        self.observer = observer
        timeout = httpx.Timeout(settings.timeout_s, connect=min(10.0, settings.timeout_s), pool=None)
        self.http = httpx.AsyncClient(
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
        self._throttle_streak = 0
        self._latency = {name: LatencyTracker(settings.hedge_quantile, settings.hedge_min_samples)
                         for name in ("summary", "inquiry")}
        self.calls = 0
        self.hedges = 0

    async def aclose(self) -> None:
        await self.http.aclose()

    async def __aenter__(self) -> PayerClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # ---- public surfaces ----

    async def search_page(
        self, tin: str, payer_id: str, start: date, end: date, transaction_id: str | None = None
    ) -> tuple[list[Found], str | None]:
        """One page of the claims of `tin` whose first service date is in [start, end]."""
        headers = {"tin": tin, "payerId": payer_id}
        if transaction_id:
            headers["transactionId"] = transaction_id
        else:
            headers.update(firstServiceDt=to_wire(start), lastServiceDt=to_wire(end))
        response = await self._call("summary", "GET", self.settings.summary_url + SUMMARY_PATH, headers=headers)
        if response.status_code == 200:
            body = response.json()
            claims = [from_summary(c) for c in body.get("claims") or [] if isinstance(c, dict)]
            return claims, body.get("transactionId") or None
        code, message = _error_code(response)
        days = (end - start).days + 1
        if code == "LCLM_PS_201":
            return [], None
        if code == "LCLM_PS_203":
            raise PageTokenExpired(message)
        if code == "LCLM_PS_307":
            raise PatientOutsideWindow(message)
        if code == "LCLM_PS_112":
            hint = _DAYS.search(message)
            raise WindowTooWide(days, int(hint.group(1)) if hint else None)
        if code == "LCLM_PS_306":
            raise TooManyResults(message)
        if code == "LCLM_PS_107":
            raise OutsideLookback(message)
        raise PayerConfigError(
            f"payer rejected the search ({response.status_code} {safe_text(code) or 'no code'}: "
            f"{safe_text(message, max_len=200)})"
        )

    async def inquire(self, tin: str, payer_id: str, claim_number: str) -> list[Found]:
        """Every occurrence of one claim number (no dates needed)."""
        body = {
            "operationName": "SearchClaim",
            "query": INQUIRY_QUERY,
            "variables": {"searchClaimInput": {"payerId": payer_id, "claimNumber": claim_number}},
        }
        headers = {"providerTaxId": tin, "x-optum-consumer-correlation-id": str(uuid.uuid4())}
        response = await self._call("inquiry", "POST", self.settings.inquiry_url + INQUIRY_PATH,
                                    headers=headers, json=body)
        if response.status_code != 200:
            code, message = _error_code(response)
            raise PayerConfigError(
                f"payer rejected the claim inquiry ({response.status_code} {safe_text(code) or 'no code'}: "
                f"{safe_text(message, max_len=200)})"
            )
        payload = response.json()
        data = payload.get("data") if isinstance(payload, dict) else None
        if not data:
            _, message = _error_code(response)
            raise InquiryRefused(safe_text(message or "the payer answered with errors and no data", max_len=300))
        found = (data.get("searchClaim") or {}).get("claims") or []
        return [from_inquiry(c) for c in found if isinstance(c, dict)]

    # ---- one exchange, with tokens, limits and retries ----

    async def _call(self, surface: str, method: str, url: str, **kwargs: Any) -> httpx.Response:
        """Returns a response that is neither 401, 429 nor 5xx; raises PayerUnavailable when
        the retry budget is spent and PayerConfigError on a second 401."""
        tokens = self._tokens[surface]
        failures = 0
        replayed = False
        throttled_since: float | None = None
        while True:
            response, outcome, token = await self._exchange(surface, method, url, kwargs)
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
                await self.limits.pause(self._throttle_wait(_retry_after(response)))
                continue
            self._throttle_streak = 0
            if response is None or response.status_code >= 500:
                failures += 1
                what = "timed out" if outcome == TIMEOUT else (
                    f"answered {response.status_code}" if response is not None else "could not be reached"
                )
                if failures >= self.settings.max_attempts:
                    raise PayerUnavailable(f"payer {what} {failures} times in a row")
                await asyncio.sleep(self._backoff(failures))
                continue
            return response

    async def _exchange(self, surface: str, method: str, url: str, kwargs: dict[str, Any]) -> _Answer:
        """One request; while the newest copy is slower than nearly every recent call, another
        copy (a hedge), up to MAX_COPIES in all. The first answer wins; the others are abandoned."""
        copies: set[asyncio.Task[_Answer]] = set()
        try:
            sent_at = await self._launch(copies, surface, method, url, kwargs)
            while True:
                if len(copies) < MAX_COPIES and await self._slow(copies, sent_at, surface):
                    self.hedges += 1
                    sent_at = await self._launch(copies, surface, method, url, kwargs)
                    continue
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

    async def _launch(self, copies: set[asyncio.Task[_Answer]], surface: str, method: str, url: str,
                      kwargs: dict[str, Any]) -> float:
        """Start one copy; return when it is sent (or some copy has ended) with the time."""
        sent = asyncio.Event()
        copies.add(asyncio.create_task(self._send(surface, method, url, kwargs, sent)))
        signal = asyncio.create_task(sent.wait())
        try:
            await asyncio.wait({*copies, signal}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            signal.cancel()
        return time.monotonic()

    def _hedge_after(self, surface: str) -> float | None:
        """The surface's hedging delay; until it has answers enough of its own, the other's."""
        own = self._latency[surface]
        others = (t for name, t in self._latency.items() if name != surface)
        return next((d for t in (own, *others) if (d := t.hedge_after()) is not None), None)

    async def _slow(self, copies: set[asyncio.Task[_Answer]], sent_at: float, surface: str) -> bool:
        """Wait until a copy ends (False) or the newest, sent at `sent_at`, is slower than nearly
        every recent call and the caller welcomes a hedge now (True)."""
        hooks = call_hooks.get() or _NO_HOOKS
        while not any(copy.done() for copy in copies):
            delay = self._hedge_after(surface)
            if self.settings.hedge_quantile <= 0:
                left: float | None = None
            elif delay is None:
                left = HEDGE_POLL_S
            else:
                left = sent_at + delay - time.monotonic()
                if left <= 0:
                    if hooks.may_hedge(delay):
                        return True
                    left = HEDGE_POLL_S
            await asyncio.wait(copies, timeout=left, return_when=asyncio.FIRST_COMPLETED)
        return False

    async def _send(self, surface: str, method: str, url: str, kwargs: dict[str, Any],
                    sent: asyncio.Event) -> _Answer:
        """One HTTP exchange under a slot of the shared limits; counted when it is sent."""
        async with self.limits.slot():
            # The token is taken after the wait for a slot, which may outlast it.
            token = await self._tokens[surface].get()
            headers = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
            self.calls += 1
            counter = call_counter.get()
            if counter is not None:
                counter[0] += 1
            sent.set()
            (call_hooks.get() or _NO_HOOKS).sent()
            latency = self._latency[surface]
            latency.sent(id(sent))
            started = time.monotonic()
            try:
                response: httpx.Response | None = await self.http.request(method, url, **{**kwargs, "headers": headers})
                outcome = self._outcome(response)
            except httpx.TimeoutException:
                response, outcome = None, TIMEOUT
            except httpx.TransportError:
                response, outcome = None, PAYER_ERROR
            except asyncio.CancelledError:
                latency.done(id(sent), answered=False)  # abandoned: it took at least this long
                raise
            quick_refusal = outcome in (THROTTLED, PAYER_ERROR) or (response is not None and response.status_code == 401)
            latency.done(id(sent), answered=outcome != TIMEOUT, sample=not quick_refusal)
            self._observe(surface, outcome, time.monotonic() - started)
        return response, outcome, token

    def _throttle_wait(self, retry_after: float | None) -> float:
        if retry_after is not None:
            return retry_after
        self._throttle_streak += 1
        ceiling = min(30.0, self.settings.backoff_base_s * 2 ** min(self._throttle_streak, 8))
        return random.uniform(ceiling / 2, ceiling)

    def _backoff(self, failures: int) -> float:
        ceiling = min(self.settings.backoff_cap_s, self.settings.backoff_base_s * 2 ** (failures - 1))
        return random.uniform(0, ceiling)

    @staticmethod
    def _outcome(response: httpx.Response) -> str:
        status = response.status_code
        if status == 200:
            return OK
        if status == 404:
            return NOT_FOUND
        if status == 429:
            return THROTTLED
        if status >= 500:
            return PAYER_ERROR
        return CLIENT_ERROR

    def _observe(self, surface: str, outcome: str, seconds: float) -> None:
        if self.observer is not None:
            try:
                self.observer(surface, outcome, seconds)
            except Exception:  # metrics must never break a look-up
                log.debug("call observer failed", exc_info=True)

    async def _fetch_token(self, base_url: str) -> tuple[str, float]:
        data = {
            "grant_type": "client_credentials",
            "client_id": self.settings.client_id,
            "client_secret": self.settings.client_secret,
        }
        failures = 0
        while True:
            # Not under a slot: data calls holding every slot may be waiting for this token.
            wait = await self.limits.paused_for()
            if wait > 0:
                await asyncio.sleep(wait)
            started = time.monotonic()
            try:
                response = await self.http.post(base_url + TOKEN_PATH, data=data)
                outcome = self._outcome(response)
            except httpx.TimeoutException:
                response, outcome = None, TIMEOUT
            except httpx.TransportError:
                response, outcome = None, PAYER_ERROR
            self._observe("token", outcome, time.monotonic() - started)
            if response is not None and response.status_code == 200:
                try:
                    body = response.json()
                    return str(body["access_token"]), float(body.get("expires_in", 3600))
                except (ValueError, KeyError, TypeError):
                    raise PayerConfigError("payer token endpoint answered without an access_token") from None
            if response is not None and response.status_code in (400, 401, 403):
                raise PayerConfigError(
                    "payer rejected the client credentials: check CLAIMSOPS_PAYER_CLIENT_ID and "
                    "CLAIMSOPS_PAYER_CLIENT_SECRET"
                )
            if response is not None and response.status_code == 429:
                await self.limits.pause(self._throttle_wait(_retry_after(response)))
                continue
            failures += 1
            if failures >= self.settings.max_attempts:
                raise PayerUnavailable(f"payer token endpoint failed {failures} times in a row")
            await asyncio.sleep(self._backoff(failures))
