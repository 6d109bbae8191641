"""The payer adapter and the planner's building blocks against the simulator over loopback."""

from __future__ import annotations

import asyncio
import time
from datetime import date, timedelta

import httpx
import pytest

from engine.payer.client import CallScope, PayerClient, PayerSettings
from engine.payer.errors import (
    OutsideLookback,
    PageTokenExpired,
    PayerConfigError,
    PayerUnavailable,
    TooManyResults,
    WindowTooWide,
)
from engine.payer.limits import LocalLimits, SlidingWindowRate
from engine.payer.windows import WindowLimit, cut, halve, lookback_start, merge, subtract
from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator

TODAY = date.today()
D = date.fromisoformat
SCOPE = CallScope()  # these calls are made on behalf of no job


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(seed=5, today=TODAY)


@pytest.fixture
def sim(dataset):
    with PayerSimulator(SimConfig(seed=5, today=TODAY), dataset=dataset) as s:
        yield s


def client_for(sim, **overrides) -> PayerClient:
    cfg = sim.config
    settings = PayerSettings(sim.url, sim.url, overrides.pop("client_id", cfg.client_id),
                             overrides.pop("secret", cfg.client_secret), timeout_s=overrides.pop("timeout", 2.0),
                             backoff_base_s=0.01, backoff_cap_s=0.05, **overrides)
    return PayerClient(settings, limits=LocalLimits(200, 20))


def test_window_arithmetic() -> None:
    assert merge([(D("2025-01-10"), D("2025-01-20")), (D("2025-01-01"), D("2025-01-09")),
                  (D("2025-03-01"), D("2025-03-02"))]) == [(D("2025-01-01"), D("2025-01-20")),
                                                           (D("2025-03-01"), D("2025-03-02"))]
    assert subtract((D("2025-01-01"), D("2025-01-31")), [(D("2025-01-05"), D("2025-01-10"))]) == [
        (D("2025-01-01"), D("2025-01-04")), (D("2025-01-11"), D("2025-01-31"))]
    pieces = cut((D("2025-01-01"), D("2025-03-31")), 31)
    assert [((e - s).days + 1) for s, e in pieces] == [31, 31, 28]
    assert pieces[0][0] == D("2025-01-01") and pieces[-1][1] == D("2025-03-31")
    assert halve((D("2025-01-01"), D("2025-01-10"))) == [(D("2025-01-01"), D("2025-01-05")),
                                                         (D("2025-01-06"), D("2025-01-10"))]
    assert lookback_start(D("2026-03-31")) == D("2024-04-01")


def test_window_limit_learning_with_and_without_a_hint() -> None:
    hinted = WindowLimit()
    hinted.refused(hinted.guess(), 31)
    assert hinted.guess() == 31
    hinted.accepted(31)
    assert hinted.settled and hinted.guess() == 31

    blind, probes = WindowLimit(), 0
    while not blind.settled:
        days = blind.guess()
        probes += 1
        blind.accepted(days) if days <= 45 else blind.refused(days, None)
    assert blind.guess() == 45 and probes <= 8


def test_sliding_window_spacing_never_exceeds_the_rate() -> None:
    rate = SlidingWindowRate(10)
    now, starts = 0.0, []
    while now < 5:
        wait = rate.delay(now)
        if wait == 0:
            starts.append(now)
        now += max(wait, 0.001)
    assert max(sum(1 for s in starts if t <= s < t + 1) for t in starts) <= 10
    assert len(starts) >= 45


async def test_contract_errors_are_classified(sim, dataset) -> None:
    tin = dataset.tins[0]
    async with client_for(sim) as client:
        with pytest.raises(WindowTooWide) as wide:
            await client.search_page(tin, "87726", TODAY - timedelta(days=60), TODAY, scope=SCOPE)
        assert wide.value.stated_days == 31
        with pytest.raises(OutsideLookback):
            await client.search_page(tin, "87726", TODAY - timedelta(days=900), TODAY - timedelta(days=880), scope=SCOPE)
        with pytest.raises(TooManyResults):
            await client.search_page(dataset.tins[-1], "87726", TODAY - timedelta(days=150), TODAY - timedelta(days=120), scope=SCOPE)
        claims, token, _ = await client.search_page(tin, "87726", TODAY - timedelta(days=60), TODAY - timedelta(days=30), scope=SCOPE)
        assert len(claims) == 50 and token
        sim.expire_pages()
        with pytest.raises(PageTokenExpired):
            await client.search_page(tin, "87726", TODAY, TODAY, token, scope=SCOPE)
        assert await client.inquire(tin, "87726", "ZZ00000000", scope=SCOPE) == []
        with pytest.raises(PayerConfigError, match="LCLM_PS_102"):
            await client.search_page("", "87726", TODAY, TODAY, scope=SCOPE)


async def test_token_is_replayed_once_after_a_401(sim, dataset) -> None:
    async with client_for(sim) as client:
        known = dataset.claim_numbers(dataset.tins[0])[0]
        assert await client.inquire(dataset.tins[0], "87726", known, scope=SCOPE)
        sim.revoke_tokens()
        assert await client.inquire(dataset.tins[0], "87726", known, scope=SCOPE)
        assert sim.snapshot().requests["token"] == 2


async def test_a_second_401_is_a_configuration_error() -> None:
    def always_401(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("oauthtoken"):
            return httpx.Response(200, json={"access_token": "t", "expires_in": 3600})
        return httpx.Response(401, json={"code": "401", "message": "expired"})

    settings = PayerSettings("http://payer.test", "http://payer.test", "id", "secret")
    client = PayerClient(settings, transport=httpx.MockTransport(always_401))
    with pytest.raises(PayerConfigError, match="refused a freshly issued token twice"):
        await client.inquire("123456789", "87726", "FG00000001", scope=SCOPE)
    await client.aclose()


async def test_bad_credentials_never_leak_the_secret(sim) -> None:
    async with client_for(sim, client_id="x", secret="hunter2-secret") as client:
        with pytest.raises(PayerConfigError) as err:
            await client.inquire("123456789", "87726", "FG00000001", scope=SCOPE)
    assert "hunter2" not in str(err.value) and "CLAIMSOPS_PAYER_CLIENT_SECRET" in str(err.value)


async def test_5xx_is_retried_then_reported(sim, dataset) -> None:
    sim.configure(error_rate_5xx=1.0)
    async with client_for(sim, max_attempts=3) as client:
        with pytest.raises(PayerUnavailable, match="answered 5"):
            await client.inquire(dataset.tins[0], "87726", "FG00000001", scope=SCOPE)
    assert sum(sim.snapshot().outcomes["inquiry"].values()) == 3


async def test_a_429_with_retry_after_pauses_every_caller(sim, dataset) -> None:
    sim.throttle_for(1.0, retry_after=1)
    async with client_for(sim) as client:
        started = time.monotonic()
        results = await asyncio.gather(*(client.inquire(dataset.tins[0], "87726", f"ZZ0000000{i}", scope=SCOPE) for i in range(5)))
        elapsed = time.monotonic() - started
    assert results == [[]] * 5 and elapsed >= 1.0
    throttled = sim.snapshot().outcomes["inquiry"].get("throttled", 0)
    assert 1 <= throttled <= 10  # the pause is shared: callers do not hammer the payer meanwhile


async def test_timeouts_are_retried(sim, dataset) -> None:
    sim.configure(timeout_rate=1.0, timeout_hang_s=1.0)
    async with client_for(sim, timeout=0.2, max_attempts=2) as client:
        with pytest.raises(PayerUnavailable, match="timed out 2 times"):
            await client.inquire(dataset.tins[0], "87726", "FG00000001", scope=SCOPE)


async def test_a_closed_scope_sends_nothing_more(sim, dataset) -> None:
    """A call still waiting for a slot when its job stops never sends its request (the runner
    closes the job's scope before the cancellation reaches every task of the plan)."""
    sim.configure(fixed_latency_s=0.01)
    tin, known = dataset.tins[0], dataset.claim_numbers(dataset.tins[0])[0]
    # two calls a second, one at a time: the others wait for their slot well after the first ends
    client = PayerClient(client_for(sim).settings, limits=LocalLimits(2, 1))
    scope = CallScope()
    async with client:
        first = asyncio.create_task(client.inquire(tin, "87726", known, scope=scope))
        queued = [asyncio.create_task(client.inquire(tin, "87726", known, scope=scope)) for _ in range(3)]
        await first
        sent = sim.snapshot().requests.get("inquiry", 0)
        scope.close()
        for task in queued:
            with pytest.raises(asyncio.CancelledError):
                await task
    assert sent >= 1 and sim.snapshot().requests.get("inquiry", 0) == sent
    assert scope.calls == sent


async def test_the_client_keeps_no_cookies() -> None:
    """The payer authenticates by bearer token: a cookie it sets is neither kept nor sent back."""
    from engine.payer.transport import CookielessClient

    sent: list[str | None] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(request.headers.get("Cookie"))
        return httpx.Response(200, headers={"Set-Cookie": "affinity=node-2; Path=/"}, json={})

    async with CookielessClient(transport=httpx.MockTransport(answer)) as http:
        await http.get("http://payer.test/a")
        await http.get("http://payer.test/b")
        assert not http.cookies
    assert sent == [None, None]
