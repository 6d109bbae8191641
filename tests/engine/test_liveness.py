"""Stalled and unattended jobs, derived from leases and heartbeats alone (SQLite and
PostgreSQL), and the health check that names them."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import update

from engine import health
from engine.db import Database
from engine.jobs.liveness import STALLED, liveness_of, stalled_jobs
from engine.jobs.queries import get_job
from engine.models import Job, Worker, utcnow
from tests.fixtures.jobs import make_job


def _worker(db: Database, worker_id: str, *, seen_ago: float, stopped: bool = False) -> None:
    seen = utcnow() - timedelta(seconds=seen_ago)
    with db.write() as session:
        session.add(Worker(id=worker_id, host="h", pid=1, started_at=seen, last_seen_at=seen,
                           stopped_at=seen if stopped else None))


def _lease(db: Database, job_id: int, owner: str | None, *, expires_in: float | None) -> None:
    expires = utcnow() + timedelta(seconds=expires_in) if expires_in is not None else None
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_owner=owner, lease_expires_at=expires))


def _live(db: Database, job_id: int):
    return liveness_of(db, [get_job(db, job_id)])[job_id]


def test_a_held_lease_is_attended(db) -> None:
    job_id = make_job(db, status="PROCESSING")
    live = _live(db, job_id)
    assert not live.stalled and live.status("PROCESSING") == "PROCESSING" and live.note() == ""


def test_a_lapsed_lease_whose_worker_is_gone_is_stalled_since_its_last_beat(db) -> None:
    job_id = make_job(db, status="PROCESSING")
    _worker(db, "w1", seen_ago=600)
    _lease(db, job_id, "w1", expires_in=-570)
    live = _live(db, job_id)
    assert live.stalled and live.status("PROCESSING") == STALLED
    assert abs((live.since - (utcnow() - timedelta(seconds=600))).total_seconds()) < 5
    assert live.note("09:14 UTC") == "no worker since 09:14 UTC"


def test_a_stopped_worker_counts_as_gone(db) -> None:
    job_id = make_job(db, status="CANCELLING")
    _worker(db, "w1", seen_ago=1, stopped=True)
    _lease(db, job_id, "w1", expires_in=-1)
    assert _live(db, job_id).stalled


def test_a_lapsed_lease_whose_worker_still_beats_is_not_stalled(db) -> None:
    job_id = make_job(db, status="PROCESSING")
    _worker(db, "w1", seen_ago=2)
    _lease(db, job_id, "w1", expires_in=-1)
    assert not _live(db, job_id).stalled


def test_a_released_job_with_no_worker_is_stalled_since_its_last_progress(db) -> None:
    job_id = make_job(db, status="PROCESSING")
    _lease(db, job_id, None, expires_in=None)  # what a graceful stop leaves
    live = _live(db, job_id)
    assert live.stalled and live.since == get_job(db, job_id).updated_at


def test_pending_is_unattended_only_while_no_worker_is_alive(db) -> None:
    job_id = make_job(db)
    live = _live(db, job_id)
    assert live.unattended and live.note() == "queued — no worker running" and live.status("PENDING") == "PENDING"
    _worker(db, "w2", seen_ago=1)
    assert not _live(db, job_id).unattended


def test_finished_jobs_are_never_stalled(db) -> None:
    job_id = make_job(db, status="COMPLETED")
    assert not _live(db, job_id).stalled and not _live(db, job_id).unattended


def test_stalled_jobs_and_the_progress_check(db) -> None:
    assert health.check_progress(db).state == health.OK
    running = make_job(db, status="PROCESSING")
    stuck = [make_job(db, status="PROCESSING") for _ in range(2)]
    for job_id in stuck:
        _lease(db, job_id, "gone", expires_in=-60)
    stalled, pending, alive = stalled_jobs(db)
    assert [j.id for j, _ in stalled] == sorted(stuck, reverse=True) and pending == 0 and not alive
    assert running not in [j.id for j, _ in stalled]
    check = health.check_progress(db)
    assert check.state == health.DEGRADED
    assert check.detail.startswith(f"jobs {stuck[1]}, {stuck[0]} stalled")
    assert "start `claimsops up` or `claimsops worker`" in check.detail


def test_queued_with_no_worker_is_degraded(db) -> None:
    make_job(db)
    check = health.check_progress(db)
    assert check.state == health.DEGRADED
    assert check.detail == "1 job is queued and no worker is running: start `claimsops up` or `claimsops worker`"
    _worker(db, "w3", seen_ago=1)
    assert health.check_progress(db) == health.CheckResult("progress", health.OK, "no stalled jobs; 1 queued")
