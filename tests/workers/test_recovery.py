"""Crash recovery: a worker killed with SIGKILL mid-job, three times; the job completes with one
correct result per row, each recovery within the lease time."""

from __future__ import annotations

import time

import pytest

from bench.common import wait_for
from engine.config import Settings
from engine.jobs import lifecycle
from engine.jobs.queries import get_job, rows_page
from engine.jobs.rows import row_result
from engine.payersim.csvgen import write_input_csv
from engine.submit import JobParams, submit_file
from tests.workers.conftest import TODAY
from tests.workers.harness import worker_env

LEASE = 4

pytestmark = pytest.mark.slow


def _submit(db, csv, tmp_path) -> int:
    settings = Settings(home=tmp_path, payer_url="http://payer.invalid")
    return submit_file(db, settings, csv, JobParams(today=TODAY), "tester")


def _assert_correct(db, job_id: int, expected: list) -> None:
    rows = rows_page(db, job_id, limit=100_000)
    assert [r.row_number for r in rows] == list(range(1, len(expected) + 1))
    wrong = [r.row_number for r in rows if row_result(r) is None
             or row_result(r).comparable() != expected[r.row_number - 1].comparable()]
    assert wrong == [], f"{len(wrong)} rows wrong, e.g. row {wrong[0]}"


def _two_workers(tmp_path, processes, shared_db_url, redis_server, simulator, **limits) -> list:
    """Two one-slot Redis workers on the shared database and the simulator."""
    processes.env = worker_env(
        tmp_path, database_url=shared_db_url, broker_url=redis_server.url, payer_url=simulator.url,
        client_id=simulator.config.client_id, client_secret=simulator.config.client_secret, **limits,
    )
    return [processes.spawn("worker", "--concurrency", "1") for _ in range(2)]


def test_sigkill_three_times_then_complete(tmp_path, shared_db, shared_db_url, redis_server, simulator,
                                           worker_dataset, processes) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(worker_dataset, csv, rows=3000, tins=3, seed=8)
    simulator.configure(fixed_latency_s=0.25)
    workers = _two_workers(tmp_path, processes, shared_db_url, redis_server, simulator, lease_seconds=LEASE, payer_rate_per_second=15, payer_concurrency=20)
    job_id = _submit(shared_db, csv, tmp_path)
    recoveries = []
    for _ in range(3):
        owner = wait_for(lambda: get_job(shared_db, job_id).lease_owner, 30, what="a worker to own the job")
        before = get_job(shared_db, job_id).done_rows
        wait_for(lambda b=before: get_job(shared_db, job_id).done_rows > b, 30, what="progress")
        victim = next(p for p in workers if p.poll() is None and f":{p.pid}:" in owner)
        processes.kill(victim)
        killed_at = time.monotonic()
        workers.remove(victim)
        workers.append(processes.spawn("worker", "--concurrency", "1"))

        def taken_over(dead=owner) -> bool:
            job = get_job(shared_db, job_id)
            return job.status == lifecycle.COMPLETED or (job.lease_owner not in (None, dead))

        wait_for(taken_over, LEASE + 30, what="another worker to resume the job")
        recoveries.append(time.monotonic() - killed_at)
        assert get_job(shared_db, job_id).status != lifecycle.FAILED, processes.output()
    wait_for(lambda: lifecycle.status_of(shared_db, job_id) in lifecycle.FINISHED, 120, interval=0.2, what="the job to finish")
    job = get_job(shared_db, job_id)
    assert job.status == lifecycle.COMPLETED, (job.failure_reason, processes.output())
    assert job.done_rows == job.total_rows == 3000
    _assert_correct(shared_db, job_id, expected)
    print(f"recoveries after SIGKILL: {[round(r, 2) for r in recoveries]} s (lease {LEASE} s)")
    assert max(recoveries) <= LEASE + 5, recoveries
    assert job.attempts == 4


def test_sigterm_hands_the_job_over_at_once(tmp_path, shared_db, shared_db_url, redis_server, simulator,
                                            worker_dataset, processes) -> None:
    csv = tmp_path / "claims.csv"
    expected = write_input_csv(worker_dataset, csv, rows=1500, tins=3, seed=14)
    simulator.configure(fixed_latency_s=0.2)
    workers = _two_workers(tmp_path, processes, shared_db_url, redis_server, simulator, lease_seconds=60, payer_rate_per_second=15)
    job_id = _submit(shared_db, csv, tmp_path)
    owner = wait_for(lambda: get_job(shared_db, job_id).lease_owner, 30, what="a worker to own the job")
    wait_for(lambda: get_job(shared_db, job_id).done_rows > 50, 30, what="progress")
    holder = next(p for p in workers if f":{p.pid}:" in owner)
    holder.terminate()
    stopped_at = time.monotonic()
    assert holder.wait(20) == 0
    wait_for(lambda: get_job(shared_db, job_id).lease_owner not in (None, owner), 10,
             what="the other worker to resume the job")
    handover = time.monotonic() - stopped_at
    assert handover < 10, "resumed long before the 60 s lease would have expired"
    events = [h["event"] for h in get_job(shared_db, job_id).history]
    assert "released" in events and events[-1] == "resumed"
    wait_for(lambda: lifecycle.status_of(shared_db, job_id) in lifecycle.FINISHED, 120, interval=0.2, what="the job")
    assert lifecycle.status_of(shared_db, job_id) == lifecycle.COMPLETED
    _assert_correct(shared_db, job_id, expected)
