"""engine.task_runs: the live run history's keyed pages."""

from __future__ import annotations

from engine import tasks
from engine.db import Database
from engine.maintenance.runs import finish_run, start_run
from engine.task_runs import runs_by_ids, runs_newer


def test_run_pages(db: Database) -> None:
    runs = [start_run(db, "log_retention", "scheduled") for _ in range(3)]
    start_run(db, "cleanup_stuck_jobs", "scheduled")
    assert [r.id for r in runs_newer(db, "log_retention", after_id=runs[0])] == [runs[2], runs[1]]
    finish_run(db, runs[0], "ok", "done", 0.5)
    assert runs_by_ids(db, [runs[0]])[runs[0]].outcome == "ok"
    assert [r.id for r in tasks.list_runs(db, "log_retention")] == list(reversed(runs))
