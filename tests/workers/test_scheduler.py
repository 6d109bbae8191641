"""The scheduler service in a thread against real SQLite: run now (and "already running"),
pause across triggers then resume without a catch-up burst, missed and overdue triggers at
takeover, losing the lease, and APScheduler triggers agreeing with engine.tasks.schedules."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from bench.common import wait_for
from engine import leases
from engine.actions import Operator
from engine.models import Command, Lease, TaskRun, TaskState, utcnow
from engine.tasks import controls, schedules, status, store
from engine.tasks.body import TaskResult
from engine.tasks.registry import TASKS, TaskDef
from workers.scheduler import build_trigger, run_scheduler

ANN = Operator("ann", "local", True)
LEASE = 3.0


@contextmanager
def scheduler(db, settings, owner: str = "sched-a") -> Iterator[threading.Event]:
    stop = threading.Event()
    thread = threading.Thread(
        target=run_scheduler, args=(settings, db),
        kwargs={"stop_event": stop, "lease_seconds": LEASE, "poll_seconds": 0.1, "owner": owner}, daemon=True,
    )
    thread.start()
    try:
        wait_for(lambda: leases.held_by(db, leases.SCHEDULER, owner), 5, "leadership")
        yield stop
    finally:
        stop.set()
        thread.join(timeout=10)
        assert not thread.is_alive()




def runs_of(db, name: str, *outcomes: str) -> list[TaskRun]:
    query = select(TaskRun).where(TaskRun.task == name).order_by(TaskRun.started_at)
    if outcomes:
        query = query.where(TaskRun.outcome.in_(outcomes))
    with db.read() as session:
        return list(session.scalars(query))


def handled(db, command_id: int) -> str:
    command = store.wait_for_command(db, command_id, timeout=3.0)
    assert command is not None, "the scheduler did not act within 3 s"
    return command.outcome


@pytest.mark.parametrize("spec", ["every 2s", "every 15m", "every 7h", "daily 02:30", "*/20 * * * *",
                                  "0 9 * * mon-fri", "0 0 * * 0", "15 3 1,15 * *", "0 12 * jan,jul *"])
@pytest.mark.parametrize("tz_name", ["UTC", "America/New_York", "Asia/Kolkata"])
def test_apscheduler_triggers_fire_when_the_engine_says(spec: str, tz_name: str) -> None:
    tz = schedules.zone(tz_name)
    schedule = schedules.parse(spec)
    trigger = build_trigger(schedule, tz)
    at = datetime(2024, 3, 9, 23, 59, 59, tzinfo=UTC)  # the eve of a DST change in New York
    for _ in range(6):
        expected = schedules.next_fire(schedule, at, tz)
        assert trigger.get_next_fire_time(None, at + timedelta(microseconds=1)) == expected
        at = expected


def test_run_now_and_already_running(db, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    gate, entered = threading.Event(), threading.Event()

    def slow(ctx) -> TaskResult:
        entered.set()
        gate.wait(10)
        return TaskResult("ok", "archived nothing, slowly")

    monkeypatch.setitem(TASKS, "archive_old_results", TaskDef("archive_old_results", "t", "daily 03:00", slow))
    with scheduler(db, settings):
        req = controls.request_run(db, settings, ANN, "archive_old_results")
        outcome = handled(db, req.command_id)
        assert outcome.startswith("started run ")
        run_id = int(outcome.removeprefix("started run "))
        assert entered.wait(3)
        assert status.task_status(db, settings, "archive_old_results").state == "running"
        with pytest.raises(controls.AlreadyRunning, match="already running"):
            controls.request_run(db, settings, ANN, "archive_old_results")
        with db.write() as session:  # a command that got past the request check (a race)
            session.add(Command(kind="task.run", target="archive_old_results", requested_by="bob"))
            session.flush()
            raced = session.scalar(select(Command.id).order_by(Command.id.desc()).limit(1))
        assert handled(db, raced) == "refused: already running"
        gate.set()
        wait_for(lambda: runs_of(db, "archive_old_results", "ok"), 5, "the run to finish")
    [run] = runs_of(db, "archive_old_results")
    assert (run.id, run.trigger, run.requested_by, run.outcome) == (run_id, "manual", "ann", "ok")
    assert run.summary == "archived nothing, slowly" and run.duration_s > 0


def test_pause_across_two_triggers_then_resume_without_a_burst(sqlite_db, settings) -> None:
    db = sqlite_db
    controls.request_schedule(db, settings, ANN, "cleanup_stuck_jobs", "every 1s")
    with scheduler(db, settings):
        wait_for(lambda: runs_of(db, "cleanup_stuck_jobs"), 5, "a first run")
        handled(db, controls.request_pause(db, settings, ANN, "cleanup_stuck_jobs").command_id)
        paused_at = utcnow()
        time.sleep(2.6)  # two or three triggers pass while paused
        resumed_at = utcnow()
        handled(db, controls.request_resume(db, settings, ANN, "cleanup_stuck_jobs").command_id)
        with db.read() as session:
            next_run = session.get(TaskState, "cleanup_stuck_jobs").next_run_at
        assert resumed_at < next_run <= resumed_at + timedelta(seconds=1.6)
        time.sleep(2.2)
    started = [r.started_at for r in runs_of(db, "cleanup_stuck_jobs")]
    assert not [t for t in started if paused_at + timedelta(seconds=0.2) < t < resumed_at]
    after = [t for t in started if t > resumed_at]
    assert 1 <= len(after) <= 3
    assert all(b - a > timedelta(seconds=0.5) for a, b in zip(after, after[1:], strict=False)), after
    assert runs_of(db, "cleanup_stuck_jobs", "missed") == []
    assert after[0] >= next_run


def test_takeover_runs_an_overdue_trigger_once_and_records_a_missed_one(db, settings) -> None:
    now = utcnow()
    this_minute = f"daily {now:%H:%M}"  # came due less than a minute ago (grace: an hour)
    two_hours_ago = f"daily {now - timedelta(hours=2):%H:%M}"
    due = schedules.previous_fire(schedules.parse(this_minute), now, schedules.zone("UTC"))
    yesterday = due - timedelta(days=1)
    with db.write() as session:
        session.add_all([
            # the dead leader ran yesterday's trigger and died before publishing the next one
            TaskState(name="cleanup_stuck_jobs", schedule=this_minute, paused=False, next_run_at=yesterday,
                      updated_at=now),
            TaskRun(task="cleanup_stuck_jobs", trigger="scheduled", started_at=yesterday, outcome="ok"),
            # it ran today's trigger too: nothing is owed
            TaskState(name="cleanup_old_sessions", schedule=this_minute, paused=False, next_run_at=due,
                      updated_at=now),
            TaskRun(task="cleanup_old_sessions", trigger="scheduled", started_at=due + timedelta(milliseconds=3),
                    outcome="ok"),
            # two hours late: past the grace
            TaskState(name="archive_old_results", schedule=two_hours_ago, paused=False,
                      next_run_at=now - timedelta(hours=2, minutes=1), updated_at=now),
            # it died during a run
            TaskRun(task="log_retention", trigger="scheduled", started_at=now - timedelta(minutes=1),
                    outcome="running"),
        ])
    with scheduler(db, settings):
        wait_for(lambda: len(runs_of(db, "cleanup_stuck_jobs", "ok")) == 2, 5, "the overdue run")
        time.sleep(0.5)
    yesterdays, overdue = runs_of(db, "cleanup_stuck_jobs")
    assert overdue.trigger == "scheduled" and overdue.started_at > now
    assert len(runs_of(db, "cleanup_old_sessions")) == 1
    [missed] = runs_of(db, "archive_old_results")
    assert missed.outcome == "missed" and missed.summary.startswith("missed: no scheduler was running at ")
    [stale] = runs_of(db, "log_retention")
    assert stale.outcome == "error" and stale.summary.startswith("interrupted")
    assert status.task_status(db, settings, "archive_old_results").state == "late"


def test_losing_the_lease_stops_scheduling_at_once(sqlite_db, settings, caplog) -> None:
    db = sqlite_db
    caplog.set_level(logging.INFO)
    controls.request_schedule(db, settings, ANN, "cleanup_stuck_jobs", "every 1s")
    with scheduler(db, settings):
        wait_for(lambda: runs_of(db, "cleanup_stuck_jobs"), 5, "a first run")
        with db.write() as session:  # another process took over (e.g. after a long pause of ours)
            session.execute(update(Lease).values(owner="intruder", expires_at=utcnow() + timedelta(seconds=30)))
        stolen_at = utcnow()
        wait_for(lambda: any("lost the scheduler lease" in r.getMessage() for r in caplog.records), 5, "step-down")
        stopped_at = utcnow()
        time.sleep(1.5)
        assert any(r.getMessage().startswith("standby: scheduler leader is intruder until ")
                   for r in caplog.records)
    assert stopped_at - stolen_at < timedelta(seconds=LEASE / 3 + 0.5)
    late = [r for r in runs_of(db, "cleanup_stuck_jobs") if r.started_at > stopped_at]
    assert late == []
    assert leases.holder(db, leases.SCHEDULER).owner == "intruder"  # a standby never releases it


def test_graceful_stop_releases_the_lease(sqlite_db, settings) -> None:
    with scheduler(sqlite_db, settings):
        assert store.scheduler_leader(sqlite_db).owner == "sched-a"
    assert leases.holder(sqlite_db, leases.SCHEDULER) is None
