"""The `cancel` scenario: 20 cancels of running jobs while every payer call hangs, in the embedded
mode (an in-process `WorkerStack`: Dramatiq StubBroker, worker threads, dispatcher, SQLite), as
`claimsops up` runs it. Latency from the command (`engine.jobs.lifecycle.cancel`) to CANCELLED: wall time
seen by polling the database every 5 ms, and the latency the system itself records."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.common import SEED, Outcome, Target, percentile, wait_for
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.sandbox import payer_settings
from engine.submit import JobParams, submit_file

HANG_S = 30.0  # every payer call hangs this long once the job is running
LATE_CALL_WINDOW_S = 0.3  # after CANCELLED: no payer call of the job may start in this window


@dataclass(frozen=True)
class Cancelled:
    wall_s: float
    recorded_ms: int | None
    kept: bool  # the results written before the cancel are still there
    late_calls: int  # payer calls started after CANCELLED


def run(quick: bool) -> Outcome:
    count = 3 if quick else 20
    today = date.today()
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'claimsops.db'}"
        db = Database(url)
        with embedded_stack(db, work, url, today) as (settings, sim, csv_path):
            results = [_one_cancel(db, settings, sim, csv_path, today) for _ in range(count)]
        db.dispose()
    return _outcome(results)


@contextmanager
def embedded_stack(db: Database, work: Path, url: str, today: date) -> Iterator[tuple[Settings, PayerSimulator, Path]]:
    """The simulator and an in-process worker stack (1 job slot) on `db`, and a 600-row file
    to submit: (settings, simulator, file)."""
    dataset = Dataset.generate(seed=SEED, today=today)
    csv_path = work / "claims.csv"
    write_input_csv(dataset, csv_path, rows=600, tins=3, seed=SEED)
    with PayerSimulator(SimConfig(seed=SEED, today=today, fixed_latency_s=0.02), dataset=dataset) as sim:
        settings = Settings(home=work / "home", database_url=url, payer_url=sim.url,
                            payer_client_id=sim.config.client_id, payer_client_secret=sim.config.client_secret,
                            payer_rate_per_second=50, payer_concurrency=20, payer_timeout_seconds=60)
        from workers.stack import WorkerStack

        stack = WorkerStack(settings, db, payer_settings(settings), concurrency=1, kind="bench").start()
        try:
            yield settings, sim, csv_path
        finally:
            stack.stop(timeout=5)


def hanging_job(db: Database, settings: Settings, sim: PayerSimulator, csv_path: Path, today: date) -> tuple[int, int]:
    """A job submitted, running and writing results, then every payer call hangs: (its id, the
    rows it had written)."""
    sim.configure(fixed_latency_s=0.02)
    job_id = submit_file(db, settings, csv_path, JobParams(today=today), "bench")
    wait_for(lambda: get_job(db, job_id).done_rows > 20, 60, "the job to write results")
    sim.configure(fixed_latency_s=HANG_S)  # from now on every payer call hangs
    wait_for(lambda: sim.snapshot().in_flight > 0, 10, "payer calls in flight")
    time.sleep(0.3)  # the calls in flight now all hang
    return job_id, get_job(db, job_id).done_rows


def _one_cancel(db: Database, settings: Settings, sim: PayerSimulator, csv_path: Path, today: date) -> Cancelled:
    job_id, kept = hanging_job(db, settings, sim, csv_path, today)
    asked = time.monotonic()
    if lifecycle.cancel(db, job_id, "bench") != lifecycle.CANCELLING:
        raise RuntimeError(f"job {job_id} was not running when cancelled")
    wait_for(lambda: lifecycle.status_of(db, job_id) == lifecycle.CANCELLED, 10, "CANCELLED", interval=0.005)
    wall = time.monotonic() - asked
    done_at = time.monotonic()
    time.sleep(LATE_CALL_WINDOW_S)
    late = sum(1 for t in sim.snapshot().data_starts if t > done_at)
    job = get_job(db, job_id)
    return Cancelled(wall, job.cancel_latency_ms, job.done_rows >= kept > 0, late)


def _outcome(results: list[Cancelled]) -> Outcome:
    walls = [r.wall_s * 1000 for r in results]
    recorded = [r.recorded_ms for r in results if r.recorded_ms is not None]
    out = Outcome("cancel")
    out.figures = {
        "mode": "embedded: in-process WorkerStack (StubBroker, 1 job slot), SQLite",
        "cancels": len(results), "payer_call_hang_s": HANG_S,
        "wall_ms": {"p50": round(percentile(walls, 50)), "max": round(max(walls))},
        "recorded_ms": {"p50": percentile(recorded, 50), "max": max(recorded)} if recorded else None,
        "late_payer_calls": sum(r.late_calls for r in results),
    }
    out.show("mode", f"embedded (in-process stack, StubBroker), {len(results)} cancels, payer calls hang {HANG_S:g} s")
    out.show("command -> CANCELLED, wall (p50 / max)", f"{percentile(walls, 50):.0f} ms / {max(walls):.0f} ms")
    if recorded:
        out.show("recorded cancel_latency_ms (p50 / max)", f"{percentile(recorded, 50)} ms / {max(recorded)} ms")
    out.checks = {
        "every job CANCELLED with its latency recorded": len(recorded) == len(results),
        "results written before the cancel kept": all(r.kept for r in results),
        f"no payer call started within {LATE_CALL_WINDOW_S:g} s after CANCELLED": not any(r.late_calls for r in results),
    }
    worst = max(max(walls), max(recorded, default=0))
    out.targets = [Target("cancel: max latency", round(worst / 1000, 3), 1.0, unit=" s")]
    return out
