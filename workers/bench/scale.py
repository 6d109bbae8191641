"""The `scale` scenario: 1, 2 and 4 worker processes on Redis against a payer that allows more
than one worker can use; rows per second for each."""

from __future__ import annotations

import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from engine import jobs
from engine.config import Settings
from engine.db import Database
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.submit import JobParams, submit_file
from workers.bench.processes import PrivateRedis, spawn_worker, stop_all, worker_env

SEED = 2027


def run_scale(*, workers: tuple[int, ...] = (1, 2, 4), jobs_per_run: int = 4, rows: int = 2000,
              latency_scale: float = 0.1) -> dict[str, Any]:
    today = date.today()
    dataset = Dataset.generate(seed=SEED, today=today)
    results: dict[str, Any] = {"rows_per_job": rows, "jobs": jobs_per_run, "latency_scale": latency_scale}
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        workdir = Path(tmp)
        csv_path = workdir / "scale.csv"
        write_input_csv(dataset, csv_path, rows=rows, tins=3, seed=SEED)
        with PayerSimulator(SimConfig(seed=SEED, today=today, latency_scale=latency_scale), dataset=dataset) as sim:
            for count in workers:
                results[f"{count}_workers"] = _one_run(workdir / f"w{count}", csv_path, sim, count, jobs_per_run, today)
    base = results[f"{workers[0]}_workers"]["rows_per_s"]
    for count in workers:
        results[f"{count}_workers"]["vs_1"] = round(results[f"{count}_workers"]["rows_per_s"] / base, 2)
    return results


def _one_run(workdir: Path, csv_path: Path, sim: PayerSimulator, count: int, job_count: int, today: date) -> dict:
    workdir.mkdir()
    redis = PrivateRedis(workdir)
    url = f"sqlite:///{workdir / 'scale.db'}"
    db = Database(url)
    env = worker_env(workdir, database_url=url, broker_url=redis.url, payer_url=sim.url,
                     payer_client_id=sim.config.client_id, payer_client_secret=sim.config.client_secret,
                     payer_rate_per_second=2000, payer_concurrency=400)
    procs = [spawn_worker(env, workdir, concurrency=1) for _ in range(count)]
    try:
        _wait(lambda: _live(db) >= count, 30)
        settings = Settings(home=workdir, payer_url=sim.url)
        started = time.monotonic()
        ids = [submit_file(db, settings, csv_path, JobParams(today=today), "bench") for _ in range(job_count)]
        _wait(lambda: all(jobs.status_of(db, i) in jobs.FINISHED for i in ids), 600)
        seconds = time.monotonic() - started
        done = sum(jobs.get_job(db, i).done_rows for i in ids)
        ok = all(jobs.status_of(db, i) == jobs.COMPLETED for i in ids)
    finally:
        stop_all(procs)
        redis.stop()
        db.dispose()
    return {"seconds": round(seconds, 2), "rows": done, "rows_per_s": round(done / seconds, 1), "completed": ok}


def _live(db: Database) -> int:
    from engine.workers_registry import count_live

    return count_live(db)


def _wait(condition, timeout: float) -> None:  # noqa: ANN001
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("benchmark step timed out")
        time.sleep(0.1)
