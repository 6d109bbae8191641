"""The follow-up loop against the sandbox payer, in process: submit a file, move the payer's
clock forward, run recheck_open_claims now. Every open claim due is asked again and no closed
one, each change is reported once with its old and new status, and every claim's timeline is
the simulator's history. A follow-up job cancelled, abandoned by a dead worker or hit by a
payer outage loses nothing and records nothing twice. SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import date, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from engine.config import Settings
from engine.db import Database
from engine.followup import queries
from engine.followup.finality import OPEN, is_final_category
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.models import ClaimObservation, Job, JobRow, TrackedClaim, utcnow
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset, lookback_start
from engine.payersim.server import PayerSimulator
from engine.runner import run_job
from engine.submit import JobParams, submit_file
from engine.tasks.execution import run_task

TODAY = date.today()
DAYS = 12


@pytest.fixture(scope="module")
def dataset() -> Dataset:
    return Dataset.generate(seed=21, today=TODAY, tin_count=2, claims_per_month=60, dense_tin_count=0)


def _client(sim: PayerSimulator, concurrency: int = 20, **extra: float) -> PayerClient:
    cfg = sim.config
    settings = PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=2.0, max_attempts=3,
                             backoff_base_s=0.01, backoff_cap_s=0.05, **extra)
    return PayerClient(settings, limits=LocalLimits(rate_per_second=500, concurrency=concurrency))


async def _run(db: Database, job_id: int, client: PayerClient, owner: str = "w1", **kw) -> str:
    outcome = await run_job(db, job_id, client, owner=owner, lease_seconds=30, max_attempts=9,
                            today=TODAY + timedelta(days=DAYS), **kw)
    assert outcome is not None
    return outcome.status


def _age(db: Database, days: int) -> None:
    """As if everything stored happened `days` earlier (the payer's clock moves as much)."""
    shift = timedelta(days=days)
    with db.write() as session:
        for model, names in ((TrackedClaim, ("first_seen_at", "status_since", "last_observed_at", "next_check_at")),
                             (ClaimObservation, ("observed_at",))):
            rows = session.execute(select(model.id, *(getattr(model, n) for n in names))).all()
            session.execute(update(model), [
                {"id": row[0], **{n: (v - shift if v else v) for n, v in zip(names, row[1:], strict=True)}}
                for row in rows])


def _submitted(db: Database, dataset: Dataset, tmp_path: Path) -> tuple[int, list]:
    csv = tmp_path / "claims.csv"
    write_input_csv(dataset, csv, rows=90, tins=2, share_with_dates=0.4, share_unknown=0.06, seed=2)
    settings = Settings(home=tmp_path, payer_url="http://payer.invalid")
    job_id = submit_file(db, settings, csv, JobParams(today=TODAY), "tester")
    with db.read() as session:
        numbers = list(session.scalars(select(JobRow.claim_number).where(JobRow.job_id == job_id)
                                       .order_by(JobRow.row_number)))
    return job_id, numbers


def _followup_job(db: Database) -> int | None:
    with db.read() as session:
        return session.scalar(select(func.max(Job.id)).where(Job.kind == "followup", Job.status == "PENDING"))


def _category(result) -> str:  # noqa: ANN001
    return result.status_category or result.status


async def test_the_follow_up_loop_asks_the_open_claims_and_keeps_the_history(db, dataset, tmp_path) -> None:
    settings = Settings(home=tmp_path)
    with PayerSimulator(SimConfig(seed=21, today=TODAY), dataset=dataset) as sim:
        first, numbers = _submitted(db, dataset, tmp_path)
        async with _client(sim) as client:
            assert await _run(db, first, client) == lifecycle.COMPLETED
            before = {n: dataset.expected_result(n) for n in numbers}
            open_before = {n for n, r in before.items() if not is_final_category(r.status_category, r.status_class)}
            assert 10 < len(open_before) < len(numbers)
            ran = run_task(db, settings, "recheck_open_claims", requested_by="ann")
            assert ran.outcome == "ok" and ran.summary == "no open claims due to re-check"  # asked today already

            _age(db, DAYS)
            sim.advance_days(DAYS)
            sim.reset_stats()
            ran = run_task(db, settings, "recheck_open_claims", requested_by="ann")
            follow = _followup_job(db)
            assert ran.outcome == "ok" and ran.summary.startswith(f"follow-up job {follow}: {len(open_before)} open")
            job = get_job(db, follow)
            assert job.kind == "followup" and job.total_rows == len(open_before)
            with db.read() as session:
                asked = set(session.scalars(select(JobRow.claim_number).where(JobRow.job_id == follow)))
            assert asked == open_before  # every open claim due, no closed one
            assert await _run(db, follow, client) == lifecycle.COMPLETED
            calls = sim.snapshot().requests
        after = {n: dataset.expected_result(n, TODAY + timedelta(days=DAYS)) for n in open_before}

    job = get_job(db, follow)
    known = {n for n in open_before if before[n].success}
    oldest = lookback_start(TODAY + timedelta(days=DAYS))  # older claims left the window searches' reach
    beyond = {n for n in known if before[n].first_service_date < oldest + timedelta(days=3)}
    assert job.found_rows == len(known) and calls.get("inquiry", 0) <= len(open_before) - len(known) + len(beyond)
    assert job.payer_calls < len(open_before)  # window pages of the claims' own dates, not one call each
    changed = {n for n in open_before if _category(before[n]) != _category(after[n])}
    assert changed  # the payer decided some of them in the meantime
    reported = [(c.claim_number, c.old_status_category, c.new_status_category, c.job_id)
                for c in queries.changes_page(db, limit=1000)]
    assert sorted(reported) == sorted((n, before[n].status_category, after[n].status_category, follow)
                                      for n in changed)
    for number in numbers:
        steps = [(o.status, o.status_category, o.total_paid, o.adjudication_codes, o.job_id)
                 for o in queries.timeline(db, number)]
        truth = [(before[number].status, before[number].status_category, before[number].total_paid,
                  before[number].adjudication_codes, first)]
        if number in open_before:
            a = after[number]
            truth.append((a.status, a.status_category, a.total_paid, a.adjudication_codes, follow))
        assert steps == truth, number
    still_open = {n for n in open_before if not is_final_category(after[n].status_category, after[n].status_class)}
    assert {c.claim_number for c in queries.claims_page(db, limit=1000)} == still_open
    assert all(c.state == OPEN for c in queries.claims_page(db, limit=1000))
    again = run_task(db, settings, "recheck_open_claims")
    assert again.summary == "no open claims due to re-check"  # asked today: next in 1-7 days


async def test_a_follow_up_job_cancelled_abandoned_and_hit_by_an_outage_records_each_row_once(
        db, dataset, tmp_path) -> None:
    settings = Settings(home=tmp_path)
    with PayerSimulator(SimConfig(seed=21, today=TODAY), dataset=dataset) as sim:
        first, _ = _submitted(db, dataset, tmp_path)
        async with _client(sim) as client:
            assert await _run(db, first, client) == lifecycle.COMPLETED
        _age(db, DAYS)
        sim.advance_days(DAYS)
        run_task(db, settings, "recheck_open_claims")
        follow = _followup_job(db)
        total = get_job(db, follow).total_rows
        sim.configure(fixed_latency_s=0.03)

        async def until_some_rows() -> None:
            while get_job(db, follow).done_rows == 0:
                await asyncio.sleep(0.02)

        async with _client(sim, concurrency=1) as client:  # cancelled part way
            running = asyncio.create_task(_run(db, follow, client))
            await until_some_rows()
            lifecycle.cancel(db, follow, "ann")
            assert await running == lifecycle.CANCELLED
        kept = get_job(db, follow).done_rows
        assert 0 < kept < total and _observations(db, follow) == _observable_rows(db, follow)

        lifecycle.retry(db, follow, "ann")
        sim.configure(fixed_latency_s=0.3)  # slow enough that the job is still running at its first flush
        async with _client(sim, concurrency=1) as client:  # the worker dies part way: its lease lapses
            running = asyncio.create_task(_run(db, follow, client, owner="dead"))
            while get_job(db, follow).done_rows == kept:
                await asyncio.sleep(0.02)
            dying = asyncio.all_tasks() - {asyncio.current_task()}  # the job's and its plan's: all at once
            for task in dying:
                task.cancel()
            await asyncio.gather(*dying, return_exceptions=True)
        assert lifecycle.status_of(db, follow) == lifecycle.PROCESSING  # it died part way, holding the job
        with db.write() as session:
            session.execute(update(Job).where(Job.id == follow).values(lease_expires_at=utcnow() - timedelta(seconds=1)))

        sim.configure(down=True, fixed_latency_s=None)  # the next worker finds the payer down
        async with _client(sim, outage_s=0.5) as client:
            assert await _run(db, follow, client, owner="w2") == lifecycle.FAILED
        job = get_job(db, follow)
        assert job.error_rows > 0 and _observations(db, follow) == _observable_rows(db, follow)

        sim.configure(down=False)
        lifecycle.retry(db, follow, "ann", errors=True)
        async with _client(sim) as client:
            assert await _run(db, follow, client, owner="w3") == lifecycle.COMPLETED
    job = get_job(db, follow)
    assert job.done_rows == total and job.error_rows == 0
    assert _observations(db, follow) == _observable_rows(db, follow) == total
    with db.read() as session:  # one change at most per claim, however often its rows were written
        per_claim = session.execute(select(ClaimObservation.claim_id, func.count()).where(
            ClaimObservation.changed.is_(True)).group_by(ClaimObservation.claim_id)).all()
    assert per_claim and all(n == 1 for _, n in per_claim)


def _observations(db: Database, job_id: int) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(ClaimObservation)
                              .where(ClaimObservation.job_id == job_id))


def _observable_rows(db: Database, job_id: int) -> int:
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(JobRow).where(
            JobRow.job_id == job_id, JobRow.status.is_not(None), JobRow.status != "Error"))
