"""The maintenance tasks: plain functions of a `TaskContext` returning a `TaskResult`.

The scheduler service runs them on their schedules (defaults here; each one configurable
through `engine.tasks`), records every run and tags its log lines with the run id.
"""

from __future__ import annotations

from engine.maintenance.archiving import archive_old_results
from engine.maintenance.base import (
    ERROR,
    MISSED,
    OK,
    OUTCOMES,
    RUNNING,
    WARN,
    TaskBody,
    TaskContext,
    TaskDef,
    TaskResult,
)
from engine.maintenance.healthcheck import health_check_alert
from engine.maintenance.retention import log_retention
from engine.maintenance.sessions import cleanup_old_sessions
from engine.maintenance.stuck import cleanup_stuck_jobs

TASKS: dict[str, TaskDef] = {
    task.name: task
    for task in (
        TaskDef("cleanup_old_sessions", "operator sessions and payer tokens older than 30 days",
                "daily 02:00", cleanup_old_sessions),
        TaskDef("cleanup_stuck_jobs", "resume or end jobs whose worker is gone",
                "every 15m", cleanup_stuck_jobs),
        TaskDef("archive_old_results", "move rows of jobs finished 90+ days ago to archive files",
                "daily 03:00", archive_old_results),
        TaskDef("health_check_alert", "health checks; alert on changes", "every 5m", health_check_alert),
        TaskDef("log_retention", "logs older than 14 days (errors 90), metrics 30 (rollups 90), WAL checkpoint",
                "daily 04:00", log_retention),
    )
}

__all__ = [
    "ERROR", "MISSED", "OK", "OUTCOMES", "RUNNING", "TASKS", "WARN", "TaskBody", "TaskContext",
    "TaskDef", "TaskResult",
]
