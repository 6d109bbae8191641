"""The client's answers to payer latency: the limiter's cadence, the latency estimate that decides
when a slow call gets a second copy, the hedging itself against the simulator over loopback, and
the priority gate the planner sends its calls through."""

from __future__ import annotations

import asyncio
import random
import time
from datetime import date

import pytest

from engine.payer.client import NO_HOOKS, CallHooks, CallScope, PayerClient, PayerSettings
from engine.payer.hedging import LatencyTracker
from engine.payer.limits import SPACING_MARGIN, LocalLimits, PriorityGate, SlidingWindowRate
from engine.payersim.config import SimConfig
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator

TODAY = date.today()
HANG_S = 4.0
STALL_SEED = 2  # its draws stall 6 of the first 90 requests, none of the first 20


def test_the_rate_keeps_its_cadence_when_every_start_is_late() -> None:
    """A busy event loop wakes each waiter late; the lateness must not add up start after start."""
    rate, late = SlidingWindowRate(20), 0.3 / 20  # every wake-up 30% of a spacing late
    now, starts = 0.0, []
    while now < 10:
        wait = rate.delay(now)
        if wait == 0:
            starts.append(now)
        else:
            now += wait + late
    achieved = len(starts) / 10
    assert achieved >= 0.97 * 20 / SPACING_MARGIN  # counting from each late start gave 20 / 1.35 = 14.8/s
    assert max(sum(1 for s in starts if t <= s < t + 1) for t in starts) <= 20


def test_the_rate_never_starts_two_calls_closer_than_half_a_spacing() -> None:
    rate = SlidingWindowRate(10)
    assert rate.delay(100.0) == 0
    assert rate.delay(100.0 + rate.spacing * 1.9) == 0  # late: the next start keeps the cadence...
    assert rate.delay(100.0 + rate.spacing * 2.0) > 0  # ...but not closer than half a spacing


def _lognormal_answers(tracker: LatencyTracker, count: int, seed: int = 1) -> list[float]:
    rng, seconds = random.Random(seed), []
    for call in range(count):
        tracker.sent(call)
        seconds.append(rng.lognormvariate(-2.0, 0.5))
        tracker._open[call] -= seconds[-1]  # sent that long ago
        tracker.done(call)
    return sorted(seconds)


def test_hedging_waits_for_the_quantile_and_three_medians() -> None:
    tracker = LatencyTracker(quantile=0.95, min_samples=20)
    assert tracker.hedge_after() is None  # nothing to go by yet
    seconds = _lognormal_answers(tracker, 200)
    median, p95 = seconds[100], seconds[190]
    delay = tracker.hedge_after()
    assert delay is not None
    assert delay >= 3 * median * 0.98
    assert delay == pytest.approx(max(p95, 3 * median), rel=0.1)
    assert LatencyTracker(quantile=0, min_samples=1).hedge_after() is None


def test_calls_still_out_count_as_at_least_this_slow() -> None:
    """Counting only answered calls would see the fast ones first and hedge far too early."""
    answered_only = LatencyTracker(quantile=0.95, min_samples=20)
    _lognormal_answers(answered_only, 40)
    with_slow_calls = LatencyTracker(quantile=0.95, min_samples=20)
    _lognormal_answers(with_slow_calls, 40)
    for call in range(1000, 1010):  # ten calls out for 2 s already
        with_slow_calls.sent(call)
        with_slow_calls._open[call] -= 2.0
    with_slow_calls._events = 10  # recompute now
    assert with_slow_calls.hedge_after() > 1.5 > answered_only.hedge_after()


async def test_priority_gate_serves_lowest_priority_first_and_survives_cancellation() -> None:
    gate, order = PriorityGate(width=1), []

    async def call(priority: tuple[int, int], name: str) -> None:
        async with gate.turn(priority) as sent:
            order.append(name)
            await asyncio.sleep(0.01)
            sent()  # the request left: the next may go to the limits

    async with gate.turn((0, 0)):
        tasks = [asyncio.create_task(call(p, n)) for p, n in
                 [((1, 0), "inquiry"), ((0, 2), "window of group 2"), ((0, 1), "window of group 1")]]
        doomed = asyncio.create_task(call((0, 0), "cancelled"))
        await asyncio.sleep(0.01)
        assert gate.runway() > 0  # calls wait for a turn
        doomed.cancel()
    await asyncio.gather(*tasks)
    assert order == ["window of group 1", "window of group 2", "inquiry"]
    assert gate.runway() == 0
    async with asyncio.timeout(1):  # no turn leaked: the gate still opens at once
        async with gate.turn((5, 5)):
            pass


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(seed=5, today=TODAY)


async def _inquire_all(sim: PayerSimulator, dataset: Dataset, claims: list[str], hedge_quantile: float,
                       hooks: CallHooks = NO_HOOKS, hedged: list[str] | None = None) -> tuple[list[float], int, int]:
    cfg = sim.config
    settings = PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=3 * HANG_S,
                             hedge_quantile=hedge_quantile, hedge_min_samples=10)
    scope = CallScope()
    observer = hedged.append if hedged is not None else None
    async with PayerClient(settings, limits=LocalLimits(400, 20), hedge_observer=observer) as client:
        async def timed(claim: str) -> float:
            started = time.monotonic()
            found = await client.inquire(dataset.tins[0], "87726", claim, scope=scope, hooks=hooks)
            assert found and found[0].claim_number == claim
            return time.monotonic() - started

        durations = await asyncio.gather(*(timed(c) for c in claims))
        return list(durations), client.hedging.hedges, scope.calls


@pytest.fixture
def stalling_sim(dataset):
    """Fast answers, but about one call in 15 stalls for HANG_S (the draws are seeded)."""
    config = SimConfig(seed=STALL_SEED, today=TODAY, latency_scale=0.01, timeout_rate=0.07, timeout_hang_s=HANG_S)
    with PayerSimulator(config, dataset=dataset) as sim:
        yield sim


async def test_a_stalled_call_is_hedged_and_the_first_answer_wins(stalling_sim, dataset) -> None:
    claims = dataset.claim_numbers(dataset.tins[0])[:80]
    hedged: list[str] = []
    durations, hedges, counted = await _inquire_all(stalling_sim, dataset, claims, hedge_quantile=0.95, hedged=hedged)
    snap = stalling_sim.snapshot()
    assert hedges >= 1 and "stalled" in snap.outcomes["inquiry"]
    assert hedged == ["inquiry"] * hedges  # each copy is observed (the metrics count hedged copies)
    # Every stalled call got a copy that answered; only all three copies stalling (about one
    # stalled call in 200) would keep a caller waiting.
    assert sum(1 for d in durations if d >= HANG_S / 2) <= 1
    # every copy that reached the payer is a payer call, counted (a copy still waiting for its
    # slot when the first answer came was never sent)
    assert counted == snap.data_requests and len(claims) < counted <= len(claims) + hedges


async def test_without_hedging_or_when_the_planner_declines_a_stall_is_waited_out(stalling_sim, dataset) -> None:
    claims = dataset.claim_numbers(dataset.tins[0])[:80]
    durations, hedges, _ = await _inquire_all(stalling_sim, dataset, claims, hedge_quantile=0)
    assert hedges == 0 and max(durations) >= HANG_S  # the seeded draw stalls some of these calls
    stalling_sim.configure(seed=STALL_SEED)  # the same stalls again
    durations, hedges, _ = await _inquire_all(stalling_sim, dataset, claims, hedge_quantile=0.95,
                                              hooks=CallHooks(may_hedge=lambda seconds: False))
    assert hedges == 0 and max(durations) >= HANG_S


async def test_connections_are_reused_and_every_one_is_released(dataset) -> None:
    from engine.payer.transport import PooledTransport

    transport = PooledTransport(max_connections=40, max_keepalive=20)
    pool = transport.pool
    config = SimConfig(seed=5, today=TODAY, fixed_latency_s=0.2)
    with PayerSimulator(config, dataset=dataset) as sim:
        settings = PayerSettings(sim.url, sim.url, config.client_id, config.client_secret, timeout_s=5)
        async with PayerClient(settings, limits=LocalLimits(1000, 40), transport=transport) as client:
            claims = dataset.claim_numbers(dataset.tins[0])[:40]
            scope = CallScope()
            found = await asyncio.gather(*(client.inquire(dataset.tins[0], "87726", c, scope=scope) for c in claims))
            assert [f[0].claim_number for f in found] == claims
            assert sim.snapshot().peak_in_flight > 16  # many connections at once
            assert pool.busy == 0 and pool.open <= 21  # 40 opened (and the token's); 20 kept idle
            kept = pool.open
            await asyncio.gather(*(client.inquire(dataset.tins[0], "87726", c, scope=scope) for c in claims[:10]))
            assert pool.busy == 0 and pool.open == kept  # the idle ones served them: none opened
            sim.configure(fixed_latency_s=5.0)
            call = asyncio.create_task(client.inquire(dataset.tins[0], "87726", claims[0], scope=scope))
            await asyncio.sleep(0.3)
            assert pool.busy == 1
            call.cancel()  # abandoned mid-request: its connection is closed and counted out
            await asyncio.gather(call, return_exceptions=True)
            assert pool.busy == 0 and pool.open == kept - 1


async def test_requests_wait_for_a_free_connection_when_all_are_taken(dataset) -> None:
    from engine.payer.transport import PooledTransport

    transport = PooledTransport(max_connections=3, max_keepalive=3)
    config = SimConfig(seed=5, today=TODAY, fixed_latency_s=0.1)
    with PayerSimulator(config, dataset=dataset) as sim:
        settings = PayerSettings(sim.url, sim.url, config.client_id, config.client_secret, timeout_s=5)
        async with PayerClient(settings, limits=LocalLimits(1000, 40), transport=transport) as client:
            claims = dataset.claim_numbers(dataset.tins[0])[:12]
            found = await asyncio.gather(*(client.inquire(dataset.tins[0], "87726", c, scope=CallScope())
                                           for c in claims))
            assert [f[0].claim_number for f in found] == claims
            assert sim.snapshot().peak_in_flight <= 3
            assert transport.pool.busy == 0 and transport.pool.open <= 3
