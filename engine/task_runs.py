"""Keyed pages of task runs for the live run history: what changed since the newest run shown,
and the shown runs as they are now. `engine.tasks.list_runs` pages back through older runs."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select

from engine.db import Database, by_key, newest_after
from engine.models import TaskRun
from engine.tasks import RunInfo


def runs_newer(db: Database, task: str, *, after_id: int, limit: int = 200) -> list[RunInfo]:
    """The `limit` runs of `task` just newer than `after_id`, newest first."""
    query = select(TaskRun).where(TaskRun.task == task)
    return [RunInfo.of(run) for run in newest_after(db, query, TaskRun.id, after_id, limit)]


def runs_by_ids(db: Database, ids: Iterable[int]) -> dict[int, RunInfo]:
    """These runs as they are now (a running run may have finished), by id."""
    return {run_id: RunInfo.of(run) for run_id, run in by_key(db, TaskRun.id, ids).items()}
