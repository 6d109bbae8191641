"""The `scale` scenario: 1, 2 and 4 `claimsops worker` processes (one job at a time each) on a
private Redis, against a payer whose rate and in-flight limits are far above what four workers
use; the same batch of jobs, queued before the workers start, each time; rows per second for
each, from the first job's start to the last one's end. A CPU profile of every run (the
machine's busy share, CPU seconds of the workers and of this process, which hosts the
simulator) shows what limits the scaling; a second pass at a slower payer (not judged) shows
the workers when the machine's CPU is not the limit."""

from __future__ import annotations

import os
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bench.common import SEED, Outcome, Target, wait_for
from bench.processes import (
    CliProcesses,
    PrivateRedis,
    cpu_seconds,
    machine_busy_seconds,
    redis_available,
    worker_env,
)
from bench.write import postgres_url, throwaway_schema
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
class ScaleConfig:
    workers: tuple[int, ...] = (1, 2, 4)
    jobs: int = 8
    rows: int = 2000
    latency_scale: float = 0.1
    rate_per_second: float = 2000.0  # shared by every worker: more than four of them use
    concurrency: int = 1000
    # One more pass (1 and 4 workers, not judged) at a latency nearer the real one, where a job
    # needs less CPU per second of payer time: what the workers do when CPU is not the limit.
    slower_latency_scale: float | None = 0.3

    @classmethod
    def quick(cls) -> ScaleConfig:
        return cls(workers=(1, 2), jobs=2, rows=300, slower_latency_scale=None)


def run(quick: bool) -> Outcome:
    if not redis_available():
        return Outcome("scale", skipped="redis-server is not installed")
    cfg = ScaleConfig.quick() if quick else ScaleConfig()
    today = date.today()
    dataset = Dataset.generate(seed=SEED, today=today)
    runs: dict[int, dict[str, Any]] = {}
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        csv_path = work / "scale.csv"
        expected = write_input_csv(dataset, csv_path, rows=cfg.rows, tins=3, seed=SEED)
        sim_cfg = SimConfig(seed=SEED, today=today, latency_scale=cfg.latency_scale)
        with PayerSimulator(sim_cfg, dataset=dataset) as sim:
            for count in cfg.workers:
                runs[count] = _one_run(work / f"w{count}", csv_path, sim, cfg, count, today)
            slower: dict[int, dict[str, Any]] = {}
            if cfg.slower_latency_scale:
                sim.configure(latency_scale=cfg.slower_latency_scale)
                for count in (1, max(cfg.workers)):
                    slower[count] = _one_run(work / f"slow{count}", csv_path, sim, cfg, count, today)
    database = "PostgreSQL" if postgres_url() else "SQLite (one shared file)"
    out = _outcome(cfg, runs, database, sum(1 for _ in expected))
    if slower:
        _slower(out, cfg, slower)
    return out


def _slower(out: Outcome, cfg: ScaleConfig, runs: dict[int, dict[str, Any]]) -> None:
    one, most = runs[1], runs[max(runs)]
    ratio = round(most["rows_per_s"] / one["rows_per_s"], 2)
    out.figures["at_latency_x" + f"{cfg.slower_latency_scale:g}"] = {
        "latency_scale": cfg.slower_latency_scale, "vs_1": ratio, **{f"{n}_workers": f for n, f in runs.items()}}
    out.show(f"latency x{cfg.slower_latency_scale:g} (not judged)",
             f"1 worker {one['rows_per_s']:.0f} rows/s (CPU {100 * one['machine_busy_share']:.0f}%), {max(runs)} workers "
             f"{most['rows_per_s']:.0f} rows/s (CPU {100 * most['machine_busy_share']:.0f}%): {ratio:.2f}x")
    for n, f in runs.items():
        out.checks[f"latency x{cfg.slower_latency_scale:g}, {n} workers: every job COMPLETED"] = f["completed"]


def _one_run(work: Path, csv_path: Path, sim: PayerSimulator, cfg: ScaleConfig, count: int, today: date) -> dict:
    work.mkdir()
    with ExitStack() as stack:
        pg = postgres_url()
        url = stack.enter_context(throwaway_schema(pg)) if pg else f"sqlite:///{work / 'scale.db'}"
        db = Database(url)
        stack.callback(db.dispose)
        redis = PrivateRedis(work)
        stack.callback(redis.stop)
        workers = CliProcesses(worker_env(work, database_url=url, broker_url=redis.url, payer_url=sim.url,
                                     payer_client_id=sim.config.client_id, payer_client_secret=sim.config.client_secret,
                                     payer_rate_per_second=cfg.rate_per_second, payer_concurrency=cfg.concurrency), work)
        stack.callback(workers.stop_all)
        settings = Settings(home=work, payer_url=sim.url)
        # Every job is in the queue before the workers start, so the figure is the workers'
        # throughput, not the speed of submitting files one by one (see `write` for that).
        ids = [submit_file(db, settings, csv_path, JobParams(today=today), "bench") for _ in range(cfg.jobs)]
        here_before, (busy_before, total_before) = _own_cpu(), machine_busy_seconds()
        procs = [workers.spawn_worker(concurrency=1) for _ in range(count)]
        cpu_before = {p.pid: cpu_seconds(p.pid) for p in procs}
        at_first_job: dict[int, float] = {}  # pid -> its CPU when it first held a job (its start-up)

        def finished_all() -> bool:
            if len(at_first_job) < len(procs):
                for pid in _holders(db, ids) - at_first_job.keys():
                    if pid in cpu_before:
                        at_first_job[pid] = cpu_seconds(pid)
            return all(lifecycle.status_of(db, i) in lifecycle.FINISHED for i in ids)

        wait_for(finished_all, 900, "the jobs", interval=0.05)
        busy, total = machine_busy_seconds()
        worker_cpu = sum(cpu_seconds(p.pid) - cpu_before[p.pid] for p in procs)
        startup_cpu = sum(at_first_job.get(p.pid, cpu_seconds(p.pid)) - cpu_before[p.pid] for p in procs)
        here_cpu = _own_cpu() - here_before
        finished = [get_job(db, i) for i in ids]
        first_start = min(j.started_at for j in finished if j.started_at)
        # from the first job's start to the last one's end (the database's clock): the workers'
        # own start-up (imports, connecting) is not part of their throughput
        seconds = (max(j.finished_at for j in finished if j.finished_at) - first_start).total_seconds()
    rows = sum(j.done_rows for j in finished)
    timeline = sorted(
        ((j.started_at - first_start).total_seconds(), (j.finished_at - first_start).total_seconds())
        for j in finished if j.started_at and j.finished_at
    )
    return {
        "seconds": round(seconds, 2), "rows": rows, "rows_per_s": round(rows / seconds, 1),
        "completed": all(j.status == lifecycle.COMPLETED for j in finished) and rows == cfg.jobs * cfg.rows,
        "machine_busy_share": round((busy - busy_before) / max(1e-9, total - total_before), 3),
        # CPU from the workers' spawn (their start-up included) to the last job's end; the
        # start-up (imports, connecting: to each worker's first job) is left out per job
        "worker_cpu_s": round(worker_cpu, 1), "bench_process_cpu_s": round(here_cpu, 1),
        "worker_startup_cpu_s": round(startup_cpu, 1),
        "worker_cpu_per_job_s": round((worker_cpu - startup_cpu) / cfg.jobs, 2),
        "worker_cpu_per_job_with_startup_s": round(worker_cpu / cfg.jobs, 2),
        # each job's (start, end) in seconds after the first start: how the work overlapped
        "jobs_started_finished_s": [[round(a, 2), round(b, 2)] for a, b in timeline],
        "job_seconds_median": round(sorted(b - a for a, b in timeline)[len(timeline) // 2], 2) if timeline else None,
    }


def _holders(db: Database, ids: list[int]) -> set[int]:
    """The pids of the workers holding one of these jobs now (a lease owner is host:pid:…)."""
    with db.read() as session:
        owners = session.scalars(select(Job.lease_owner).where(Job.id.in_(ids), Job.lease_owner.is_not(None)))
        return {int(owner.split(":")[1]) for owner in owners if owner.count(":") >= 2}


def _own_cpu() -> float:
    times = os.times()
    return times.user + times.system


def _outcome(cfg: ScaleConfig, runs: dict[int, dict[str, Any]], database: str, rows_per_job: int) -> Outcome:
    base = runs[cfg.workers[0]]["rows_per_s"]
    for figures in runs.values():
        figures["vs_1"] = round(figures["rows_per_s"] / base, 2)
    out = Outcome("scale")
    out.figures = {"workers": list(cfg.workers), "jobs": cfg.jobs, "rows_per_job": rows_per_job,
                   "latency_scale": cfg.latency_scale, "payer_rate_per_s": cfg.rate_per_second,
                   "payer_concurrency": cfg.concurrency, "database": database, "cpus": os.cpu_count(),
                   **{f"{n}_workers": f for n, f in runs.items()}}
    out.show("set-up", f"{cfg.jobs} jobs x {cfg.rows} rows, Redis, {database}, payer {cfg.rate_per_second:g}/s "
                       f"and {cfg.concurrency} in flight, latency x{cfg.latency_scale:g}")
    for n, f in runs.items():
        out.show(f"{n} worker{'s' if n > 1 else ''}", f"{f['rows_per_s']:.0f} rows/s ({f['vs_1']:.2f}x) in {f['seconds']:.1f} s; "
                                                      f"CPU busy {100 * f['machine_busy_share']:.0f}% of {os.cpu_count()} "
                                                      f"cores; workers {f['worker_cpu_s']:.0f} s "
                                                      f"({f['worker_cpu_per_job_s']:.2f} s a job), simulator "
                                                      f"{f['bench_process_cpu_s']:.0f} s")
    out.checks = {f"{n} workers: every job COMPLETED": f["completed"] for n, f in runs.items()}
    most = max(cfg.workers)
    if most >= 4:
        out.targets = [
            Target(f"scale: worker CPU for one {rows_per_job:,}-row job (1 worker)",
                   runs[cfg.workers[0]]["worker_cpu_per_job_s"], 0.5, unit=" s"),
            Target(f"scale: {most} workers vs 1", runs[most]["vs_1"], 3, at_most=False, unit="x"),
        ]
    return out
