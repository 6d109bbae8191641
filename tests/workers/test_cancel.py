"""Cancellation within a second while every payer call hangs for 30 s — with Redis workers and
in the embedded stack — and a cancelled PENDING job never starts."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bench.common import wait_for
from engine.config import Settings
from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.payersim.csvgen import write_input_csv
from engine.submit import JobParams, submit_file
from tests.workers.conftest import TODAY
from tests.workers.harness import worker_env

REPO = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow


@pytest.fixture(params=["redis", "embedded"])
def mode(request: pytest.FixtureRequest) -> str:
    return request.param


def _start(mode, request, tmp_path, processes, simulator, db_url) -> None:
    broker = ""
    if mode == "redis":
        broker = request.getfixturevalue("redis_server").url
        request.addfinalizer(processes.stop_all)  # the worker stops before its Redis does
    processes.env = worker_env(
        tmp_path, database_url=db_url, broker_url=broker, payer_url=simulator.url,
        client_id=simulator.config.client_id, client_secret=simulator.config.client_secret,
        payer_rate_per_second=20, payer_timeout_seconds=60,
    )
    if mode == "redis":
        processes.spawn("worker", "--concurrency", "1")
    else:
        processes.spawn("up", "--headless", "--concurrency", "1")


def test_cancel_within_a_second_while_calls_hang(mode, request, tmp_path, shared_db, shared_db_url, simulator,
                                                 worker_dataset, processes) -> None:
    csv = tmp_path / "claims.csv"
    write_input_csv(worker_dataset, csv, rows=600, tins=3, seed=9)
    settings = Settings(home=tmp_path, payer_url="http://payer.invalid")
    simulator.configure(fixed_latency_s=0.05)
    _start(mode, request, tmp_path, processes, simulator, shared_db_url)
    running = submit_file(shared_db, settings, csv, JobParams(today=TODAY), "tester")
    queued = submit_file(shared_db, settings, csv, JobParams(today=TODAY), "tester")
    wait_for(lambda: get_job(shared_db, running).done_rows > 50, 60, what="some results", interval=0.1)
    simulator.configure(fixed_latency_s=30.0)  # from now on every payer call hangs
    wait_for(lambda: simulator.snapshot().in_flight > 0, 10, what="calls in flight")
    time.sleep(0.5)
    kept = get_job(shared_db, running).done_rows

    # the queued job is cancelled at once and never starts
    assert lifecycle.cancel(shared_db, queued, "ann") == lifecycle.CANCELLED

    asked = time.monotonic()
    assert lifecycle.cancel(shared_db, running, "ann") == lifecycle.CANCELLING
    wait_for(lambda: lifecycle.status_of(shared_db, running) == lifecycle.CANCELLED, 5, interval=0.02, what="CANCELLED")
    wall = time.monotonic() - asked
    cancelled_at = time.monotonic()

    job = get_job(shared_db, running)
    print(f"{mode}: cancelled in {wall * 1000:.0f} ms wall, {job.cancel_latency_ms} ms recorded")
    assert wall <= 1.0 and job.cancel_latency_ms <= 1000
    assert job.done_rows >= kept > 0  # results already written are kept
    time.sleep(1.5)
    late = [t for t in simulator.snapshot().data_starts if t > cancelled_at]
    assert late == [], f"{len(late)} payer calls started after the job was CANCELLED\n{processes.output()}"
    never = get_job(shared_db, queued)
    assert never.status == lifecycle.CANCELLED and never.started_at is None and never.attempts == 0
    assert not any(h["event"] in ("started", "resumed") for h in never.history)


def test_cancel_wait_returns_once_the_job_is_cancelled(tmp_path, shared_db, shared_db_url, simulator,
                                                       worker_dataset, processes) -> None:
    """`claimsops cancel N --wait --json`, a process of its own, against `claimsops up`'s running
    job whose payer calls all hang: it returns once the job is CANCELLED, with exit 0."""
    csv = tmp_path / "claims.csv"
    write_input_csv(worker_dataset, csv, rows=600, tins=3, seed=9)
    simulator.configure(fixed_latency_s=0.05)
    _start("embedded", None, tmp_path, processes, simulator, shared_db_url)
    job_id = submit_file(shared_db, Settings(home=tmp_path, payer_url="http://payer.invalid"), csv,
                         JobParams(today=TODAY), "tester")
    wait_for(lambda: get_job(shared_db, job_id).done_rows > 50, 60, what="some results", interval=0.1)
    simulator.configure(fixed_latency_s=30.0)
    wait_for(lambda: simulator.snapshot().in_flight > 0, 10, what="calls in flight")
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "console.cli", "cancel", str(job_id), "--wait", "--json"],
                          cwd=REPO, env=processes.env, capture_output=True, text=True, timeout=60)
    wall = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    shown = json.loads(done.stdout)
    assert shown["status"] == shown["stored_status"] == lifecycle.CANCELLED
    assert lifecycle.status_of(shared_db, job_id) == lifecycle.CANCELLED
    assert shown["cancel_latency_ms"] <= 1000
    print(f"cancel --wait returned in {wall:.2f} s (process included)")
    assert wall < 10  # the 1 s figure is the bench's; a loaded CI machine starts a process slowly
