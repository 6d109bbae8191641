"""The payer adapter: the two surfaces of payer-api.md over one httpx AsyncClient, with tokens,
shared limits, bounded retries and every error of the contract classified."""

from __future__ import annotations

import asyncio
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

CallObserver = Callable[[str, str, float], None]  # surface, outcome, seconds

# Requests made on behalf of the current job: the runner sets a fresh counter per job, and the
# planner's tasks inherit it, so one shared client can serve several jobs at once.
call_counter: contextvars.ContextVar[list[int] | None] = contextvars.ContextVar("payer_calls", default=None)
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
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=100),
            transport=transport,
            follow_redirects=False,
        )
        self._tokens = {
            "summary": TokenSource(lambda: self._fetch_token(settings.summary_url)),
            "inquiry": TokenSource(lambda: self._fetch_token(settings.inquiry_url)),
        }
        if settings.inquiry_url.rstrip("/") == settings.summary_url.rstrip("/"):
            self._tokens["inquiry"] = self._tokens["summary"]
        self._throttle_streak = 0
        self.calls = 0

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
            async with self.limits.slot():
                # The token is taken after the wait for a slot, which may outlast it.
                token = await tokens.get()
                kwargs["headers"] = {**kwargs.get("headers", {}), "Authorization": f"Bearer {token}"}
                started = time.monotonic()
                try:
                    response = await self.http.request(method, url, **kwargs)
                    outcome = self._outcome(response)
                except httpx.TimeoutException:
                    response, outcome = None, TIMEOUT
                except httpx.TransportError:
                    response, outcome = None, PAYER_ERROR
                self.calls += 1
                counter = call_counter.get()
                if counter is not None:
                    counter[0] += 1
                self._observe(surface, outcome, time.monotonic() - started)
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
