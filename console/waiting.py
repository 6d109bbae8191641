"""`submit --wait`: process the job in this process when no worker is alive, otherwise wait for
the workers; progress goes to stderr."""

from __future__ import annotations

import sys
import time
from typing import Any

from engine.jobs import lifecycle
from engine.jobs.queries import get_job
from engine.workers_registry import count_live
from workers.run_here import run_job_here


def _progress(job: Any) -> str:
    pct = 100 * job.done_rows / job.total_rows if job.total_rows else 100
    return (
        f"\rjob {job.id} {job.status:<10} {job.done_rows}/{job.total_rows} ({pct:3.0f}%)  "
        f"found {job.found_rows}  not found {job.not_found_rows}  errors {job.error_rows}  "
        f"invalid {job.invalid_rows}  payer calls {job.payer_calls}"
    )


def wait_for_job(ctx: Any, job_id: int, *, quiet: bool = False) -> None:
    if count_live(ctx.db) == 0:
        show = None if quiet else lambda: _show_progress(ctx.db, job_id)
        run_job_here(ctx.settings, ctx.db, job_id, show)
    _await_finish(ctx.db, job_id, quiet)


def _show_progress(db: Any, job_id: int) -> Any:
    job = get_job(db, job_id)
    sys.stderr.write(_progress(job))
    sys.stderr.flush()
    return job


def _await_finish(db: Any, job_id: int, quiet: bool) -> None:
    while True:
        job = get_job(db, job_id) if quiet else _show_progress(db, job_id)
        if job.status in lifecycle.FINISHED:
            if not quiet:
                sys.stderr.write("\n")
            return
        time.sleep(0.5)
