"""The operator's controls of a task: run now, pause, resume, reschedule.

Each goes through `engine.actions.perform` (role check and audit row). Pause and schedule are
states: they are written to `task_state` (the source of truth, so they hold even while no
scheduler runs); every control also writes a `commands` row with who asked, which the scheduler
leader acts on within a second and marks handled with an outcome. "Already running" is refused
here when a run is recorded as running, and again by the scheduler.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from engine.actions import Operator, perform
from engine.config import Settings
from engine.db import Database
from engine.models import utcnow
from engine.tasks import schedules
from engine.tasks.registry import TaskError, task_def
from engine.tasks.store import (
    CMD_PAUSE,
    CMD_RESUME,
    CMD_RUN,
    CMD_SCHEDULE,
    add_command,
    running_run,
    scheduler_leader,
    state_row,
    waiting_run_command,
)


class AlreadyRunning(TaskError):
    """Run now refused: the task is running (or a run is already requested)."""


@dataclass(frozen=True)
class Request:
    command_id: int | None
    message: str


def _clock(when: datetime, settings: Settings) -> str:
    return schedules.clock(when, schedules.zone(settings.timezone))


def _control(db: Database, operator: Operator, action: str, name: str, body: Callable[[], Request]) -> Request:
    """Run `body` through the role check and audit; the audit detail is the outcome message."""
    holder: list[Request] = []

    def do() -> str:
        task_def(name)
        holder.append(body())
        return holder[0].message

    perform(db, operator, action, name, do)
    return holder[0]


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
            waiting = waiting_run_command(session, name)
            if waiting is not None:
                raise AlreadyRunning(f"{name} is already requested to run (command {waiting}, not yet started)")
            command_id = add_command(session, CMD_RUN, name, operator.user)
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
            command_id = add_command(session, CMD_PAUSE, name, operator.user)
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
            command_id = add_command(session, CMD_RESUME, name, operator.user)
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
            command_id = add_command(session, CMD_SCHEDULE, name, operator.user,
                                     {"spec": schedule.text, "previous": previous})
            nxt = row.next_run_at
        when = "paused" if nxt is None else f"next run {_clock(nxt, settings)}"
        return Request(command_id, f"{name} now runs {words} ({schedule.text}); {when}")

    return _control(db, operator, "task.schedule", name, body)
