"""cleanup_stuck_jobs: recover jobs whose worker is gone, never ones whose worker is alive.

A job is stuck when it is PROCESSING or CANCELLING, its lease has expired, and the worker that
holds it no longer heartbeats. Age alone never counts: a three-hour job whose worker is alive is
left alone. A stuck job is re-dispatched (the next worker resumes it from its last written row),
FAILED with the reason once it has used its attempts, or CANCELLED when it was being cancelled.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import or_, select

from engine.jobs import lifecycle
from engine.models import Job, utcnow
from engine.tasks.body import OK, WARN, TaskContext, TaskResult, plural
from engine.workers_registry import live_workers

log = logging.getLogger("claimsops.maintenance")
BY = "cleanup_stuck_jobs"


@dataclass(frozen=True)
class _Candidate:
    id: int
    status: str
    owner: str | None
    lease_expires_at: datetime | None
    attempts: int


def _candidates(ctx: TaskContext, now: datetime) -> list[_Candidate]:
    with ctx.db.read() as session:
        rows = session.execute(
            select(Job.id, Job.status, Job.lease_owner, Job.lease_expires_at, Job.attempts)
            .where(
                Job.status.in_((lifecycle.PROCESSING, lifecycle.CANCELLING)),
                or_(Job.lease_expires_at.is_(None), Job.lease_expires_at <= now),
            )
            .order_by(Job.id)
        ).all()
    return [_Candidate(*row) for row in rows]


def _still_stuck(job: Job | None, seen: _Candidate, now: datetime) -> bool:
    """Re-checked inside the write transaction: nobody claimed or renewed it meanwhile."""
    return (
        job is not None
        and job.status == seen.status
        and job.lease_owner == seen.owner
        and (job.lease_expires_at is None or job.lease_expires_at <= now)
    )


def _fail(ctx: TaskContext, seen: _Candidate, now: datetime) -> bool:
    reason = (
        f"stopped after {seen.attempts} attempts: the job's worker stopped heartbeating each time "
        "(look at the worker logs for this job; retry it once the cause is fixed)"
    )
    with ctx.db.write() as session:
        job = session.get(Job, seen.id, with_for_update=True)
        if not _still_stuck(job, seen, now):
            return False
        lifecycle.fail(session, seen.id, reason, by=BY, now=now)
    log.warning("job %d FAILED: %s", seen.id, reason)
    return True


def _cancel(ctx: TaskContext, seen: _Candidate, now: datetime) -> bool:
    with ctx.db.read() as session:
        if not _still_stuck(session.get(Job, seen.id), seen, now):
            return False
    try:
        lifecycle.finish_cancel(ctx.db, seen.id)
    except lifecycle.JobError:  # its worker finished the cancel meanwhile
        return False
    log.warning("job %d CANCELLED: it was cancelling and its worker %s is gone", seen.id, seen.owner or "-")
    return True


def _resume(ctx: TaskContext, seen: _Candidate, now: datetime) -> bool:
    with ctx.db.read() as session:
        if not _still_stuck(session.get(Job, seen.id), seen, now):
            return False
    if not lifecycle.redispatch(ctx.db, seen.id):
        return False
    note = f"lease expired and worker {seen.owner or '-'} stopped heartbeating"
    with ctx.db.write() as session:
        lifecycle.append_history(session, seen.id, lifecycle.history_entry("re-dispatched", BY, note=note))
    log.warning(
        "job %d re-dispatched: %s (%d of %d attempts used)",
        seen.id, note, seen.attempts, ctx.settings.max_attempts,
    )
    return True


def cleanup_stuck_jobs(ctx: TaskContext) -> TaskResult:
    now = utcnow()
    alive = {worker.id for worker in live_workers(ctx.db)}
    counts = {"resumed": 0, "failed": 0, "cancelled": 0, "alive": 0}
    for seen in _candidates(ctx, now):
        if seen.owner is not None and seen.owner in alive:
            counts["alive"] += 1
            log.info("job %d: lease expired but worker %s still heartbeats: left alone", seen.id, seen.owner)
            continue
        if seen.status == lifecycle.CANCELLING:
            counts["cancelled"] += _cancel(ctx, seen, now)
        elif seen.attempts >= ctx.settings.max_attempts:
            counts["failed"] += _fail(ctx, seen, now)
        else:
            counts["resumed"] += _resume(ctx, seen, now)
    return TaskResult(WARN if counts["failed"] else OK, _summary(counts))


def _summary(counts: dict[str, int]) -> str:
    done = [(counts[key], verb) for key, verb in
            (("resumed", "resumed"), ("failed", "failed"), ("cancelled", "cancelled")) if counts[key]]
    parts = [f"{plural(n, 'job') if i == 0 else f'{n:,}'} {verb}" for i, (n, verb) in enumerate(done)]
    text = ", ".join(parts) if parts else "no stuck jobs"
    if counts["alive"]:
        text += f"; {plural(counts['alive'], 'job')} left alone (worker alive)"
    return text
