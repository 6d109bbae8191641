"""One SQLite file, two worker processes, a reader polling every 200 ms and operators submitting
and cancelling: no "database is locked" ever reaches anyone."""

from __future__ import annotations

import os
import threading
import time

import pytest

from bench.common import wait_for
from engine.audit import audit_page
from engine.config import Settings
from engine.db import BUSY_TIMEOUT_MS, Database
from engine.jobs import lifecycle
from engine.jobs.queries import get_job, jobs_page, rows_page
from engine.logsink import LogFilter, last_lines
from engine.payersim.csvgen import write_input_csv
from engine.submit import JobParams, submit_file
from tests.workers.conftest import TODAY
from tests.workers.harness import worker_env

pytestmark = pytest.mark.slow
SECONDS = float(os.environ.get("CLAIMSOPS_TEST_CONTENTION_SECONDS", "60"))


def test_two_workers_a_reader_and_writers_share_one_sqlite_file(tmp_path, simulator, worker_dataset,
                                                                processes) -> None:
    url = f"sqlite:///{tmp_path / 'shared.db'}"
    db = Database(url)
    csv = tmp_path / "claims.csv"
    write_input_csv(worker_dataset, csv, rows=300, tins=3, seed=13)
    simulator.configure(fixed_latency_s=0.02)
    processes.env = worker_env(
        tmp_path, database_url=url, payer_url=simulator.url, client_id=simulator.config.client_id,
        client_secret=simulator.config.client_secret, payer_rate_per_second=200,
    )
    for _ in range(2):
        processes.spawn("up", "--headless", "--concurrency", "2")
    errors: list[str] = []
    stop = threading.Event()
    cycles: list[float] = []

    def reader() -> None:
        reader_db = Database(url)
        while not stop.wait(0.2):
            started = time.monotonic()
            try:
                for job in jobs_page(reader_db, limit=50):
                    rows_page(reader_db, job.id, limit=20)
                last_lines(reader_db, LogFilter(), 100)
                audit_page(reader_db, limit=20)
                cycles.append(time.monotonic() - started)
            except Exception as exc:  # anything at all is a failure here
                errors.append(f"reader: {exc}")

    thread = threading.Thread(target=reader)
    thread.start()
    settings = Settings(home=tmp_path, payer_url="http://payer.invalid")
    submitted: list[int] = []
    deadline = time.monotonic() + SECONDS
    try:
        while time.monotonic() < deadline:
            try:
                job_id = submit_file(db, settings, csv, JobParams(today=TODAY), "tester")
                submitted.append(job_id)
                if len(submitted) % 4 == 0:
                    time.sleep(0.3)
                    try:
                        lifecycle.cancel(db, job_id, "tester")
                    except lifecycle.IllegalTransition:
                        pass  # it finished first: a legal refusal, not a lock error
            except Exception as exc:
                errors.append(f"writer: {exc}")
            time.sleep(1.0)
    finally:
        stop.set()
        thread.join()
    wait_for(lambda: all(lifecycle.status_of(db, j) in lifecycle.FINISHED for j in submitted), 120, interval=0.5,
             what="every job to finish")
    output = processes.output()
    assert errors == []
    assert "database is locked" not in output.lower()
    assert last_lines(db, LogFilter(text="locked"), 10) == []
    # WAL readers never wait for a writer: a reader stuck behind a lock would sit out the busy
    # timeout (30 s). How many cycles fit in the time depends on the CPU the machine has left.
    assert len(cycles) >= SECONDS / 4, f"{len(cycles)} read cycles in {SECONDS:.0f} s"
    assert max(cycles) < BUSY_TIMEOUT_MS / 1000 / 3, f"longest read cycle {max(cycles):.1f} s"
    finished = [get_job(db, j) for j in submitted]
    assert all(j.status in (lifecycle.COMPLETED, lifecycle.CANCELLED) for j in finished), [j.failure_reason for j in finished]
    assert sum(j.status == lifecycle.COMPLETED for j in finished) >= len(submitted) // 2
    owners = {h.get("by") for j in finished for h in j.history if h["event"] == "started"}
    assert len(owners) == 2, "both worker processes took jobs"
