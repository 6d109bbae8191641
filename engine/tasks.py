"""Maintenance tasks for the console and the CLI: controls, state and run history.

Controls (run now, pause, resume, reschedule) go through `engine.actions.perform` (role check
and audit row). Pause and schedule are states: they are written to `task_state` (the source of
truth, so they hold even while no scheduler runs); every control also writes a `commands` row
with who asked, which the scheduler leader acts on within a second and marks handled with an
outcome. "Already running" is refused here when a run is recorded as running, and again by the
scheduler.

State per task (Healthchecks style): paused, running, failing (the last run ended in error),
late (a trigger passed by more than its grace without a run, or the last one was missed), ok.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select

from engine import leases, schedules
from engine.actions import Operator, perform
from engine.config import Settings
from engine.db import Database
from engine.logsink import LogFilter, last_lines
from engine.maintenance import ERROR, MISSED, RUNNING, TASKS
from engine.maintenance.runs import (
    CMD_PAUSE,
    CMD_RESUME,
    CMD_RUN,
    CMD_SCHEDULE,
    TRIGGER_MANUAL,
    TRIGGER_SCHEDULED,
    TaskError,
    running_run,
    state_row,
    task_def,
)
from engine.models import Command, LogRecord, TaskRun, TaskState, utcnow

__all__ = [
    "LATE", "OK", "PAUSED", "FAILING", "RUNNING", "TRIGGER_MANUAL", "TRIGGER_SCHEDULED",
    "AlreadyRunning", "Request", "RunInfo", "TaskError", "TaskStatus", "list_runs", "list_tasks",
    "request_pause", "request_resume", "request_run", "request_schedule", "run_logs", "run_to_dict",
    "scheduler_leader", "task_status", "task_to_dict", "wait_for_command",
]

OK, PAUSED, LATE, FAILING = "ok", "paused", "late", "failing"
LATE_SLACK = timedelta(seconds=5)
EXECUTED = ("ok", "warn", "error")


class AlreadyRunning(TaskError):
    """Run now refused: the task is running (or a run is already requested)."""


@dataclass(frozen=True)
class Request:
    command_id: int | None
    message: str


@dataclass(frozen=True)
class RunInfo:
    id: int
    task: str
    trigger: str
    requested_by: str | None
    started_at: datetime
    finished_at: datetime | None
    duration_s: float | None
    outcome: str
    summary: str

    @classmethod
    def of(cls, run: TaskRun) -> RunInfo:
        return cls(run.id, run.task, run.trigger, run.requested_by, run.started_at, run.finished_at,
                   run.duration_s, run.outcome, run.summary)


@dataclass(frozen=True)
class TaskStatus:
    name: str
    title: str
    schedule: str
    schedule_words: str
    state: str
    paused: bool
    paused_by: str | None
    last_run: RunInfo | None
    next_run_at: datetime | None


def scheduler_leader(db: Database) -> leases.LeaseInfo | None:
    """The live scheduler lease, or None when no scheduler leads."""
    info = leases.holder(db, leases.SCHEDULER)
    return info if info is not None and info.live() else None


def _clock(when: datetime, settings: Settings) -> str:
    return when.astimezone(schedules.zone(settings.timezone)).strftime("%Y-%m-%d %H:%M:%S %Z")


# ---- controls ----


def _control(db: Database, operator: Operator, action: str, name: str, body: Callable[[], Request]) -> Request:
    """Run `body` through the role check and audit; the audit detail is the outcome message."""
    holder: list[Request] = []

    def do() -> str:
        task_def(name)
        holder.append(body())
        return holder[0].message

    perform(db, operator, action, name, do)
    return holder[0]


def _command(session: Any, kind: str, name: str, operator: Operator, args: dict[str, Any] | None = None) -> int:
    command = Command(kind=kind, target=name, args=args or {}, requested_by=operator.user, requested_at=utcnow())
    session.add(command)
    session.flush()
    return command.id


def request_run(db: Database, settings: Settings, operator: Operator, name: str) -> Request:
    """Ask the scheduler to run the task now; refused with "already running" while it runs."""

    def body() -> Request:
        leader = scheduler_leader(db)
        with db.write() as session:
            state_row(session, name)
            running = running_run(session, name)
            if running is not None and leader is not None:
                by = f" by {running.requested_by}" if running.requested_by else ""
                raise AlreadyRunning(
                    f"{name} is already running (run {running.id}, {running.trigger}{by}, "
                    f"started {_clock(running.started_at, settings)})"
                )
            waiting = session.scalar(select(Command.id).where(
                Command.kind == CMD_RUN, Command.target == name, Command.handled_at.is_(None)).limit(1))
            if waiting is not None:
                raise AlreadyRunning(f"{name} is already requested to run (command {waiting}, not yet started)")
            command_id = _command(session, CMD_RUN, name, operator)
        note = "" if leader else "; no scheduler is running: it starts when one does"
        return Request(command_id, f"run of {name} requested{note}")

    return _control(db, operator, "task.run", name, body)


def request_pause(db: Database, settings: Settings, operator: Operator, name: str) -> Request:
    """Pause the task: no scheduled run until it is resumed (a run in progress finishes)."""

    def body() -> Request:
        with db.write() as session:
            row = state_row(session, name)
            if row.paused:
                return Request(None, f"{name} is already paused (by {row.paused_by or 'unknown'})")
            row.paused, row.paused_by, row.next_run_at, row.updated_at = True, operator.user, None, utcnow()
            command_id = _command(session, CMD_PAUSE, name, operator)
        return Request(command_id, f"{name} paused")

    return _control(db, operator, "task.pause", name, body)


def request_resume(db: Database, settings: Settings, operator: Operator, name: str) -> Request:
    """Resume a paused task. Missed triggers are not caught up: the next run is the next
    trigger from now."""

    def body() -> Request:
        with db.write() as session:
            row = state_row(session, name)
            if not row.paused:
                return Request(None, f"{name} is not paused")
            tz = schedules.zone(settings.timezone)
            nxt = schedules.next_fire(schedules.parse(row.schedule), utcnow(), tz)
            row.paused, row.paused_by, row.next_run_at, row.updated_at = False, None, nxt, utcnow()
            command_id = _command(session, CMD_RESUME, name, operator)
        return Request(command_id, f"{name} resumed; next run {_clock(nxt, settings)}")

    return _control(db, operator, "task.resume", name, body)


def request_schedule(db: Database, settings: Settings, operator: Operator, name: str, spec: str) -> Request:
    """Change the task's schedule; a bad spec raises ScheduleError and changes nothing."""

    def body() -> Request:
        schedule = schedules.parse(spec)
        tz = schedules.zone(settings.timezone)
        words = schedules.describe(schedule, settings.timezone or "UTC")
        with db.write() as session:
            row = state_row(session, name)
            previous = row.schedule
            row.schedule, row.updated_at = schedule.text, utcnow()
            row.next_run_at = None if row.paused else schedules.next_fire(schedule, utcnow(), tz)
            command_id = _command(session, CMD_SCHEDULE, name, operator,
                                  {"spec": schedule.text, "previous": previous})
            nxt = row.next_run_at
        when = "paused" if nxt is None else f"next run {_clock(nxt, settings)}"
        return Request(command_id, f"{name} now runs {words} ({schedule.text}); {when}")

    return _control(db, operator, "task.schedule", name, body)


def wait_for_command(db: Database, command_id: int, timeout: float = 3.0, poll: float = 0.1) -> Command | None:
    """The command once the scheduler has handled it, or None after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        with db.read() as session:
            command = session.get(Command, command_id)
            if command is not None and command.handled_at is not None:
                return command
        if time.monotonic() >= deadline:
            return None
        time.sleep(poll)


# ---- state and history ----


def _latest(session: Any, name: str, *outcomes: str) -> TaskRun | None:
    query = select(TaskRun).where(TaskRun.task == name)
    if outcomes:
        query = query.where(TaskRun.outcome.in_(outcomes))
    return session.scalar(query.order_by(TaskRun.started_at.desc(), TaskRun.id.desc()).limit(1))


def _state(row: TaskState, last: TaskRun | None, executed: TaskRun | None, settings: Settings, now: datetime) -> str:
    if row.paused:
        return PAUSED
    if last is not None and last.outcome == RUNNING:
        return RUNNING
    if executed is not None and executed.outcome == ERROR:
        return FAILING
    if last is not None and last.outcome == MISSED:
        return LATE
    try:
        schedule = schedules.parse(row.schedule)
        tz = schedules.zone(settings.timezone)
    except schedules.ScheduleError:
        return FAILING
    expected = row.next_run_at
    if expected is None and executed is not None:
        expected = schedules.next_fire(schedule, executed.started_at, tz)
    grace = timedelta(seconds=schedules.misfire_grace(schedule, tz)) + LATE_SLACK
    if expected is not None and now > expected + grace:
        return LATE
    return OK


def _status(session: Any, name: str, settings: Settings, now: datetime) -> TaskStatus:
    task = task_def(name)
    row = session.get(TaskState, name) or TaskState(name=name, schedule=task.default_schedule, paused=False)
    last = _latest(session, name)
    executed = last if last is not None and last.outcome in EXECUTED else _latest(session, name, *EXECUTED)
    try:
        words = schedules.describe(schedules.parse(row.schedule), settings.timezone or "UTC")
    except schedules.ScheduleError:
        words = f"invalid: {row.schedule}"
    return TaskStatus(
        name=name, title=task.title, schedule=row.schedule, schedule_words=words,
        state=_state(row, last, executed, settings, now), paused=bool(row.paused), paused_by=row.paused_by,
        last_run=RunInfo.of(last) if last is not None else None,
        next_run_at=None if row.paused else row.next_run_at,
    )


def list_tasks(db: Database, settings: Settings, *, now: datetime | None = None) -> list[TaskStatus]:
    """Every task with its schedule, state, last run and next run (read-only: writes nothing)."""
    now = now or utcnow()
    with db.read() as session:
        return [_status(session, name, settings, now) for name in TASKS]


def task_status(db: Database, settings: Settings, name: str) -> TaskStatus:
    task_def(name)
    with db.read() as session:
        return _status(session, name, settings, utcnow())


def list_runs(db: Database, name: str | None = None, *, limit: int = 50, before_id: int | None = None) -> list[RunInfo]:
    """Run history, newest first, one page (keyset on id)."""
    query = select(TaskRun).order_by(TaskRun.id.desc()).limit(limit)
    if name is not None:
        task_def(name)
        query = query.where(TaskRun.task == name)
    if before_id is not None:
        query = query.where(TaskRun.id < before_id)
    with db.read() as session:
        return [RunInfo.of(run) for run in session.scalars(query)]


def run_logs(db: Database, run_id: int, *, limit: int = 500) -> list[LogRecord]:
    """The run's own log lines (tagged with its id), oldest first."""
    return last_lines(db, LogFilter(run_id=run_id), limit)


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def run_to_dict(run: RunInfo) -> dict[str, Any]:
    return {
        "id": run.id, "task": run.task, "trigger": run.trigger, "requested_by": run.requested_by,
        "started_at": _iso(run.started_at), "finished_at": _iso(run.finished_at),
        "duration_s": run.duration_s, "outcome": run.outcome, "summary": run.summary,
    }


def task_to_dict(status: TaskStatus) -> dict[str, Any]:
    """The task object of `claimsops tasks --json`."""
    return {
        "name": status.name, "title": status.title, "schedule": status.schedule_words,
        "spec": status.schedule, "state": status.state, "paused": status.paused,
        "paused_by": status.paused_by,
        "last_run": run_to_dict(status.last_run) if status.last_run else None,
        "next_run_at": _iso(status.next_run_at),
    }
