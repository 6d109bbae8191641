"""The `followup` scenario. (1) Payer calls of a re-check: a file of recent claims is looked
up, the payer's clock moves 10 days, recheck_open_claims' job re-checks the open ones with
their known service dates (window pages) — against the same claims asked claim by claim.
(2) Scale: 100,000 open claims in the claims table (SQLite, and PostgreSQL when configured):
how long selecting a run's due claims into a follow-up job takes, and writing that run's
results with their observations through the workers' write path."""

from __future__ import annotations

import asyncio
import csv
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update

from bench.common import SEED, Outcome, Target
from bench.write import postgres_url, throwaway_schema
from engine.config import Settings
from engine.db import Database
from engine.followup.recheck import create_followup_job
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.jobs.rows import record_results
from engine.models import ClaimObservation, Job, JobRow, TrackedClaim, utcnow
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.results import ClaimResult
from engine.runner import FLUSH_ROWS, run_job
from engine.submit import JobParams, submit_file

DAYS = 10
CALLS_TARGET = 0.3


def age_claims(db: Database, days: int) -> None:
    """As if every observation and claim state were `days` older (the payer's clock moving
    `days` forward, seen from the follow-up)."""
    shift = timedelta(days=days)
    for model, names in ((TrackedClaim, ("first_seen_at", "status_since", "last_observed_at", "next_check_at")),
                         (ClaimObservation, ("observed_at",))):
        with db.write() as session:
            rows = session.execute(select(model.id, *(getattr(model, n) for n in names))).all()
            if rows:
                session.execute(update(model), [
                    {"id": row[0], **{n: (v - shift if v else v) for n, v in zip(names, row[1:], strict=True)}}
                    for row in rows])


def _client(sim: PayerSimulator) -> PayerClient:
    cfg = sim.config
    settings = PayerSettings(sim.url, sim.url, cfg.client_id, cfg.client_secret, timeout_s=5.0)
    return PayerClient(settings, limits=LocalLimits(rate_per_second=1000, concurrency=50))


def _run(db: Database, job_id: int, sim: PayerSimulator, today: date) -> Job:
    async def go() -> None:
        async with _client(sim) as client:
            await run_job(db, job_id, client, owner="bench", lease_seconds=60, max_attempts=3, today=today)

    asyncio.run(go())
    return get_job(db, job_id)


def calls_per_claim(rows: int, work: Path) -> dict[str, Any]:
    today = date.today()
    dataset = Dataset.generate(seed=SEED, today=today, tin_count=3, claims_per_month=300, dense_tin_count=0)
    csv_path = work / "recent.csv"
    # what a billing team re-checks: claims of the last 90 days, without dates in the file
    write_input_csv(dataset, csv_path, rows=rows, tins=3, share_with_dates=0.0, share_outside_window=0.0,
                    share_unknown=0.02, seed=SEED)
    db = Database(f"sqlite:///{work / 'followup.db'}")
    settings = Settings(home=work, payer_url="http://payer.invalid", followup_max_claims=rows)
    try:
        with PayerSimulator(SimConfig(seed=SEED, today=today), dataset=dataset) as sim:
            first = submit_file(db, settings, csv_path, JobParams(today=today), "bench")
            _run(db, first, sim, today)
            age_claims(db, DAYS)
            later = sim.advance_days(DAYS)
            made = create_followup_job(db, settings, requested_by="bench")
            if made.job_id is None:
                raise RuntimeError("no open claims were due")
            sim.reset_stats()
            follow = _run(db, made.job_id, sim, later)
            requests = sim.snapshot().requests
            with db.read() as session:
                numbers = [(r.claim_number, r.tin) for r in session.scalars(
                    select(JobRow).where(JobRow.job_id == made.job_id).order_by(JobRow.row_number))]
            one_by_one = work / "one-by-one.csv"
            with open(one_by_one, "w", newline="") as fh:
                writer = csv.writer(fh)
                writer.writerow(["claim_number", "tin"])
                writer.writerows(numbers)
            single = submit_file(db, settings, one_by_one, JobParams(today=later, strategy="individual"), "bench")
            individual = _run(db, single, sim, later)
            correct = sum(dataset.expected_result(n, later).comparable() == r.comparable()
                          for n, r in _results(db, made.job_id))
    finally:
        db.dispose()
    claims = follow.total_rows
    return {
        "rows": rows, "open_claims_rechecked": claims, "followup_calls": follow.payer_calls,
        "followup_pages": requests.get("summary", 0), "followup_inquiries": requests.get("inquiry", 0),
        "calls_per_claim": round(follow.payer_calls / claims, 3),
        "claim_by_claim_calls": individual.payer_calls,
        "claim_by_claim_per_claim": round(individual.payer_calls / claims, 3),
        "ok": follow.status == individual.status == lifecycle.COMPLETED and correct == claims,
    }


def _results(db: Database, job_id: int) -> list[tuple[str, ClaimResult]]:
    from engine.jobs.rows import row_result

    with db.read() as session:
        rows = list(session.scalars(select(JobRow).where(JobRow.job_id == job_id)))
    return [(r.claim_number, row_result(r)) for r in rows]


def scale(url: str, claims: int, cap: int) -> dict[str, Any]:
    """`claims` open claims, a run of `cap` due: select them into a job, write their results."""
    db = Database(url)
    try:
        now = utcnow()
        with db.write() as session:
            job = Job(file_name="seed.csv", status="COMPLETED", start_date=now.date(), end_date=now.date(),
                      tin="123456789", payer_id="87726", submitted_by="bench", warnings=[], extra_columns=[],
                      history=[])
            session.add(job)
            session.flush()
            seed_job = job.id
        started = time.perf_counter()
        for at in range(0, claims, 5000):
            with db.write() as session:
                session.execute(insert(TrackedClaim), [
                    {"payer_id": "87726", "tin": "123456789", "claim_number": f"FU{n:08d}", "state": "open",
                     "status": "In Process", "status_class": "pending", "status_category": "P1", "status_code": "20",
                     "first_service_date": now.date() - timedelta(days=n % 60),
                     "last_service_date": now.date() - timedelta(days=n % 60),
                     "first_seen_at": now - timedelta(days=20), "last_observed_at": now - timedelta(days=3),
                     "status_since": now - timedelta(days=20),
                     # one in (claims / cap) is due now, the others later
                     "next_check_at": now - timedelta(hours=1) if n % max(1, claims // cap) == 0
                     else now + timedelta(days=1 + n % 6),
                     "last_job_id": seed_job, "observations": 1}
                    for n in range(at, min(claims, at + 5000))])
        seed_s = time.perf_counter() - started
        settings = Settings(home=Path("."), followup_max_claims=cap)
        started = time.perf_counter()
        made = create_followup_job(db, settings, requested_by="bench", now=now)
        select_s = time.perf_counter() - started
        if made.job_id is None or lifecycle.claim(db, made.job_id, "bench", 600, 3) is None:
            raise RuntimeError("no follow-up job to write")
        decided = ClaimResult(status="Finalized", status_class="finalized", success=True, status_category="F1",
                              status_code="65")
        results = [(n, decided) for n in range(1, made.claims + 1)]
        started = time.perf_counter()
        written = sum(record_results(db, made.job_id, results[at:at + FLUSH_ROWS], owner="bench", payer_calls=1)
                      for at in range(0, len(results), FLUSH_ROWS))
        write_s = time.perf_counter() - started
        with db.read() as session:
            observed = session.scalar(select(ClaimObservation.id).where(ClaimObservation.job_id == made.job_id)
                                      .order_by(ClaimObservation.id.desc()).limit(1)) is not None
    finally:
        db.dispose()
    return {
        "open_claims": claims, "due": made.claims, "seed_s": round(seed_s, 2), "select_s": round(select_s, 3),
        "write_s": round(write_s, 3), "observations_per_s": round(written / write_s) if write_s else None,
        "ok": made.claims == min(cap, -(-claims // max(1, claims // cap))) and written == made.claims and observed,
    }


def run(quick: bool) -> Outcome:
    rows, claims, cap = (200, 2000, 200) if quick else (2000, 100_000, 5000)
    out = Outcome("followup")
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        calls = calls_per_claim(rows, work)
        out.checks["re-checked results equal the payer's"] = calls.pop("ok")
        out.figures["calls"] = calls
        out.show("open claims re-checked", f"{calls['open_claims_rechecked']:,} of a {rows:,}-row file "
                                           f"of recent claims, {DAYS} days later")
        out.show("follow-up: payer calls per claim", f"{calls['calls_per_claim']:.3f} ({calls['followup_pages']} "
                                                     f"pages, {calls['followup_inquiries']} inquiries)")
        out.show("claim by claim: calls per claim", f"{calls['claim_by_claim_per_claim']:.3f}")
        out.targets.append(Target("follow-up payer calls per claim", calls["calls_per_claim"], CALLS_TARGET))
        backends = {"sqlite": lambda: scale(f"sqlite:///{work / 'scale.db'}", claims, cap)}
        pg = postgres_url()
        if pg:
            def scale_pg() -> dict[str, Any]:
                with throwaway_schema(pg) as url:
                    return scale(url, claims, cap)

            backends["postgresql"] = scale_pg
        for name, measure in backends.items():
            figures = measure()
            out.checks[f"{name}: the due claims selected and observed once"] = figures.pop("ok")
            out.figures[name] = figures
            out.show(f"{name}: select {figures['due']:,} due of {claims:,} open", f"{figures['select_s']:.2f} s")
            out.show(f"{name}: write their results + observations",
                     f"{figures['write_s']:.2f} s ({figures['observations_per_s']:,}/s)")
            out.targets.append(Target(f"{name}: selecting a run's due claims", figures["select_s"], 5.0, unit=" s"))
        if not pg:
            out.show("postgresql", "skipped: no PostgreSQL configured (set CLAIMSOPS_BENCH_DATABASE_URL)")
    return out
