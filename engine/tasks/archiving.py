"""archive_old_results: rows of jobs finished more than 90 days ago go to compressed files."""

from __future__ import annotations

import logging
from datetime import timedelta

from engine import archive
from engine.tasks.body import ERROR, OK, WARN, TaskContext, TaskResult, plural

BATCH_JOBS = 200
log = logging.getLogger("claimsops.maintenance")


def archive_old_results(ctx: TaskContext) -> TaskResult:
    before = ctx.started_at - timedelta(days=archive.ARCHIVE_DAYS)
    job_ids = archive.archivable_jobs(ctx.db, before=before, limit=BATCH_JOBS)
    archived = rows = 0
    failed: list[int] = []
    for job_id in job_ids:
        try:
            info = archive.archive_job(ctx.db, ctx.settings, job_id)
        except (archive.ArchiveError, OSError) as exc:
            failed.append(job_id)
            log.error("job %d not archived: %s", job_id, exc)
            continue
        archived += 1
        rows += info.rows
        log.info("job %d archived: %s to %s", job_id, plural(info.rows, "row"), info.path)
    summary = f"archived {plural(archived, 'job')} ({plural(rows, 'row')}) older than {archive.ARCHIVE_DAYS} days"
    if len(job_ids) == BATCH_JOBS:
        summary += "; more wait for the next run"
    if failed:
        shown = ", ".join(str(i) for i in failed[:5]) + (" …" if len(failed) > 5 else "")
        summary += f"; {len(failed)} failed (job {shown})"
        return TaskResult(ERROR if not archived else WARN, summary)
    return TaskResult(OK, summary)
