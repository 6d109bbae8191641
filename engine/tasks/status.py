"""A task's state as the operator sees it (Healthchecks style): paused, running, failing (the
last run ended in error), late (a trigger passed by more than its grace without a run, or the
last one was missed), ok. Read-only: nothing here writes a row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from engine.config import Settings
from engine.db import Database
from engine.models import TaskRun, TaskState, utcnow
from engine.tasks import schedules
from engine.tasks.body import ERROR, MISSED, OK, RUNNING, WARN
from engine.tasks.registry import TASKS, task_def
from engine.tasks.store import RunInfo, latest_run, run_to_dict

PAUSED, LATE, FAILING = "paused", "late", "failing"
LATE_SLACK = timedelta(seconds=5)
EXECUTED = (OK, WARN, ERROR)


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


def _status(session: Session, name: str, settings: Settings, now: datetime) -> TaskStatus:
    task = task_def(name)
    row = session.get(TaskState, name) or TaskState(name=name, schedule=task.default_schedule, paused=False)
    last = latest_run(session, name)
    executed = last if last is not None and last.outcome in EXECUTED else latest_run(session, name, *EXECUTED)
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
    """Every task with its schedule, state, last run and next run."""
    now = now or utcnow()
    with db.read() as session:
        return [_status(session, name, settings, now) for name in TASKS]


def task_status(db: Database, settings: Settings, name: str) -> TaskStatus:
    task_def(name)
    with db.read() as session:
        return _status(session, name, settings, utcnow())


def task_to_dict(status: TaskStatus) -> dict[str, Any]:
    """The task object of `claimsops tasks --json`."""
    next_run = status.next_run_at
    return {
        "name": status.name, "title": status.title, "schedule": status.schedule_words,
        "spec": status.schedule, "state": status.state, "paused": status.paused,
        "paused_by": status.paused_by,
        "last_run": run_to_dict(status.last_run) if status.last_run else None,
        "next_run_at": next_run.isoformat() if next_run else None,
    }
