"""Look-ups end to end over real loopback HTTP against the payer simulator: a 2,000-row file the
simulator wrote, with injected 5xx, timeouts, a 429 burst and short-lived tokens. Every row's
result must equal the simulator's expected result, whatever the strategy or window limit."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest

from engine.claim_lookup import lookup_claim
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job, rows_page
from engine.jobs.rows import row_result
from engine.models import Job
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payer.windows import WindowLimit
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.runner import run_job
from engine.submit import JobParams, submit_file

TODAY = date.today()


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(seed=11, today=TODAY)


def _client(sim: PayerSimulator, timeout: float = 1.0) -> PayerClient:
    cfg = sim.config
    settings = PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=timeout,
                             max_attempts=8, backoff_base_s=0.05, backoff_cap_s=1.0)
    return PayerClient(settings, limits=LocalLimits(rate_per_second=400, concurrency=40))


def _submit(db: Database, csv: Path, strategy: str) -> int:
    settings = Settings(home=csv.parent, payer_url="http://payer.invalid")
    return submit_file(db, settings, csv, JobParams(strategy=strategy, today=TODAY), "tester")


def _results(db: Database, job_id: int) -> dict[int, object]:
    return {r.row_number: row_result(r) for r in rows_page(db, job_id, limit=10_000)}


async def _run(db: Database, job_id: int, client: PayerClient) -> Job:
    outcome = await run_job(db, job_id, client, owner=f"test-{job_id}", lease_seconds=30, max_attempts=3,
                            today=TODAY)
    assert outcome is not None
    return get_job(db, job_id)


def _assert_matches(db: Database, job_id: int, expected: list) -> dict:
    got = _results(db, job_id)
    assert len(got) == len(expected)
    wrong = [n for n, result in got.items() if result is None or result.comparable() != expected[n - 1].comparable()]
    assert wrong == [], f"{len(wrong)} rows differ, first: {got[wrong[0]]} != {expected[wrong[0] - 1]}"
    return got


async def test_auto_and_individual_agree_with_the_truth_under_faults(dataset, sqlite_db, tmp_path) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(dataset, csv, rows=2000, tins=3, share_with_dates=0.4, share_unknown=0.1, seed=3)
    config = SimConfig(seed=11, today=TODAY, error_rate_5xx=0.05, timeout_rate=0.02, timeout_hang_s=2.5,
                       token_lifetime_s=20)
    with PayerSimulator(config, dataset=dataset) as sim:
        auto_id = _submit(sqlite_db, csv, "auto")
        individual_id = _submit(sqlite_db, csv, "individual")
        sim.throttle_for(20)  # a 20 s storm of 429s without Retry-After, from the first call
        client = _client(sim)
        try:
            auto, individual = await asyncio.gather(_run(sqlite_db, auto_id, client), _run(sqlite_db, individual_id, client))
        finally:
            await client.aclose()
        stats = sim.snapshot()
    assert auto.status == individual.status == lifecycle.COMPLETED
    assert auto.done_rows == auto.total_rows == 2000
    seen = {outcome for per_endpoint in stats.outcomes.values() for outcome in per_endpoint}
    assert {"throttled", "error_5xx", "stalled"} <= seen  # the faults really happened
    assert stats.requests["token"] >= 2  # 20 s tokens were renewed during the run
    auto_rows = _assert_matches(sqlite_db, auto_id, expected)
    individual_rows = _assert_matches(sqlite_db, individual_id, expected)
    assert {n: r.comparable() for n, r in auto_rows.items()} == {n: r.comparable() for n, r in individual_rows.items()}
    # batching pays: far fewer calls than one per row
    assert auto.payer_calls < individual.payer_calls / 2
    assert {r.matched_by for r in auto_rows.values() if r.success} >= {"row_dates", "window", "widened_window"}
    assert {r.matched_by for r in individual_rows.values() if r.success} == {"claim_lookup"}


async def test_another_window_limit_needs_no_change(dataset, sqlite_db, tmp_path) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(dataset, csv, rows=2000, tins=3, seed=4)
    config = SimConfig(seed=11, today=TODAY, window_limit_days=60, error_rate_5xx=0.05, timeout_rate=0.02,
                       timeout_hang_s=2.5, token_lifetime_s=20)
    with PayerSimulator(config, dataset=dataset) as sim:
        job_id = _submit(sqlite_db, csv, "auto")
        async with _client(sim) as client:
            job = await _run(sqlite_db, job_id, client)
            limit = client.window_limit
    assert job.status == lifecycle.COMPLETED
    assert limit.settled and limit.guess() == 60
    _assert_matches(sqlite_db, job_id, expected)


async def test_batch_strategy_never_asks_claim_by_claim(dataset, sqlite_db, tmp_path) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(dataset, csv, rows=300, tins=2, share_unknown=0.1, seed=5)
    with PayerSimulator(SimConfig(seed=11, today=TODAY), dataset=dataset) as sim:
        job_id = _submit(sqlite_db, csv, "batch")
        async with _client(sim) as client:
            job = await _run(sqlite_db, job_id, client)
        assert sim.snapshot().requests.get("inquiry", 0) == 0
    got = _results(sqlite_db, job_id)
    for n, result in got.items():
        truth = expected[n - 1]
        if truth.success:
            assert result.comparable() == truth.comparable()
        else:
            assert result.status == "Not Found" and "batch strategy" in result.error_message
    assert job.not_found_rows == sum(not e.success for e in expected)


async def test_bad_credentials_fail_the_job_with_a_clear_reason(dataset, sqlite_db, tmp_path) -> None:
    csv = tmp_path / "claims.csv"
    write_input_csv(dataset, csv, rows=20, tins=1, seed=6)
    with PayerSimulator(SimConfig(seed=11, today=TODAY), dataset=dataset) as sim:
        job_id = _submit(sqlite_db, csv, "auto")
        settings = PayerSettings(sim.url, sim.url, "someone", "wrong-secret", timeout_s=2)
        async with PayerClient(settings, limits=LocalLimits(100, 10)) as client:
            job = await _run(sqlite_db, job_id, client)
    assert job.status == lifecycle.FAILED
    assert "client credentials" in job.failure_reason
    assert "wrong-secret" not in job.failure_reason


async def test_the_window_limit_is_learned_once_with_one_probe_for_every_tin(dataset, sqlite_db, tmp_path,
                                                                             caplog) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(dataset, csv, rows=120, tins=3, seed=9)
    with PayerSimulator(SimConfig(seed=11, today=TODAY), dataset=dataset) as sim:
        job_id = _submit(sqlite_db, csv, "auto")
        async with _client(sim) as client:
            with caplog.at_level("INFO", logger="claimsops.planner"):
                await _run(sqlite_db, job_id, client)
    _assert_matches(sqlite_db, job_id, expected)
    learned = [r.getMessage() for r in caplog.records if "payer accepts windows" in r.getMessage()]
    assert learned == ["payer accepts windows of up to 31 days (learned in 1 call)"]


def test_a_window_limit_handed_from_look_up_to_look_up_is_learned_once(dataset) -> None:
    """Each claim look-up has its own client; the console hands each the limit the earlier ones
    learned, so only the first spends a call on learning it."""
    tin = dataset.tins[0]
    number = next(n for n in dataset.claim_numbers(tin) if dataset.latest(n).first_service >= TODAY - timedelta(days=200))
    served = dataset.latest(number).first_service
    dates = {"start": served - timedelta(days=10), "end": served + timedelta(days=10), "today": TODAY}
    limit = WindowLimit()
    with PayerSimulator(SimConfig(seed=11, today=TODAY), dataset=dataset) as sim:
        cfg = sim.config
        payer = PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=5)
        first = lookup_claim(payer, number, tin=tin, window_limit=limit, **dates)
        again = lookup_claim(payer, number, tin=tin, window_limit=limit, **dates)
        alone = lookup_claim(payer, number, tin=tin, **dates)
    assert first.found and first.result.comparable() == again.result.comparable() == alone.result.comparable()
    assert limit.guess() == 31
    assert again.payer_calls == first.payer_calls - 1 == alone.payer_calls - 1
