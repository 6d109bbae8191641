"""Running a task body: time it, record its outcome on its run row, tag its log lines."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from engine.config import Settings
from engine.db import Database
from engine.logsink import run_context
from engine.tasks.body import ERROR, OK, WARN, TaskContext
from engine.tasks.registry import task_def
from engine.tasks.store import TRIGGER_MANUAL, finish_run, one_line, start_run

log = logging.getLogger("claimsops.tasks")


@dataclass(frozen=True)
class RunResult:
    run_id: int
    task: str
    outcome: str
    summary: str
    duration_s: float


def execute_run(
    db: Database, settings: Settings, run_id: int, name: str, trigger: str, requested_by: str | None = None
) -> RunResult:
    """Run the task body for an already started run: time it, record the outcome, and tag
    every log line it writes with the run id. Never raises for a failing body."""
    task = task_def(name)
    started = time.monotonic()
    with run_context(run_id):
        how = f"run now by {requested_by}" if trigger == TRIGGER_MANUAL else "on schedule"
        log.info("run %d of %s started (%s)", run_id, name, how)
        try:
            outcome, summary = task.body(TaskContext(db, settings))
            if outcome not in (OK, WARN, ERROR):
                outcome, summary = ERROR, f"task returned an unknown outcome {outcome!r}: {summary}"
        except Exception as exc:
            # first line only, without SQLAlchemy's "[SQL: …] [parameters: …]" (row values)
            message = str(exc).split("\n", 1)[0].split("[SQL:", 1)[0].strip()
            outcome, summary = ERROR, f"{type(exc).__name__}: {message}"
            log.exception("run %d of %s crashed", run_id, name)
        summary = one_line(summary)
        duration = round(time.monotonic() - started, 3)
        try:
            finish_run(db, run_id, outcome, summary, duration)
        except Exception:
            log.exception("run %d of %s: its end could not be recorded", run_id, name)
        level = {OK: logging.INFO, WARN: logging.WARNING}.get(outcome, logging.ERROR)
        log.log(level, "run %d of %s %s in %.1f s: %s", run_id, name, outcome, duration, summary)
    return RunResult(run_id, name, outcome, summary, duration)


def run_task(
    db: Database, settings: Settings, name: str, *, trigger: str = TRIGGER_MANUAL,
    requested_by: str | None = None, lease_owner: str | None = None,
) -> RunResult | None:
    """Start and execute one run in this thread (None when the lease fence refused it)."""
    run_id = start_run(db, name, trigger, requested_by, lease_owner=lease_owner)
    if run_id is None:
        return None
    return execute_run(db, settings, run_id, name, trigger, requested_by)

