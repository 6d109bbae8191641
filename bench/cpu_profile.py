"""Where a worker's CPU goes for one job of the `scale` scenario: `python -m bench.cpu_profile`.

Not a scenario of `claimsops bench` (it judges nothing): a tool for the CPU per job. Jobs of the
scale file (2,000 rows, 3 TINs) run one after another through the worker's own path (the
process's `WorkerRuntime`: its payer client, Redis limits on a private redis-server, metrics
buffer, the database log handler; `engine.runner.run_job`), against the simulator at latency
x 0.1 in a process of its own, so that this process's CPU is the worker's alone. Each job
prints its CPU (the event-loop thread and the threads running its SQL) and whether every row
is right; with `--profile FILE` the last job runs under cProfile (thread CPU clock, in the loop
thread and in the SQL threads) and a table of where its CPU went follows. The first job pays
for connecting (payer, Redis, database) and for SQLAlchemy's statement cache: read the later
ones for a worker's steady state.
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import cProfile
import multiprocessing
import os
import pstats
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from datetime import date
from multiprocessing.connection import Connection
from pathlib import Path

from bench.common import SEED, correct_rows
from bench.processes import PrivateRedis
from bench.write import throwaway_schema
from engine.config import Settings
from engine.db import Database
from engine.logsink import setup_logging
from engine.payersim.config import SimConfig
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.runner import RunOutcome, run_job
from engine.sandbox import payer_settings
from engine.submit import JobParams, submit_file
from workers.runtime import WorkerRuntime

PROFILES: list[cProfile.Profile] = []  # one per SQL thread of the profiled job


def _simulator(conn: Connection, today: date, latency_scale: float) -> None:
    dataset = Dataset.generate(seed=SEED, today=today)
    with PayerSimulator(SimConfig(seed=SEED, today=today, latency_scale=latency_scale), dataset=dataset) as sim:
        conn.send((sim.url, sim.config.client_id, sim.config.client_secret))
        conn.recv()  # until the parent is done


def _thread_cpu() -> dict[int, float]:
    """CPU seconds of every thread of this process, by thread id (from /proc)."""
    out: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for tid in os.listdir("/proc/self/task"):
        try:
            with open(f"/proc/self/task/{tid}/stat") as fh:
                fields = fh.read().rsplit(")", 1)[1].split()
            out[int(tid)] = (int(fields[11]) + int(fields[12])) / tick
        except (OSError, ValueError, IndexError):
            continue
    return out


def _profiled_thread() -> None:
    profile = cProfile.Profile(time.thread_time)
    PROFILES.append(profile)
    profile.enable()


def shares(stats: pstats.Stats) -> list[tuple[str, float]]:
    """(part, CPU seconds) of a job's profile, the parts disjoint, the rest last."""
    def cum(file_end: str, *names: str) -> float:
        return sum(v[3] for (f, _, n), v in stats.stats.items() if f.endswith(file_end) and n in names)  # type: ignore[attr-defined]

    parts = [
        ("HTTP exchange (httpx request: build, pool, httpcore/h11/anyio, body)", cum("httpx/_client.py", "request")),
        ("answers: JSON decode and normalise", cum("engine/payer/wire.py", "summary_result", "inquiry_result")),
        ("result writes (job_rows, observations, claims)", cum("engine/jobs/rows.py", "record_results")),
        ("the job's other SQL (claim, rows, status polls, lease, finish)",
         cum("engine/jobs/lifecycle.py", "claim", "status_of", "renew_lease", "finish", "note_payer_wait")
         + cum("engine/jobs/queries.py", "get_job", "unresolved_rows")),
        ("Redis limits (acquire script, releases)", cum("workers/payer_limits.py", "_acquire_releasing", "flush_releases")),
        ("metrics flush", cum("engine/metrics.py", "flush")),
    ]
    total = stats.total_tt  # type: ignore[attr-defined]
    return [*parts, ("the rest: planner, gate, hedging, tokens, event loop", total - sum(v for _, v in parts))]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.cpu_profile", description=__doc__.split("\n")[0])
    ap.add_argument("--db", choices=("sqlite", "postgresql"), default="sqlite")
    ap.add_argument("--postgres-url", default=os.environ.get("CLAIMSOPS_BENCH_DATABASE_URL")
                    or os.environ.get("CLAIMSOPS_TEST_DATABASE_URL") or "postgresql://postgres@127.0.0.1:5432/test")
    ap.add_argument("--jobs", type=int, default=4)
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--profile", metavar="FILE", help="profile the last job; write its pstats here")
    ap.add_argument("--top", type=int, default=0, help="also print the profile's N costliest functions")
    args = ap.parse_args(argv)
    today = date.today()
    parent, child = multiprocessing.Pipe()
    sim = multiprocessing.get_context("spawn").Process(target=_simulator, args=(child, today, 0.1), daemon=True)
    sim.start()
    url, client_id, secret = parent.recv()
    try:
        with tempfile.TemporaryDirectory(prefix="claimsops-cpu-") as tmp, ExitStack() as stack:
            work = Path(tmp)
            csv_path = work / "scale.csv"
            expected = list(write_input_csv(Dataset.generate(seed=SEED, today=today), csv_path, rows=args.rows,
                                            tins=3, seed=SEED))
            db_url = (stack.enter_context(throwaway_schema(args.postgres_url)) if args.db == "postgresql"
                      else f"sqlite:///{work / 'cpu.db'}")
            db = Database(db_url)
            stack.callback(db.dispose)
            redis = PrivateRedis(work)
            stack.callback(redis.stop)
            settings = Settings(home=work, database_url=db_url, broker_url=redis.url, payer_url=url,
                                payer_client_id=client_id, payer_client_secret=secret,
                                payer_rate_per_second=2000.0, payer_concurrency=1000)
            handler = setup_logging(db, "worker", stderr=False)
            if handler is not None:
                stack.callback(handler.close)
            runtime = WorkerRuntime(settings, db, payer_settings(settings))
            ids = [submit_file(db, settings, csv_path, JobParams(today=today), "bench") for _ in range(args.jobs)]
            _run_jobs(db, runtime, ids, expected, args.profile, args.top)
    finally:
        parent.send("done")
        sim.join(10)
    return 0


def _run_jobs(db: Database, runtime: WorkerRuntime, ids: list[int], expected: list, profile_to: str | None,
              top: int) -> None:
    loop = asyncio.new_event_loop()
    loop_thread = threading.get_native_id()
    steady: list[float] = []
    profile = cProfile.Profile(time.thread_time)
    try:
        for n, job_id in enumerate(ids, start=1):
            profiling = bool(profile_to) and n == len(ids)
            init: Callable[[], None] | None = _profiled_thread if profiling else None
            executor = concurrent.futures.ThreadPoolExecutor(max_workers=min(32, (os.cpu_count() or 1) + 4),
                                                             initializer=init)
            loop.set_default_executor(executor)
            threads_before, cpu_before, started = _thread_cpu(), time.process_time(), time.monotonic()
            if profiling:
                profile.enable()
            outcome = loop.run_until_complete(_one(db, runtime, job_id))
            runtime.metrics.flush()  # type: ignore[union-attr]
            if profiling:
                profile.disable()
            cpu, wall = time.process_time() - cpu_before, time.monotonic() - started
            threads = {t: c - threads_before.get(t, 0.0) for t, c in _thread_cpu().items()}
            executor.shutdown(wait=True)
            correct, rows = correct_rows(db, job_id, expected)
            if n > 1 and not profiling:
                steady.append(cpu)
            print(f"job {n}: {outcome.status if outcome else 'not claimed'}, {correct}/{rows} rows right, "
                  f"{outcome.payer_calls if outcome else 0} payer calls, {wall:.2f} s; CPU {cpu:.3f} s "
                  f"(event loop {threads.get(loop_thread, 0.0):.2f} s, other threads "
                  f"{sum(c for t, c in threads.items() if t != loop_thread):.2f} s)", flush=True)
        client = runtime._client  # noqa: SLF001 - closed here as the worker's shutdown would
        if client is not None:
            loop.run_until_complete(client.aclose())
            loop.run_until_complete(client.limits.aclose())  # type: ignore[attr-defined]
    finally:
        loop.close()
    if steady:
        print(f"CPU per job after the first (unprofiled): mean {sum(steady) / len(steady):.3f} s, "
              f"min {min(steady):.3f} s; load average {os.getloadavg()[0]:.1f}")
    if profile_to:
        stats = pstats.Stats(profile)
        for each in PROFILES:
            each.disable()
            stats.add(each)
        stats.dump_stats(profile_to)
        print(f"last job under cProfile (thread CPU clock: call-heavy code looks dearer than it is), "
              f"{stats.total_tt:.2f} s:")  # type: ignore[attr-defined]
        for name, seconds in shares(stats):
            print(f"  {100 * seconds / stats.total_tt:5.1f}%  {name}")  # type: ignore[attr-defined]
        if top:
            stats.sort_stats("tottime").print_stats(top)


async def _one(db: Database, runtime: WorkerRuntime, job_id: int) -> RunOutcome | None:
    settings = runtime.settings
    return await run_job(db, job_id, runtime.client(), owner=runtime.worker_id,
                         lease_seconds=settings.lease_seconds, max_attempts=settings.max_attempts,
                         metrics=runtime.metrics, stopping=runtime.stopping.is_set)


if __name__ == "__main__":
    raise SystemExit(main())
