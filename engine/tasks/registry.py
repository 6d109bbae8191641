"""The maintenance tasks: name, title, default schedule and body of each.

The scheduler service runs them on their schedules (the defaults here; each one changeable
through `engine.tasks.controls`), records every run and tags its log lines with the run id.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.errors import OperatorError
from engine.tasks.archiving import archive_old_results
from engine.tasks.body import TaskBody
from engine.tasks.followup import recheck_open_claims
from engine.tasks.healthcheck import health_check_alert
from engine.tasks.retention import log_retention
from engine.tasks.sessions import SESSION_DAYS, cleanup_old_sessions
from engine.tasks.stuck import cleanup_stuck_jobs


class TaskError(OperatorError):
    """An operator-facing refusal about a task (unknown name, already running)."""


@dataclass(frozen=True)
class TaskDef:
    name: str
    title: str
    default_schedule: str
    body: TaskBody
    # also run once when a scheduler takes the lead, so what it reports is never missing
    # (Health is empty until the health checks first run)
    at_takeover: bool = False


TASKS: dict[str, TaskDef] = {
    task.name: task
    for task in (
        TaskDef("cleanup_old_sessions",
                f"operator sessions ended or left open {SESSION_DAYS}+ days ago, payer tokens {SESSION_DAYS}+ days old",
                "daily 02:00", cleanup_old_sessions),
        TaskDef("cleanup_stuck_jobs", "resume or end jobs whose worker is gone",
                "every 15m", cleanup_stuck_jobs),
        TaskDef("archive_old_results", "move rows of jobs finished 90+ days ago to archive files",
                "daily 03:00", archive_old_results),
        TaskDef("health_check_alert", "health checks; alert on changes", "every 5m", health_check_alert,
                at_takeover=True),
        TaskDef("log_retention", "logs older than 14 days (errors 90), metrics 30 (rollups 90), WAL checkpoint",
                "daily 04:00", log_retention),
        TaskDef("recheck_open_claims", "a follow-up job of the open claims due again (1, 3, 7, 14 days, then weekly)",
                "daily 06:00", recheck_open_claims),
    )
}


def task_def(name: str) -> TaskDef:
    task = TASKS.get(name)
    if task is None:
        raise TaskError(f"unknown task {name!r} (one of {', '.join(TASKS)})")
    return task
