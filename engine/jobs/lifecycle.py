"""The job lifecycle: statuses, the transition table, a worker's lease on a job and the job's
history. Every status change is a compare-and-set in this module.

PENDING -> PROCESSING -> COMPLETED | FAILED
PENDING | PROCESSING -> CANCELLING -> CANCELLED
PENDING -> CANCELLED (at once)
FAILED | CANCELLED -> PENDING (an operator's retry: a new attempt of the same job)
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from engine.db import Database
from engine.errors import OperatorError
from engine.jobs.rows import cleared_result, recount
from engine.models import Job, JobRow, utcnow

PENDING, PROCESSING, CANCELLING = "PENDING", "PROCESSING", "CANCELLING"
COMPLETED, FAILED, CANCELLED = "COMPLETED", "FAILED", "CANCELLED"
STATUSES = (PENDING, PROCESSING, CANCELLING, COMPLETED, FAILED, CANCELLED)
ACTIVE = (PENDING, PROCESSING, CANCELLING)
FINISHED = (COMPLETED, FAILED, CANCELLED)

# target status -> statuses it may be reached from
TRANSITIONS: dict[str, tuple[str, ...]] = {
    PROCESSING: (PENDING,),
    COMPLETED: (PROCESSING,),
    FAILED: (PROCESSING, PENDING),
    CANCELLING: (PENDING, PROCESSING),
    CANCELLED: (CANCELLING, PENDING),
    PENDING: (FAILED, CANCELLED),
}

# history events of a payer outage: the job's calls wait for a payer that answers none of them
WAITING_FOR_PAYER, PAYER_ANSWERED = "waiting for the payer", "payer answered"

_VERB = {
    PROCESSING: "started",
    COMPLETED: "completed",
    FAILED: "failed",
    CANCELLING: "cancelled",
    CANCELLED: "cancelled",
    PENDING: "retried",
}


class JobError(OperatorError):
    """An operator-facing refusal about a job (unknown id, illegal transition)."""


class IllegalTransition(JobError):
    def __init__(self, job_id: int, current: str, target: str) -> None:
        super().__init__(f"job {job_id} is {current} and cannot be {_VERB[target]}")
        self.job_id, self.current, self.target = job_id, current, target


class JobNotFound(JobError):
    def __init__(self, job_id: int) -> None:
        super().__init__(f"job {job_id} does not exist")
        self.job_id = job_id


def is_legal(current: str, target: str) -> bool:
    return current in TRANSITIONS.get(target, ())


def _status_of(session: Session, job_id: int) -> str:
    status = session.scalar(select(Job.status).where(Job.id == job_id))
    if status is None:
        raise JobNotFound(job_id)
    return status


def history_entry(event: str, by: str | None = None, *, at: datetime | None = None, **extra: Any) -> dict[str, Any]:
    """One entry of a job's history: when (`at`, default now), what, who; extras that are None
    are left out."""
    entry: dict[str, Any] = {"at": (at or utcnow()).isoformat(timespec="milliseconds"), "event": event}
    if by:
        entry["by"] = by
    entry.update({k: v for k, v in extra.items() if v is not None})
    return entry


def compare_and_set(session: Session, job_id: int, target: str, **values: Any) -> None:
    """Move job_id to `target` if its current status allows it; else IllegalTransition."""
    allowed = TRANSITIONS[target]
    result = session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status.in_(allowed))
        .values(status=target, updated_at=utcnow(), **values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise IllegalTransition(job_id, _status_of(session, job_id), target)


def append_history(session: Session, job_id: int, entry: dict[str, Any]) -> None:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(job_id)
    job.history = [*(job.history or []), entry]


def fail(session: Session, job_id: int, reason: str, *, by: str | None = None, now: datetime | None = None) -> None:
    """PENDING | PROCESSING -> FAILED with the reason, its lease dropped (a job past its
    attempt cap); IllegalTransition from any other status."""
    compare_and_set(
        session, job_id, FAILED, failure_reason=reason, finished_at=now or utcnow(),
        lease_owner=None, lease_expires_at=None,
    )
    append_history(session, job_id, history_entry("failed", by, reason=reason))


# ---- operator actions (called through engine.actions, which checks the role and audits) ----


def cancel(db: Database, job_id: int, by: str) -> str:
    """PENDING -> CANCELLED at once; PROCESSING -> CANCELLING (the worker finishes it)."""
    now = utcnow()
    with db.write() as session:
        status = _status_of(session, job_id)
        if status == PENDING:
            compare_and_set(
                session, job_id, CANCELLED, cancel_requested_at=now, cancel_requested_by=by,
                finished_at=now, cancel_latency_ms=0, lease_owner=None, lease_expires_at=None,
            )
            append_history(session, job_id, history_entry("cancelled", by, note="before it started"))
            return CANCELLED
        compare_and_set(session, job_id, CANCELLING, cancel_requested_at=now, cancel_requested_by=by)
        append_history(session, job_id, history_entry("cancel requested", by))
        return CANCELLING


def retry(db: Database, job_id: int, by: str, *, errors: bool = False) -> int:
    """FAILED | CANCELLED -> PENDING. Rows without a final result are processed again (with
    `errors`, rows that ended in a payer error too); returns how many rows will be looked up."""
    with db.write() as session:
        if session.scalar(select(Job.archived_at).where(Job.id == job_id)) is not None:
            raise JobError(f"job {job_id} is archived: export it instead of retrying it")
        compare_and_set(
            session, job_id, PENDING, failure_reason=None, finished_at=None,
            cancel_requested_at=None, cancel_requested_by=None, cancel_latency_ms=None,
            lease_owner=None, lease_expires_at=None, dispatched_at=None, attempts=0,
        )
        if errors:
            session.execute(
                update(JobRow)
                .where(JobRow.job_id == job_id, JobRow.status == "Error")
                .values(cleared_result())
                .execution_options(synchronize_session=False)
            )
        recount(session, job_id)
        job = session.get(Job, job_id)
        assert job is not None
        append_history(session, job_id, history_entry("retried", by, errors_too=errors or None))
        return job.total_rows - job.done_rows


# ---- worker side ----


@dataclass(frozen=True)
class Claim:
    """What a worker gets when it claims a job."""

    job_id: int
    attempt: int
    resumed: bool


def claim(db: Database, job_id: int, owner: str, lease_seconds: int, max_attempts: int) -> Claim | None:
    """Take the job for `owner`: PENDING, or PROCESSING with an expired lease (a crashed worker).
    Returns None when another worker holds it or it is no longer runnable. Past the attempt cap
    the job is FAILED instead of claimed."""
    now = utcnow()
    with db.write() as session:
        job = session.get(Job, job_id)
        if job is None:
            return None
        expired = job.lease_expires_at is None or job.lease_expires_at <= now
        if job.status == PROCESSING and not expired:
            return None
        if job.status not in (PENDING, PROCESSING):
            return None
        if job.attempts >= max_attempts:
            reason = (
                f"stopped after {job.attempts} attempts: the job's worker stopped or crashed each time "
                "(look at the worker logs for this job; retry it once the cause is fixed)"
            )
            try:
                fail(session, job_id, reason, now=now)
            except IllegalTransition:  # another transaction moved it meanwhile (PostgreSQL)
                pass
            return None
        resumed = job.status == PROCESSING or job.done_rows > job.invalid_rows
        result = session.execute(
            update(Job)
            .where(
                Job.id == job_id,
                Job.status == job.status,
                or_(Job.lease_expires_at.is_(None), Job.lease_expires_at <= now),
            )
            .values(
                status=PROCESSING, lease_owner=owner, lease_expires_at=now + timedelta(seconds=lease_seconds),
                attempts=Job.attempts + 1, started_at=func.coalesce(Job.started_at, now), updated_at=now,
            )
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        append_history(session, job_id, history_entry("resumed" if resumed else "started", owner))
        return Claim(job_id=job_id, attempt=job.attempts + 1, resumed=resumed)


def renew_lease(db: Database, job_id: int, owner: str, lease_seconds: int) -> str | None:
    """Extend the lease; returns the job's status (so the caller sees CANCELLING), or None
    when the lease was lost to another owner."""
    with db.write() as session:
        result = session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner)
            .values(lease_expires_at=utcnow() + timedelta(seconds=lease_seconds))
            .execution_options(synchronize_session=False)
        )
        if result.rowcount != 1:
            return None
        return _status_of(session, job_id)


def release_lease(db: Database, job_id: int, owner: str) -> None:
    """Give the job back (graceful shutdown): another worker resumes it at once."""
    with db.write() as session:
        session.execute(
            update(Job)
            .where(Job.id == job_id, Job.lease_owner == owner, Job.status == PROCESSING)
            .values(lease_owner=None, lease_expires_at=None, dispatched_at=None,
                    attempts=func.max(Job.attempts - 1, 0) if db.is_sqlite else func.greatest(Job.attempts - 1, 0))
            .execution_options(synchronize_session=False)
        )
        append_history(session, job_id, history_entry("released", owner))


def note_payer_wait(db: Database, job_id: int, since: datetime | None) -> None:
    """History: the job waits for a payer that has answered none of its calls since `since`, or
    (None) the payer answers again. What `claimsops job` shows is derived from it (liveness)."""
    entry = (history_entry(WAITING_FOR_PAYER, since=since.isoformat(timespec="seconds")) if since
             else history_entry(PAYER_ANSWERED))
    with db.write() as session:
        append_history(session, job_id, entry)


def status_of(db: Database, job_id: int) -> str:
    with db.read() as session:
        return _status_of(session, job_id)


def finish(db: Database, job_id: int, owner: str, *, failure: str | None = None) -> str:
    """PROCESSING -> COMPLETED (or FAILED with a reason). A job the operator cancelled
    meanwhile ends CANCELLED instead."""
    now = utcnow()
    with db.write() as session:
        status = _status_of(session, job_id)
        if status == CANCELLING:
            _finish_cancel(session, job_id, now)
            return CANCELLED
        target = FAILED if failure else COMPLETED
        compare_and_set(
            session, job_id, target, failure_reason=failure, finished_at=now,
            lease_owner=None, lease_expires_at=None,
        )
        append_history(session, job_id, history_entry(target.lower(), owner, reason=failure))
        return target


def finish_cancel(db: Database, job_id: int) -> int | None:
    """CANCELLING -> CANCELLED; returns the milliseconds since the operator asked."""
    with db.write() as session:
        return _finish_cancel(session, job_id, utcnow())


def _finish_cancel(session: Session, job_id: int, now: datetime) -> int | None:
    job = session.get(Job, job_id)
    if job is None:
        raise JobNotFound(job_id)
    latency = None
    if job.cancel_requested_at is not None:
        latency = max(0, int((now - job.cancel_requested_at).total_seconds() * 1000))
    compare_and_set(
        session, job_id, CANCELLED, finished_at=now, cancel_latency_ms=latency,
        lease_owner=None, lease_expires_at=None,
    )
    append_history(session, job_id, history_entry("cancelled", latency_ms=latency))
    return latency


def redispatch(db: Database, job_id: int) -> bool:
    """Ask the dispatcher to send an active job again (its message may be lost)."""
    with db.write() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_((PENDING, PROCESSING)))
            .values(dispatched_at=None).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1
