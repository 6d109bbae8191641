"""recheck_open_claims: a follow-up job of the open claims that are due (engine.followup)."""

from __future__ import annotations

import logging

from engine.followup.recheck import create_followup_job
from engine.tasks.body import OK, TaskContext, TaskResult

log = logging.getLogger("claimsops.maintenance")
BY = "scheduler"


def recheck_open_claims(ctx: TaskContext) -> TaskResult:
    made = create_followup_job(ctx.db, ctx.settings, requested_by=BY, now=ctx.started_at)
    summary = made.summary()
    if made.job_id is not None:
        summary += f" (at most {ctx.settings.followup_max_claims:,} a run)"
    log.info(summary)
    return TaskResult(OK, summary)
