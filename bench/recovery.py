"""The `recovery` scenario: `claimsops worker` processes on a private Redis; the worker running a
job is killed with SIGKILL mid-job (three times; once with --quick). Measured: from the kill to
another worker holding the job, and to its first new result; then the job must complete with
exactly one correct result per row."""

from __future__ import annotations

import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from bench.common import SEED, Outcome, Target, correct_rows, wait_for
from bench.processes import CliProcesses, PrivateRedis, redis_available, worker_env
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.models import Job
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.submit import JobParams, submit_file


@dataclass(frozen=True)
class RecoveryConfig:
    kills: int = 3
    lease_seconds: int = 10
    rows: int = 3000
    rate_per_second: float = 10.0  # slow enough that the job outlives the kills

    @classmethod
    def quick(cls) -> RecoveryConfig:
        return cls(kills=1, lease_seconds=4, rows=400, rate_per_second=20.0)


def run(quick: bool) -> Outcome:
    if not redis_available():
        return Outcome("recovery", skipped="redis-server is not installed")
    cfg = RecoveryConfig.quick() if quick else RecoveryConfig()
    today = date.today()
    dataset = Dataset.generate(seed=SEED, today=today)
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "claims.csv"
        expected = write_input_csv(dataset, csv_path, rows=cfg.rows, tins=3, seed=SEED)
        url = f"sqlite:///{work / 'shared.db'}"
        db = Database(url)
        redis = PrivateRedis(work)
        sim = PayerSimulator(SimConfig(seed=SEED, today=today, fixed_latency_s=0.25), dataset=dataset).start()
        workers = CliProcesses(worker_env(work, database_url=url, broker_url=redis.url, payer_url=sim.url,
                                     payer_client_id=sim.config.client_id,
                                     payer_client_secret=sim.config.client_secret, lease_seconds=cfg.lease_seconds,
                                     payer_rate_per_second=cfg.rate_per_second, payer_concurrency=20), work)
        try:
            for _ in range(2):
                workers.spawn_worker()
            job_id = submit_file(db, Settings(home=work, payer_url=sim.url), csv_path, JobParams(today=today), "bench")
            takeovers, resumes = [], []
            for _ in range(cfg.kills):
                takeover, resume = _kill_and_recover(db, job_id, workers, cfg.lease_seconds)
                takeovers.append(takeover)
                resumes.append(resume)
            wait_for(lambda: lifecycle.status_of(db, job_id) in lifecycle.FINISHED, 300, "the job to finish", interval=0.2)
            job = get_job(db, job_id)
            correct, rows = correct_rows(db, job_id, expected)
            failure = job.failure_reason or (workers.output(600) if job.status != lifecycle.COMPLETED else "")
        finally:
            workers.stop_all()
            sim.stop()
            redis.stop()
            db.dispose()
    return _outcome(cfg, takeovers, resumes, job, correct, rows, failure)


def _kill_and_recover(db: Database, job_id: int, workers: CliProcesses, lease: int) -> tuple[float, float]:
    """Kill the job's worker once it has made progress; start a replacement; return (seconds to
    another worker's lease, seconds to the job's first new result)."""
    owner = wait_for(lambda: get_job(db, job_id).lease_owner, 60, "a worker to take the job")
    before = get_job(db, job_id).done_rows
    wait_for(lambda: get_job(db, job_id).done_rows > before, 60, "progress")
    victim = next(p for p in workers.alive() if f":{p.pid}:" in owner)
    workers.kill(victim)
    killed_at = time.monotonic()
    progress = get_job(db, job_id).done_rows
    workers.spawn_worker()

    def taken_over() -> bool:
        job = get_job(db, job_id)
        return job.status == lifecycle.COMPLETED or job.lease_owner not in (None, owner)

    wait_for(taken_over, lease + 60, "another worker to resume the job", interval=0.02)
    takeover = time.monotonic() - killed_at
    wait_for(lambda: get_job(db, job_id).done_rows > progress or lifecycle.status_of(db, job_id) in lifecycle.FINISHED,
             60, "the resumed job's first result", interval=0.02)
    return takeover, time.monotonic() - killed_at


def _outcome(cfg: RecoveryConfig, takeovers: list[float], resumes: list[float], job: Job, correct: int,
             rows: int, failure: str) -> Outcome:
    out = Outcome("recovery")
    out.figures = {
        "mode": "2 `claimsops worker` processes on a private Redis, SQLite shared file",
        "kills": cfg.kills, "lease_seconds": cfg.lease_seconds, "rows": cfg.rows,
        "takeover_s": [round(t, 2) for t in takeovers], "first_result_s": [round(t, 2) for t in resumes],
        "job_status": job.status, "attempts": job.attempts, "correct_rows": correct,
    }
    out.show("mode", f"2 worker processes, Redis, lease {cfg.lease_seconds} s, SIGKILL mid-job x{cfg.kills}")
    out.show("SIGKILL -> another worker has the job", ", ".join(f"{t:.1f} s" for t in takeovers))
    out.show("SIGKILL -> next result written", ", ".join(f"{t:.1f} s" for t in resumes))
    out.show("job after the kills", f"{job.status}, attempt {job.attempts}, {correct}/{rows} rows correct")
    out.checks = {
        "job COMPLETED": job.status == lifecycle.COMPLETED,
        "one correct result per row": correct == rows == cfg.rows,
        "every kill counted as an attempt": job.attempts == cfg.kills + 1,
    }
    if failure:
        out.notes.append(failure.strip().splitlines()[-1][:300])
    out.targets = [Target("recovery after SIGKILL", round(max(takeovers), 2), cfg.lease_seconds + 5, unit=" s")]
    return out
