"""The `write` scenario: result rows per second into SQLite and PostgreSQL through the workers'
own write path (`engine.jobs.rows.record_results`: idempotent upserts keyed by job and row, under the
worker's lease, in batches of the runner's size). PostgreSQL is the database named by
CLAIMSOPS_BENCH_DATABASE_URL or CLAIMSOPS_TEST_DATABASE_URL, in a throw-away schema."""

from __future__ import annotations

import csv
import os
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text

from bench.common import SEED, Outcome, Target
from engine.config import Settings
from engine.db import Database, normalise_url
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.jobs.rows import record_results
from engine.payersim.dataset import Dataset
from engine.results import ClaimResult
from engine.runner import FLUSH_ROWS
from engine.submit import JobParams, submit_file

PG_VARIABLES = ("CLAIMSOPS_BENCH_DATABASE_URL", "CLAIMSOPS_TEST_DATABASE_URL")


def postgres_url() -> str:
    return next((os.environ[v] for v in PG_VARIABLES if os.environ.get(v)), "")


@contextmanager
def throwaway_schema(url: str) -> Iterator[str]:
    """A new schema in the PostgreSQL database at `url`, dropped afterwards; yields a URL that uses it."""
    schema = f"bench_{uuid.uuid4().hex[:12]}"
    admin = create_engine(normalise_url(url), isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE SCHEMA "{schema}"'))
        sep = "&" if "?" in url else "?"
        yield f"{normalise_url(url)}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        admin.dispose()


def _results(count: int, today: date) -> list[ClaimResult]:
    """Real-looking results (the simulator's), repeated to `count`."""
    dataset = Dataset.generate(seed=SEED, today=today, tin_count=1, dense_tin_count=0)
    pool = [dataset.expected_result(n) for n in dataset.claim_numbers(dataset.tins[0])[:500]]
    pool.append(ClaimResult.not_found("Claim not found"))
    return [pool[i % len(pool)] for i in range(count)]


def measure(url: str, work: Path, rows: int, today: date) -> dict[str, Any]:
    csv_path = work / f"write-{uuid.uuid4().hex[:6]}.csv"
    with open(csv_path, "w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["claim_number", "tin"])
        writer.writerows([f"WB{i:08d}", "123456789"] for i in range(rows))
    db = Database(url)
    try:
        started = time.perf_counter()
        job_id = submit_file(db, Settings(home=work, payer_url="http://payer.invalid"), csv_path,
                             JobParams(today=today, tin="123456789"), "bench")
        submit_s = time.perf_counter() - started
        if lifecycle.claim(db, job_id, "bench-writer", 600, 3) is None:
            raise RuntimeError("could not claim the job")
        results = list(enumerate(_results(rows, today), start=1))
        written = 0
        started = time.perf_counter()
        for at in range(0, rows, FLUSH_ROWS):
            written += record_results(db, job_id, results[at:at + FLUSH_ROWS], owner="bench-writer",
                                           payer_calls=1)
        write_s = time.perf_counter() - started
        again = record_results(db, job_id, results[:FLUSH_ROWS], owner="bench-writer")  # idempotent
        job = get_job(db, job_id)
    finally:
        db.dispose()
    return {
        "rows": rows, "batch": FLUSH_ROWS, "write_s": round(write_s, 3), "rows_per_s": round(rows / write_s),
        "submit_s": round(submit_s, 3), "submit_rows_per_s": round(rows / submit_s),
        "ok": written == rows == job.done_rows and again == 0,
    }


def run(quick: bool) -> Outcome:
    rows = 2000 if quick else 100_000
    today = date.today()
    out = Outcome("write")
    out.show("write path", f"engine.jobs.rows.record_results, {FLUSH_ROWS}-row batches, under a lease")
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        backends: dict[str, Any] = {"sqlite": lambda: measure(f"sqlite:///{work / 'write.db'}", work, rows, today)}
        pg = postgres_url()
        if pg:
            def measure_pg() -> dict[str, Any]:
                with throwaway_schema(pg) as url:
                    return measure(url, work, rows, today)

            backends["postgresql"] = measure_pg
        for name, measure_backend in backends.items():
            figures = measure_backend()
            out.figures[name] = figures
            out.checks[f"{name}: every row written once"] = figures.pop("ok")
            out.show(f"{name}: result rows per second", f"{figures['rows_per_s']:,} ({rows:,} rows in "
                                                        f"{figures['write_s']:.2f} s)")
            out.show(f"{name}: submit (rows per second)", f"{figures['submit_rows_per_s']:,} ({rows:,} rows in "
                                                        f"{figures['submit_s']:.2f} s: intake and rows inserted)")
            if name == "sqlite":
                out.targets.append(Target(f"write: submit of a {rows:,}-row file, SQLite", figures["submit_s"], 1.5,
                                          unit=" s"))
    if not pg:
        out.figures["postgresql"] = {"skipped": "no PostgreSQL configured"}
        out.show("postgresql", "skipped: no PostgreSQL configured (set CLAIMSOPS_BENCH_DATABASE_URL)")
    return out
