"""What the scheduler leader decides without APScheduler: the schedule a task runs on, the
trigger owed at takeover, and whether a command still stands."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, tzinfo

from engine.db import Database
from engine.models import Command, TaskState
from engine.tasks import schedules
from engine.tasks.registry import TASKS
from engine.tasks.store import CMD_RUN, ran_since, record_missed

RUN_COMMAND_TTL = timedelta(minutes=10)
log = logging.getLogger("claimsops.scheduler")


def effective_schedule(name: str, row: TaskState) -> schedules.Schedule:
    """The stored schedule, or the task's default when the stored one is unusable."""
    try:
        return schedules.parse(row.schedule)
    except schedules.ScheduleError as exc:
        log.error("task %s: stored schedule unusable (%s); using its default %s",
                  name, exc, TASKS[name].default_schedule)
        return schedules.parse(TASKS[name].default_schedule)


def owed_at_takeover(
    db: Database, name: str, schedule: schedules.Schedule, row: TaskState, grace: int, tz: tzinfo, now: datetime
) -> datetime | None:
    """The latest trigger that came due since the previous leader last published (runs it
    passed while no leader was alive coalesce into it). Unless a run started since, it runs
    once now when within the grace (returned); later it is recorded missed (None)."""
    if row.next_run_at is None:  # never scheduled before: nothing is owed
        return None
    due = schedules.previous_fire(schedule, now, tz)
    if due < row.next_run_at or ran_since(db, name, due):
        return None
    if (now - due).total_seconds() <= grace:
        return due
    record_missed(db, name, due, f"missed: no scheduler was running at {schedules.clock(due, tz)}")
    return None


def command_refusal(command: Command, now: datetime) -> str | None:
    """Why the leader does not act on the command (unknown task, a run now too old), or None."""
    if command.target not in TASKS:
        return f"refused: unknown task {command.target!r}"
    if command.kind == CMD_RUN and now - command.requested_at > RUN_COMMAND_TTL:
        return "expired: no scheduler was running to act on it in time"
    return None
