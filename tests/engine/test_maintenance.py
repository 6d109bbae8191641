"""Each maintenance task's effect on real rows (SQLite and PostgreSQL): stuck jobs, sessions,
log and metrics retention."""

from __future__ import annotations

import logging
from datetime import timedelta

from sqlalchemy import func, insert, select, update

from engine import rollups
from engine.jobs.queries import get_job
from engine.metrics import PAYER_CALL, ROWS_DONE, minute_of, write_rows
from engine.models import (
    Command,
    Job,
    LogRecord,
    Metric,
    MetricBucket,
    MetricMinute,
    OperatorSession,
    PayerToken,
    TaskRun,
    Worker,
    utcnow,
)
from engine.tasks.body import OK, WARN, TaskContext
from engine.tasks.execution import run_task
from engine.tasks.retention import log_retention
from engine.tasks.sessions import cleanup_old_sessions
from engine.tasks.stuck import cleanup_stuck_jobs
from tests.fixtures.jobs import make_job


def _set(db, job_id: int, **values) -> None:
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(**values))


def _worker(db, worker_id: str, seen_ago: timedelta, *, stopped: bool = False) -> None:
    now = utcnow()
    with db.write() as session:
        session.add(Worker(id=worker_id, host="h", pid=1, started_at=now - timedelta(hours=4),
                           last_seen_at=now - seen_ago, stopped_at=now if stopped else None))


def _stuck(db, *, status: str = "PROCESSING", owner: str | None, attempts: int = 1) -> int:
    job_id = make_job(db, rows=3, status=status)
    now = utcnow()
    _set(db, job_id, lease_owner=owner, lease_expires_at=now - timedelta(minutes=2), attempts=attempts,
         started_at=now - timedelta(hours=3), dispatched_at=now - timedelta(hours=3))
    return job_id


def test_cleanup_stuck_jobs_acts_on_dead_workers_only(db, settings) -> None:
    now = utcnow()
    _worker(db, "w-alive", timedelta(seconds=2))
    _worker(db, "w-dead", timedelta(minutes=10))
    _worker(db, "w-stopped", timedelta(seconds=2), stopped=True)
    # A 3-hour job whose worker still heartbeats, even though its lease renewal fell behind.
    long_alive = _stuck(db, owner="w-alive")
    # A 3-hour job with a live lease: not even looked at.
    long_leased = make_job(db, status="PROCESSING")
    _set(db, long_leased, started_at=now - timedelta(hours=3), lease_owner="w-dead")
    resumed = _stuck(db, owner="w-dead", attempts=1)
    released = _stuck(db, owner=None, attempts=2)
    capped = _stuck(db, owner="w-stopped", attempts=settings.max_attempts)
    cancelling = _stuck(db, status="CANCELLING", owner="w-dead", attempts=settings.max_attempts)
    before_alive = get_job(db, long_alive)

    result = run_task(db, settings, "cleanup_stuck_jobs", trigger="scheduled")

    assert result is not None
    assert result.outcome == WARN
    assert result.summary == "2 jobs resumed, 1 failed, 1 cancelled; 1 job left alone (worker alive)"
    alive = get_job(db, long_alive)
    assert (alive.status, alive.lease_owner, alive.lease_expires_at, alive.dispatched_at, alive.history) == (
        "PROCESSING", "w-alive", before_alive.lease_expires_at, before_alive.dispatched_at, before_alive.history)
    assert get_job(db, long_leased).status == "PROCESSING"
    for job_id in (resumed, released):
        job = get_job(db, job_id)
        assert job.status == "PROCESSING" and job.dispatched_at is None  # the dispatcher re-sends it
        assert job.history[-1]["event"] == "re-dispatched" and job.history[-1]["by"] == "cleanup_stuck_jobs"
    failed = get_job(db, capped)
    assert failed.status == "FAILED" and failed.finished_at is not None and failed.lease_owner is None
    assert failed.failure_reason.startswith(f"stopped after {settings.max_attempts} attempts")
    assert get_job(db, cancelling).status == "CANCELLED"
    with db.read() as session:
        run = session.get(TaskRun, result.run_id)
    assert (run.outcome, run.trigger, run.summary) == ("warn", "scheduled", result.summary)
    assert run.duration_s is not None and run.finished_at is not None


def test_cleanup_stuck_jobs_with_nothing_to_do(db, settings) -> None:
    make_job(db, status="PROCESSING")
    make_job(db, status="COMPLETED")
    assert cleanup_stuck_jobs(TaskContext(db, settings)) == (OK, "no stuck jobs")


def test_cleanup_old_sessions_deletes_only_what_is_30_days_old(db, settings) -> None:
    now = utcnow()
    with db.write() as session:
        session.add_all([
            OperatorSession(user="ann", started_at=now - timedelta(days=40), last_seen_at=now - timedelta(days=31)),
            OperatorSession(user="bob", started_at=now - timedelta(days=40), last_seen_at=now - timedelta(days=2)),
            OperatorSession(user="cy", started_at=now, last_seen_at=now),
            OperatorSession(user="dee", started_at=now - timedelta(days=45), last_seen_at=now - timedelta(days=44),
                            ended_at=now - timedelta(days=44)),
            OperatorSession(user="eve", started_at=now - timedelta(days=45), last_seen_at=now - timedelta(days=29),
                            ended_at=now - timedelta(days=29)),
            PayerToken(key="old", token="t1", expires_at=now - timedelta(days=39), created_at=now - timedelta(days=40)),
            PayerToken(key="new", token="t2", expires_at=now + timedelta(hours=1), created_at=now),
        ])
    result = cleanup_old_sessions(TaskContext(db, settings))
    assert result == (OK, "deleted 2 operator sessions (1 ended and 1 left open more than 30 days ago) "
                          "and 1 cached payer token older than 30 days")
    with db.read() as session:
        assert sorted(session.scalars(select(OperatorSession.user))) == ["bob", "cy", "eve"]
        assert list(session.scalars(select(PayerToken.key))) == ["new"]


def test_log_retention_keeps_errors_longer(db, settings) -> None:
    now = utcnow()
    lines = [
        ("info 15d", logging.INFO, 15), ("info 13d", logging.INFO, 13), ("warning 20d", logging.WARNING, 20),
        ("error 30d", logging.ERROR, 30), ("error 91d", logging.ERROR, 91), ("critical 60d", logging.CRITICAL, 60),
    ]
    with db.write() as session:
        session.execute(insert(LogRecord), [
            {"at": now - timedelta(days=days), "service": "worker", "host": "h", "pid": 1, "level": level,
             "logger": "t", "message": message} for message, level, days in lines
        ])
        session.add_all([
            TaskRun(task="log_retention", trigger="scheduled", started_at=now - timedelta(days=100), outcome="ok"),
            TaskRun(task="log_retention", trigger="scheduled", started_at=now - timedelta(days=10), outcome="ok"),
            Command(kind="task.run", target="x", requested_by="ann", requested_at=now - timedelta(days=40),
                    handled_at=now - timedelta(days=40), outcome="started run 1"),
            Command(kind="task.run", target="y", requested_by="ann", requested_at=now - timedelta(days=40)),
        ])
    outcome, summary = log_retention(TaskContext(db, settings))
    assert outcome == OK
    assert summary.startswith("deleted 3 log lines (kept 14 days, errors 90), 1 old run, 1 handled command")
    if db.is_sqlite:
        assert "WAL checkpoint of" in summary
    with db.read() as session:
        kept = sorted(session.scalars(select(LogRecord.message)))
        assert kept == ["critical 60d", "error 30d", "info 13d"]
        assert session.scalar(select(func.count()).select_from(TaskRun)) == 1
        assert list(session.scalars(select(Command.target))) == ["y"]


def test_log_retention_prunes_metrics_and_rollups_in_batches(db, settings, monkeypatch) -> None:
    monkeypatch.setattr(rollups, "PRUNE_BATCH", 7)  # several transactions per name
    monkeypatch.setattr(rollups, "PRUNE_STEP", timedelta(seconds=30))
    now = utcnow()
    ages = {"raw 31d": 31, "raw 29d": 29, "raw 91d": 91, "raw 1h": 1 / 24}
    with db.write() as session:
        rows = [{"at": now - timedelta(days=days, seconds=s), "name": name, "value": 0.5, "label": label}
                for label, days in ages.items() for s in range(20) for name in (PAYER_CALL, ROWS_DONE)]
        write_rows(session.connection(), rows)
    outcome, summary = log_retention(TaskContext(db, settings))
    assert outcome == OK
    # 2 names × 20 rows each for 31 and 91 days; rollups: the 91-day rows, 1 or 2 minutes each
    assert ", 80 metric rows (kept 30 days) and " in summary
    with db.read() as session:
        assert sorted(set(session.scalars(select(Metric.label)))) == ["raw 1h", "raw 29d"]
        assert session.scalar(select(func.count()).select_from(Metric)) == 80
        kept = set(session.scalars(select(MetricMinute.label)))
        assert kept == {"raw 1h", "raw 29d", "raw 31d"}
        assert session.scalar(select(func.min(MetricBucket.minute))) >= minute_of(now - timedelta(days=90))
        assert session.scalar(select(func.sum(MetricMinute.count))) == 120
