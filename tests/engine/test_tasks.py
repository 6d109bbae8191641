"""Task controls and state: every control is role-checked and audited and writes a command;
a bad spec changes nothing; run now is refused while running; Healthchecks-style states."""

from __future__ import annotations

import logging
from datetime import timedelta

import pytest
from sqlalchemy import select

from engine import leases
from engine.actions import Operator, PermissionDenied
from engine.logsink import setup_logging
from engine.models import AuditEntry, Command, TaskState, utcnow
from engine.tasks import controls, leading, registry, schedules, status, store
from engine.tasks.body import TaskResult
from engine.tasks.execution import run_task
from engine.tasks.registry import TASKS, TaskDef
from engine.tasks.store import record_missed, start_run

ANN = Operator("ann", "10.0.0.7", True)
VIEWER = Operator("vic", "local", False, "read-only: vic is not an operator")


def _audit(db) -> list[tuple[str, str, str, str]]:
    with db.read() as session:
        return [(a.user, a.action, a.target, a.outcome) for a in session.scalars(select(AuditEntry).order_by(AuditEntry.id))]


def _commands(db) -> list[tuple[str, str, dict, str]]:
    with db.read() as session:
        return [(c.kind, c.target, c.args, c.requested_by) for c in session.scalars(select(Command).order_by(Command.id))]


def _state(db, name: str) -> TaskState | None:
    with db.read() as session:
        return session.get(TaskState, name)


def test_bad_schedule_is_refused_and_nothing_changes(db, settings) -> None:
    controls.request_schedule(db, settings, ANN, "cleanup_stuck_jobs", "every 10m")
    before = _state(db, "cleanup_stuck_jobs")
    with pytest.raises(schedules.ScheduleError) as err:
        controls.request_schedule(db, settings, ANN, "cleanup_stuck_jobs", "every 15 parsecs")
    assert "bad schedule 'every 15 parsecs'" in str(err.value)
    after = _state(db, "cleanup_stuck_jobs")
    assert (after.schedule, after.next_run_at) == (before.schedule, before.next_run_at) == ("every 10m", before.next_run_at)
    assert len(_commands(db)) == 1
    assert _audit(db)[-1] == ("ann", "task.schedule", "cleanup_stuck_jobs", "failed")


def test_reschedule_records_who_and_the_next_run(db, settings) -> None:
    req = controls.request_schedule(db, settings, ANN, "log_retention", "daily 1:30")
    assert req.message.startswith("log_retention now runs daily at 01:30 UTC (daily 01:30); next run ")
    row = _state(db, "log_retention")
    tz = schedules.zone("UTC")
    assert row.schedule == "daily 01:30"
    assert row.next_run_at == schedules.next_fire(schedules.parse("daily 01:30"), utcnow() - timedelta(seconds=5), tz)
    assert _commands(db) == [("task.schedule", "log_retention", {"spec": "daily 01:30", "previous": "daily 04:00"}, "ann")]
    assert _audit(db) == [("ann", "task.schedule", "log_retention", "ok")]


def test_pause_and_resume(db, settings) -> None:
    assert controls.request_pause(db, settings, ANN, "health_check_alert").message == "health_check_alert paused"
    row = _state(db, "health_check_alert")
    assert row.paused and row.paused_by == "ann" and row.next_run_at is None
    again = controls.request_pause(db, settings, ANN, "health_check_alert")
    assert again == controls.Request(None, "health_check_alert is already paused (by ann)")
    resumed = controls.request_resume(db, settings, ANN, "health_check_alert")
    row = _state(db, "health_check_alert")
    assert not row.paused and row.paused_by is None
    assert utcnow() < row.next_run_at <= utcnow() + timedelta(minutes=5)  # the next trigger, no catch-up
    assert resumed.message.startswith("health_check_alert resumed; next run ")
    assert [c[0] for c in _commands(db)] == ["task.pause", "task.resume"]
    assert [a[3] for a in _audit(db)] == ["ok", "ok", "ok"]


def test_run_now_refused_while_running(db, settings) -> None:
    leases.acquire(db, leases.SCHEDULER, "sched-1", 30)
    run_id = start_run(db, "cleanup_stuck_jobs", "scheduled")
    with pytest.raises(controls.AlreadyRunning) as err:
        controls.request_run(db, settings, ANN, "cleanup_stuck_jobs")
    assert f"cleanup_stuck_jobs is already running (run {run_id}, scheduled, started " in str(err.value)
    assert _commands(db) == []
    assert _audit(db) == [("ann", "task.run", "cleanup_stuck_jobs", "failed")]

    first = controls.request_run(db, settings, ANN, "archive_old_results")
    assert first.message == "run of archive_old_results requested" and first.command_id is not None
    with pytest.raises(controls.AlreadyRunning, match="already requested to run"):
        controls.request_run(db, settings, ANN, "archive_old_results")


def test_run_now_without_a_scheduler_is_queued_and_says_so(db, settings) -> None:
    req = controls.request_run(db, settings, ANN, "log_retention")
    assert req.message == "run of log_retention requested; no scheduler is running: it starts when one does"
    assert _commands(db) == [("task.run", "log_retention", {}, "ann")]


def test_read_only_and_unknown_tasks_are_refused_and_audited(db, settings) -> None:
    with pytest.raises(PermissionDenied):
        controls.request_pause(db, settings, VIEWER, "log_retention")
    with pytest.raises(registry.TaskError, match="unknown task 'nope'"):
        controls.request_run(db, settings, ANN, "nope")
    assert _commands(db) == [] and _state(db, "log_retention") is None
    assert _audit(db) == [("vic", "task.pause", "log_retention", "refused"), ("ann", "task.run", "nope", "failed")]


def test_states_ok_running_paused_failing_late(db, settings, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(TASKS, "archive_old_results", TaskDef("archive_old_results", "t", "daily 03:00",
                                                              lambda ctx: TaskResult("error", "disk full")))
    run_task(db, settings, "cleanup_old_sessions", trigger="manual", requested_by="ann")
    start_run(db, "cleanup_stuck_jobs", "scheduled")
    controls.request_pause(db, settings, ANN, "log_retention")
    run_task(db, settings, "archive_old_results", trigger="scheduled")
    with db.write() as session:  # the leader expected a run 10 minutes ago; none happened
        session.merge(TaskState(name="health_check_alert", schedule="every 5m", paused=False,
                                next_run_at=utcnow() - timedelta(minutes=10), updated_at=utcnow()))

    by_name = {t.name: t for t in status.list_tasks(db, settings)}

    assert {n: t.state for n, t in by_name.items()} == {
        "cleanup_old_sessions": "ok", "cleanup_stuck_jobs": "running", "log_retention": "paused",
        "archive_old_results": "failing", "health_check_alert": "late", "recheck_open_claims": "ok",
    }
    data = status.task_to_dict(by_name["cleanup_old_sessions"])
    assert {"name", "schedule", "state", "paused", "last_run", "next_run_at"} <= set(data)
    assert data["schedule"] == "daily at 02:00 UTC" and data["paused"] is False
    last = data["last_run"]
    assert (last["outcome"], last["trigger"], last["requested_by"]) == ("ok", "manual", "ann")
    assert last["summary"].startswith("deleted 0 operator sessions") and last["duration_s"] >= 0
    assert last["started_at"] and status.task_to_dict(by_name["log_retention"])["next_run_at"] is None

    record_missed(db, "cleanup_old_sessions", utcnow(), "missed: due 02:00 but the scheduler was down")
    assert status.task_status(db, settings, "cleanup_old_sessions").state == "late"


def test_a_crashing_task_is_an_error_run_with_a_one_line_summary(db, settings, monkeypatch) -> None:
    def boom(ctx) -> TaskResult:
        raise RuntimeError("disk on fire\n[SQL: INSERT INTO x] [parameters: ('JOHN SMITH',)]")

    monkeypatch.setitem(TASKS, "log_retention", TaskDef("log_retention", "t", "daily 04:00", boom))
    result = run_task(db, settings, "log_retention", trigger="manual", requested_by="ann")
    assert (result.outcome, result.summary) == ("error", "RuntimeError: disk on fire")
    task = status.task_status(db, settings, "log_retention")
    assert task.state == "failing" and task.last_run.summary == "RuntimeError: disk on fire"


def test_a_runs_log_lines_carry_its_id(db, settings) -> None:
    handler = setup_logging(db, "scheduler", stderr=False)
    try:
        result = run_task(db, settings, "cleanup_stuck_jobs", trigger="scheduled")
        logging.getLogger("claimsops.test").info("not part of any run")
        handler.flush()
        lines = [r.message for r in store.run_logs(db, result.run_id)]
    finally:
        logging.getLogger().removeHandler(handler)
        handler.close()
    assert lines == [
        f"run {result.run_id} of cleanup_stuck_jobs started (on schedule)",
        f"run {result.run_id} of cleanup_stuck_jobs ok in {result.duration_s:.1f} s: no stuck jobs",
    ]
    assert [r.id for r in store.list_runs(db, "cleanup_stuck_jobs")] == [result.run_id]


def test_run_history_pages(db) -> None:
    runs = [store.start_run(db, "log_retention", "scheduled") for _ in range(3)]
    store.start_run(db, "cleanup_stuck_jobs", "scheduled")
    assert [r.id for r in store.runs_newer(db, "log_retention", after_id=runs[0])] == [runs[2], runs[1]]
    store.finish_run(db, runs[0], "ok", "done", 0.5)
    assert store.runs_by_ids(db, [runs[0]])[runs[0]].outcome == "ok"
    assert [r.id for r in store.list_runs(db, "log_retention")] == list(reversed(runs))


def test_the_leader_refuses_unknown_tasks_and_stale_run_requests() -> None:
    now = utcnow()

    def command(kind: str, target: str, age: timedelta) -> Command:
        return Command(kind=kind, target=target, args={}, requested_by="ann", requested_at=now - age)

    assert leading.command_refusal(command(store.CMD_RUN, "nope", timedelta(0)), now) == "refused: unknown task 'nope'"
    assert leading.command_refusal(command(store.CMD_RUN, "log_retention", timedelta(minutes=11)), now) == (
        "expired: no scheduler was running to act on it in time")
    assert leading.command_refusal(command(store.CMD_RUN, "log_retention", timedelta(minutes=9)), now) is None
    assert leading.command_refusal(command(store.CMD_PAUSE, "log_retention", timedelta(hours=1)), now) is None
