"""The scheduler's side of tasks: task_state rows, run records, commands to act on.

A run is a `task_runs` row: `running` when it starts, then ok, warn or error with its duration
and one-line summary; `missed` for a trigger that did not run. Its log lines carry its id.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import leases
from engine.config import Settings
from engine.db import Database
from engine.errors import OperatorError
from engine.logsink import run_context
from engine.maintenance import ERROR, MISSED, OK, RUNNING, TASKS, WARN, TaskContext, TaskDef
from engine.models import Command, Lease, TaskRun, TaskState, utcnow
from engine.text import mask_phi

TRIGGER_SCHEDULED, TRIGGER_MANUAL = "scheduled", "manual"
CMD_RUN, CMD_PAUSE, CMD_RESUME, CMD_SCHEDULE = "task.run", "task.pause", "task.resume", "task.schedule"
COMMAND_KINDS = (CMD_RUN, CMD_PAUSE, CMD_RESUME, CMD_SCHEDULE)
SUMMARY_MAX = 500
log = logging.getLogger("claimsops.tasks")


class TaskError(OperatorError):
    """An operator-facing refusal about a task (unknown name, already running)."""


@dataclass(frozen=True)
class RunResult:
    run_id: int
    task: str
    outcome: str
    summary: str
    duration_s: float


def task_def(name: str) -> TaskDef:
    task = TASKS.get(name)
    if task is None:
        raise TaskError(f"unknown task {name!r} (one of {', '.join(TASKS)})")
    return task


def state_row(session: Session, name: str) -> TaskState:
    """The task's state row, created with its default schedule on first use."""
    row = session.get(TaskState, name)
    if row is None:
        row = TaskState(name=name, schedule=task_def(name).default_schedule, paused=False, updated_at=utcnow())
        session.add(row)
        session.flush()
    return row


def _ensure(db: Database) -> dict[str, TaskState]:
    with db.write() as session:
        return {name: state_row(session, name) for name in TASKS}


def ensure_states(db: Database) -> dict[str, TaskState]:
    """Every task's state row (missing ones created), by name."""
    try:
        return _ensure(db)
    except IntegrityError:  # a console created one at the same moment (PostgreSQL): it exists now
        return _ensure(db)


def load_states(db: Database) -> dict[str, TaskState]:
    with db.read() as session:
        return {row.name: row for row in session.scalars(select(TaskState)) if row.name in TASKS}


def publish_next_run(db: Database, name: str, when: datetime | None) -> None:
    with db.write() as session:
        session.execute(
            update(TaskState).where(TaskState.name == name).values(next_run_at=when, updated_at=TaskState.updated_at)
            .execution_options(synchronize_session=False)
        )


# ---- runs ----


def _holds_lease(session: Session, owner: str) -> bool:
    lease = session.get(Lease, leases.SCHEDULER, with_for_update=True)  # a takeover waits for us
    return lease is not None and lease.owner == owner and lease.expires_at > utcnow()


def start_run(
    db: Database, name: str, trigger: str, requested_by: str | None = None, *, lease_owner: str | None = None
) -> int | None:
    """Insert the `running` row; with `lease_owner`, only while that owner holds the scheduler
    lease (a leader that lost its lease never starts a run). Returns the run id or None."""
    task_def(name)
    with db.write() as session:
        if lease_owner is not None and not _holds_lease(session, lease_owner):
            return None
        run = TaskRun(task=name, trigger=trigger, requested_by=requested_by, started_at=utcnow(),
                      outcome=RUNNING, summary="")
        session.add(run)
        session.flush()
        return run.id


def finish_run(db: Database, run_id: int, outcome: str, summary: str, duration_s: float) -> None:
    with db.write() as session:
        session.execute(
            update(TaskRun).where(TaskRun.id == run_id)
            .values(outcome=outcome, summary=summary, duration_s=duration_s, finished_at=utcnow())
            .execution_options(synchronize_session=False)
        )


def one_line(text: str) -> str:
    text = " ".join(mask_phi(str(text)).split())
    return text if len(text) <= SUMMARY_MAX else text[: SUMMARY_MAX - 1] + "…"


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


def record_missed(db: Database, name: str, scheduled_for: datetime, reason: str,
                  trigger: str = TRIGGER_SCHEDULED, requested_by: str | None = None) -> int:
    """A trigger that did not run: a `missed` row at its scheduled time, with the reason."""
    now = utcnow()
    with db.write() as session:
        run = TaskRun(task=name, trigger=trigger, requested_by=requested_by, started_at=scheduled_for,
                      finished_at=now, duration_s=None, outcome=MISSED, summary=one_line(reason))
        session.add(run)
        session.flush()
        run_id = run.id
    with run_context(run_id):
        log.warning("%s: %s", name, reason)
    return run_id


def interrupt_stale_runs(db: Database) -> int:
    """A new leader closes the runs its dead predecessor left `running`."""
    now = utcnow()
    with db.write() as session:
        stale = list(session.scalars(select(TaskRun).where(TaskRun.outcome == RUNNING)))
        for run in stale:
            run.outcome = ERROR
            run.finished_at = now
            run.duration_s = round((now - run.started_at).total_seconds(), 3)
            run.summary = "interrupted: the scheduler process stopped during the run"
    for run in stale:
        log.warning("run %d of %s was interrupted by a scheduler stop", run.id, run.task)
    return len(stale)


def ran_since(db: Database, name: str, when: datetime) -> bool:
    """True when the task has a run (of any outcome, missed included) at or after `when`:
    that trigger was run or already given up on."""
    with db.read() as session:
        return session.scalar(
            select(TaskRun.id).where(TaskRun.task == name, TaskRun.started_at >= when).limit(1)
        ) is not None


def running_run(session: Session, name: str) -> TaskRun | None:
    return session.scalar(
        select(TaskRun).where(TaskRun.task == name, TaskRun.outcome == RUNNING).order_by(TaskRun.id.desc()).limit(1)
    )


# ---- commands ----


def pending_commands(db: Database, *, limit: int = 50) -> list[Command]:
    with db.read() as session:
        return list(session.scalars(
            select(Command).where(Command.handled_at.is_(None), Command.kind.in_(COMMAND_KINDS))
            .order_by(Command.id).limit(limit)
        ))


def complete_command(db: Database, command_id: int, outcome: str) -> None:
    with db.write() as session:
        session.execute(
            update(Command).where(Command.id == command_id, Command.handled_at.is_(None))
            .values(handled_at=utcnow(), outcome=outcome[:2000])
            .execution_options(synchronize_session=False)
        )
