"""The rows of tasks: `task_state` (schedule, paused, next run), `task_runs` (the run history)
and `commands` (the queue of operator controls the scheduler leader acts on).

A run is a `task_runs` row: `running` when it starts, then ok, warn or error with its duration
and one-line summary; `missed` for a trigger that did not run. Its log lines carry its id.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from engine import leases
from engine.db import Database
from engine.logsink import LogFilter, last_lines, run_context
from engine.models import Command, Lease, LogRecord, TaskRun, TaskState, utcnow
from engine.tasks.body import ERROR, MISSED, RUNNING
from engine.tasks.registry import TASKS, task_def
from engine.text import mask_phi

TRIGGER_SCHEDULED, TRIGGER_MANUAL = "scheduled", "manual"
CMD_RUN, CMD_PAUSE, CMD_RESUME, CMD_SCHEDULE = "task.run", "task.pause", "task.resume", "task.schedule"
COMMAND_KINDS = (CMD_RUN, CMD_PAUSE, CMD_RESUME, CMD_SCHEDULE)
SUMMARY_MAX = 500
log = logging.getLogger("claimsops.tasks")


# ---- state ----


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


def scheduler_leader(db: Database) -> leases.LeaseInfo | None:
    """The live scheduler lease, or None when no scheduler leads."""
    info = leases.holder(db, leases.SCHEDULER)
    return info if info is not None and info.live() else None


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


def latest_run(session: Session, name: str, *outcomes: str) -> TaskRun | None:
    """The task's newest run (of one of `outcomes` when given)."""
    query = select(TaskRun).where(TaskRun.task == name)
    if outcomes:
        query = query.where(TaskRun.outcome.in_(outcomes))
    return session.scalar(query.order_by(TaskRun.started_at.desc(), TaskRun.id.desc()).limit(1))


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


def runs_newer(db: Database, task: str, *, after_id: int, limit: int = 200) -> list[RunInfo]:
    """The `limit` runs of `task` just newer than `after_id`, newest first."""
    query = select(TaskRun).where(TaskRun.task == task, TaskRun.id > after_id).order_by(TaskRun.id).limit(limit)
    with db.read() as session:
        runs = [RunInfo.of(run) for run in session.scalars(query)]
    runs.reverse()
    return runs


def runs_by_ids(db: Database, ids: Iterable[int]) -> dict[int, RunInfo]:
    """These runs as they are now (a running run may have finished), by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with db.read() as session:
        return {run.id: RunInfo.of(run) for run in session.scalars(select(TaskRun).where(TaskRun.id.in_(wanted)))}


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


# ---- commands ----


def add_command(session: Session, kind: str, name: str, requested_by: str, args: dict[str, Any] | None = None) -> int:
    command = Command(kind=kind, target=name, args=args or {}, requested_by=requested_by, requested_at=utcnow())
    session.add(command)
    session.flush()
    return command.id


def waiting_run_command(session: Session, name: str) -> int | None:
    """The id of a run now of the task that no scheduler has acted on yet."""
    return session.scalar(select(Command.id).where(
        Command.kind == CMD_RUN, Command.target == name, Command.handled_at.is_(None)).limit(1))


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
