"""Console benchmark: `python -m bench.console_app [--jobs N] [--logs N] [--metrics N] [--keep DIR]`.

Generates N jobs (default 100,000), N log rows (default 1,000,000) and N payer-call metric rows
(default 10,000,000: a year of history, the last hour at the payer's 50 calls per second) in a
temporary SQLite database (bulk inserts in a child process, so that the measured process holds
only the console; then the metrics' per-minute rollups from engine.rollups.rebuild), runs the console headless at 160×48 and prints one JSON object:

Each time runs to the moment the data has been rendered into the widgets (the screen shows
it on the next frame, within 1/60 s); Textual's own animations are not waited for.

- first_paint_s: from starting the app to the first page of jobs rendered
- switch_to_logs_s / switch_to_jobs_s: a tab key to that tab's fresh data rendered
- next_jobs_page_s: the cursor at the jobs window's last row to the next page added
- jobs_end_s / jobs_home_s: `end` to the oldest job on screen (a page fetched from the list's
  end), then `home` to the newest
- log_filter_*_s: a filter change (level, service, job, rare text) to the filtered lines on screen
- stats_collect_cold_s / stats_collect_s: engine.stats.collect alone, the first call and the
  median of the next five (every figure of the Stats tab)
- switch_to_stats_s: the `3` key to the Stats tab's figures rendered
- stats_refresh_s: a refresh of the Stats tab (fetch and render) while it is shown
- peak_rss_mb: the console process's peak resident memory (ru_maxrss)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import multiprocessing
import random
import resource
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

SQLITE_TIME = "%Y-%m-%d %H:%M:%S.%f"
SERVICES = ("worker", "scheduler", "console", "payer-sim")
LEVELS = (20,) * 80 + (10,) * 10 + (30,) * 7 + (40,) * 3
MESSAGES = (
    "job {job} batch window 2025-07-03..2025-10-01: {n} claims",
    "payer call took {n} ms",
    "claim FG{claim:08d} finalized",
    "claim FG{claim:08d} not found in window; trying claim look-up",
    "lease renewed for job {job}",
    "payer 429: pausing {n} ms",
)


def _chunks(rows: Iterator[tuple[Any, ...]], size: int = 20_000) -> Iterator[list[tuple[Any, ...]]]:
    chunk: list[tuple[Any, ...]] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _job_rows(count: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(7)
    start = now - timedelta(minutes=count)
    for n in range(count):
        created = start + timedelta(minutes=n)
        active = n >= count - 20
        status = ("PROCESSING" if n % 2 else "PENDING") if active else rng.choice(
            ("COMPLETED",) * 17 + ("FAILED", "CANCELLED", "CANCELLED")
        )
        total = rng.randint(1, 5000)
        done = total if status == "COMPLETED" else rng.randint(0, total)
        found = int(done * 0.9)
        started = (created + timedelta(seconds=5)).strftime(SQLITE_TIME) if status != "PENDING" else None
        finished = (created + timedelta(seconds=30 + total // 10)).strftime(SQLITE_TIME) if not active else None
        stamp = created.strftime(SQLITE_TIME)
        yield (
            f"claims-{n:06d}.csv", status, "auto", "2025-07-03", "2025-10-01", "123456789", "87726",
            rng.choice(("alice", "bob", "carol")), "10.0.0.5", stamp, stamp, started, finished,
            total, done, found, done - found, 0, 0, done // 50, "[]", "[]", "[]", 1, 0,
        )


def _log_rows(count: int, jobs: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    rng = random.Random(11)
    start = now - timedelta(seconds=count // 10)
    for n in range(count):
        job = rng.randint(1, jobs) if rng.random() < 0.7 else None
        message = rng.choice(MESSAGES).format(job=job or 0, n=rng.randint(1, 900), claim=rng.randint(1, 10**7))
        yield (
            (start + timedelta(milliseconds=100 * n)).strftime(SQLITE_TIME), SERVICES[n % len(SERVICES)],
            "bench-host", 4242, rng.choice(LEVELS), "claimsops.bench", job, None, message,
        )


BUSY_HOUR_CALLS_PER_S = 50  # the payer's usual concurrency/rate cap (payer-api.md section 5)
OUTCOME_LABELS = ("summary:ok",) * 85 + ("inquiry:ok",) * 8 + ("summary:not_found",) * 3 + (
    "summary:throttled", "summary:payer_error", "summary:timeout", "inquiry:client_error")


def _metric_rows(count: int, jobs: int, now: datetime) -> Iterator[tuple[Any, ...]]:
    """`count` payer calls: the last hour at 50 calls per second, the rest spread evenly over
    the year before it (oldest first, as they would have been written); then one job-duration
    row per job and a rows-done row every 10 s over the last day."""
    rng = random.Random(13)
    busy = min(count, BUSY_HOUR_CALLS_PER_S * 3600)
    older = count - busy
    year = timedelta(days=365).total_seconds()
    hour_ago = now - timedelta(hours=1)
    start = hour_ago - timedelta(seconds=year)
    step = year / older if older else 0.0
    for n in range(older):
        at = start + timedelta(seconds=n * step)
        yield at.strftime(SQLITE_TIME), "payer_call", rng.lognormvariate(-0.4, 0.6), rng.choice(OUTCOME_LABELS)
    for n in range(busy):
        at = hour_ago + timedelta(seconds=n * 3600 / busy)
        yield at.strftime(SQLITE_TIME), "payer_call", rng.lognormvariate(-0.4, 0.6), rng.choice(OUTCOME_LABELS)
    first_job = now - timedelta(minutes=jobs)
    for n in range(jobs):
        at = first_job + timedelta(minutes=n, seconds=40)
        yield at.strftime(SQLITE_TIME), "job_duration", rng.uniform(5, 600), "COMPLETED"
    for n in range(8640):
        at = now - timedelta(days=1) + timedelta(seconds=10 * n)
        yield at.strftime(SQLITE_TIME), "rows_done", float(rng.randint(20, 500)), ""


def generate(path: Path, jobs: int, logs: int, metrics: int = 0) -> dict[str, float]:
    """Create the schema (migrations) and bulk-insert jobs, log rows and metric rows."""
    from engine.db import Database

    Database(f"sqlite:///{path}").dispose()  # migrate
    now = datetime.now(UTC).replace(tzinfo=None)
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=OFF")
    timings: dict[str, float] = {}
    started = time.perf_counter()
    with conn:
        for chunk in _chunks(_job_rows(jobs, now)):
            conn.executemany(
                "INSERT INTO jobs (file_name, status, strategy, start_date, end_date, tin, payer_id, submitted_by,"
                " submitted_from, created_at, updated_at, started_at, finished_at, total_rows, done_rows,"
                " found_rows, not_found_rows, error_rows, invalid_rows, payer_calls, warnings, extra_columns,"
                " history, attempts, retry_errors) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                chunk,
            )
    timings["generate_jobs_s"] = time.perf_counter() - started
    started = time.perf_counter()
    with conn:
        for chunk in _chunks(_log_rows(logs, jobs, now)):
            conn.executemany(
                "INSERT INTO logs (at, service, host, pid, level, logger, job_id, run_id, message)"
                " VALUES (?,?,?,?,?,?,?,?,?)",
                chunk,
            )
    timings["generate_logs_s"] = time.perf_counter() - started
    if metrics:
        started = time.perf_counter()
        with conn:
            for chunk in _chunks(_metric_rows(metrics, jobs, now), size=100_000):
                conn.executemany("INSERT INTO metrics (at, name, value, label) VALUES (?,?,?,?)", chunk)
        timings["generate_metrics_s"] = time.perf_counter() - started
    conn.close()
    if metrics:
        started = time.perf_counter()
        _rollup(path)
        timings["generate_rollups_s"] = time.perf_counter() - started
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return timings


def _rollup(path: Path) -> None:
    """The per-minute rollups the workers' flushes would have written, over the span retention
    keeps them (older ones would have been pruned; the console reads the last hour)."""
    from engine.db import Database
    from engine.rollups import rebuild
    from engine.tasks.retention import ROLLUP_DAYS

    db = Database(f"sqlite:///{path}")
    with db.write() as session:
        rebuild(session.connection(), datetime.now(UTC) - timedelta(days=ROLLUP_DAYS))
    db.dispose()


def _generate_child(path: str, jobs: int, logs: int, metrics: int, out: Any) -> None:
    out.put(generate(Path(path), jobs, logs, metrics))


async def _until(pilot: Any, condition: Callable[[], bool], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise TimeoutError("the console did not reach the expected state")
        await pilot.pause(0.005)


async def measure(path: Path) -> dict[str, float]:
    from console.app import ConsoleApp
    from engine.actions import Operator
    from engine.config import Settings
    from engine.db import Database
    from engine.logsink import LogFilter

    db = Database(f"sqlite:///{path}")
    settings = Settings(home=path.parent, refresh_seconds=1.0)
    app = ConsoleApp(settings, db, Operator("bench", "local", False, "benchmark"))
    out: dict[str, float] = {}
    started = time.perf_counter()
    async with app.run_test(size=(160, 48)) as pilot:
        jobs = app.jobs_view
        await _until(pilot, lambda: bool(jobs.table.order) and not jobs._reload)
        await asyncio.sleep(0)
        out["first_paint_s"] = time.perf_counter() - started
        out["jobs_in_database"] = jobs.total or 0

        table = jobs.table
        edge = table.order[-1]
        started = time.perf_counter()
        app.call_later(table.move_cursor, row=len(table.order) - 1)  # the cursor at the window's last row
        await _until(pilot, lambda: table.order[-1] != edge and table.loading is None)
        await asyncio.sleep(0)
        out["next_jobs_page_s"] = time.perf_counter() - started

        started = time.perf_counter()
        app.call_later(table.action_scroll_bottom)  # `end`: the oldest job, fetched from there
        await _until(pilot, lambda: not table.more_after and table.loading is None and table.cursor_key == "1")
        await asyncio.sleep(0)
        out["jobs_end_s"] = time.perf_counter() - started
        started = time.perf_counter()
        app.call_later(table.action_scroll_top)  # `home`: the newest again
        await _until(pilot, lambda: not table.more_before and table.loading is None and table.cursor_row == 0)
        await asyncio.sleep(0)
        out["jobs_home_s"] = time.perf_counter() - started

        logs = app.logs_view
        started = time.perf_counter()
        app.call_later(app.action_tab, "logs")  # the `2` key
        await _until(pilot, lambda: logs.poller is not None and logs.poller.fetches > 0 and not logs._reload
                     and len(logs.pane.entries) == 100)
        await asyncio.sleep(0)
        out["switch_to_logs_s"] = time.perf_counter() - started

        async def apply(name: str, flt: LogFilter) -> None:
            begun = time.perf_counter()
            logs.set_filter(flt)
            await _until(pilot, lambda: not logs._reload and not logs.poller.in_flight)
            await asyncio.sleep(0)
            out[f"log_filter_{name}_s"] = time.perf_counter() - begun
            out[f"log_filter_{name}_lines"] = len(logs.pane.entries)

        await apply("level_error", replace(logs.flt, level=40))
        await apply("service", replace(logs.flt, level=0, service="scheduler"))
        await apply("job", LogFilter(job_id=4242))
        await apply("rare_text", LogFilter(text="FG99999999"))
        await apply("none", LogFilter())

        logs.set_lines(0)
        await _until(pilot, lambda: not logs._reload and not logs.poller.in_flight)
        out["log_window_all_lines"] = len(logs.pane.entries)

        before = jobs.poller.fetches
        started = time.perf_counter()
        app.call_later(app.action_tab, "jobs")  # the `1` key
        await _until(pilot, lambda: jobs.poller.fetches > before and not jobs.poller.in_flight)
        await asyncio.sleep(0)
        out["switch_to_jobs_s"] = time.perf_counter() - started
    db.dispose()
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return out


async def measure_stats(path: Path) -> dict[str, float]:
    """engine.stats.collect alone, then the Stats tab: switching to it and one refresh."""
    import statistics

    from console.app import ConsoleApp
    from console.app.stats_view import StatsView
    from engine.actions import Operator
    from engine.config import Settings
    from engine.db import Database
    from engine.stats import collect

    db = Database(f"sqlite:///{path}")
    settings = Settings(home=path.parent, refresh_seconds=1.0)
    out: dict[str, float] = {}
    started = time.perf_counter()
    figures = collect(db, settings)
    out["stats_collect_cold_s"] = time.perf_counter() - started
    runs = []
    for _ in range(5):
        started = time.perf_counter()
        collect(db, settings)
        runs.append(time.perf_counter() - started)
    out["stats_collect_s"] = statistics.median(runs)
    out["stats_payer_calls_last_hour"] = sum(figures.calls_by_outcome.values())
    out["stats_jobs_today"] = figures.jobs_today["total"]
    app = ConsoleApp(settings, db, Operator("bench", "local", False, "benchmark"))
    async with app.run_test(size=(160, 48)) as pilot:
        jobs = app.jobs_view
        await _until(pilot, lambda: bool(jobs.table.order) and not jobs._reload)
        view = app.main.query_one(StatsView)
        started = time.perf_counter()
        app.call_later(app.action_tab, "stats")  # the `3` key
        await _until(pilot, lambda: view.stats is not None and view.poller is not None and not view.poller.in_flight)
        await asyncio.sleep(0)
        out["switch_to_stats_s"] = time.perf_counter() - started
        poller = view.poller
        assert poller is not None
        before = poller.fetches
        started = time.perf_counter()
        view.refresh_data()
        await _until(pilot, lambda: poller.fetches > before and not poller.in_flight)
        await asyncio.sleep(0)
        out["stats_refresh_s"] = time.perf_counter() - started
    db.dispose()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.console_app", description=__doc__.splitlines()[0])
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--logs", type=int, default=1_000_000)
    parser.add_argument("--metrics", type=int, default=10_000_000, help="payer-call metric rows (0: no Stats figures)")
    parser.add_argument("--keep", type=Path, help="use (and keep) this directory instead of a temporary one")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        directory = args.keep or Path(tmp)
        directory.mkdir(parents=True, exist_ok=True)
        path = directory / "bench.db"
        result: dict[str, Any] = {"jobs": args.jobs, "logs": args.logs, "metrics": args.metrics}
        if not path.exists():
            ctx = multiprocessing.get_context("spawn")
            queue = ctx.Queue()
            child = ctx.Process(target=_generate_child, args=(str(path), args.jobs, args.logs, args.metrics, queue))
            child.start()
            result.update(queue.get())
            child.join()
        result["db_mb"] = round(path.stat().st_size / 2**20, 1)
        result.update(asyncio.run(measure(path)))
        if args.metrics:
            result.update(asyncio.run(measure_stats(path)))
    print(json.dumps({k: round(v, 3) if isinstance(v, float) else v for k, v in result.items()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
