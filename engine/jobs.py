"""The job lifecycle: every status change is a compare-and-set in this module.

PENDING -> PROCESSING -> COMPLETED | FAILED
PENDING | PROCESSING -> CANCELLING -> CANCELLED
PENDING -> CANCELLED (at once)
FAILED | CANCELLED -> PENDING (an operator's retry: a new attempt of the same job)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Row, and_, case, func, or_, select, update
from sqlalchemy.orm import Session

from engine.db import Database
from engine.errors import OperatorError
from engine.models import Job, JobRow, utcnow
from engine.results import ClaimResult

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


def _history(event: str, by: str | None = None, **extra: Any) -> dict[str, Any]:
    entry: dict[str, Any] = {"at": utcnow().isoformat(timespec="milliseconds"), "event": event}
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


def get_job(db: Database, job_id: int) -> Job:
    with db.read() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job


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
            append_history(session, job_id, _history("cancelled", by, note="before it started"))
            return CANCELLED
        compare_and_set(session, job_id, CANCELLING, cancel_requested_at=now, cancel_requested_by=by)
        append_history(session, job_id, _history("cancel requested", by))
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
                .values(_cleared_result())
                .execution_options(synchronize_session=False)
            )
        recount(session, job_id)
        job = session.get(Job, job_id)
        assert job is not None
        append_history(session, job_id, _history("retried", by, errors_too=errors or None))
        return job.total_rows - job.done_rows


def _cleared_result() -> dict[str, Any]:
    return {name: None for name in RESULT_COLUMNS}


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
            fail_now = TRANSITIONS[FAILED]
            session.execute(
                update(Job).where(Job.id == job_id, Job.status.in_(fail_now)).values(
                    status=FAILED, failure_reason=reason, finished_at=now, lease_owner=None,
                    lease_expires_at=None, updated_at=now,
                )
            )
            append_history(session, job_id, _history("failed", reason=reason))
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
        append_history(session, job_id, _history("resumed" if resumed else "started", owner))
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
        append_history(session, job_id, _history("released", owner))


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
        append_history(session, job_id, _history(target.lower(), owner, reason=failure))
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
    append_history(session, job_id, _history("cancelled", latency_ms=latency))
    return latency


# ---- results ----

RESULT_COLUMNS = (
    "status", "status_class", "success", "error_message", "patient_first_name", "patient_last_name",
    "total_charged", "total_paid", "allowed_amount", "patient_responsibility", "processed_date",
    "status_category", "status_code", "check_number", "result_first_service_date",
    "result_last_service_date", "matched_by", "resolved_at",
)


def result_values(result: ClaimResult) -> dict[str, Any]:
    return {
        "status": result.status,
        "status_class": result.status_class,
        "success": result.success,
        "error_message": result.error_message or None,
        "patient_first_name": result.patient_first_name or None,
        "patient_last_name": result.patient_last_name or None,
        "total_charged": result.total_charged,
        "total_paid": result.total_paid,
        "allowed_amount": result.allowed_amount,
        "patient_responsibility": result.patient_responsibility,
        "processed_date": result.processed_date,
        "status_category": result.status_category or None,
        "status_code": result.status_code or None,
        "check_number": result.check_number or None,
        "result_first_service_date": result.first_service_date,
        "result_last_service_date": result.last_service_date,
        "matched_by": result.matched_by or None,
    }


def row_result(row: JobRow) -> ClaimResult | None:
    """The stored result of a row, or None when it has not been looked up."""
    if row.status is None:
        return None
    return ClaimResult(
        status=row.status,
        status_class=row.status_class or "",
        success=bool(row.success),
        error_message=row.error_message or "",
        patient_first_name=row.patient_first_name or "",
        patient_last_name=row.patient_last_name or "",
        total_charged=row.total_charged,
        total_paid=row.total_paid,
        allowed_amount=row.allowed_amount,
        patient_responsibility=row.patient_responsibility,
        processed_date=row.processed_date,
        status_category=row.status_category or "",
        status_code=row.status_code or "",
        check_number=row.check_number or "",
        first_service_date=row.result_first_service_date,
        last_service_date=row.result_last_service_date,
        matched_by=row.matched_by or "",
    )


def counter_for(result: ClaimResult) -> str:
    if result.success:
        return "found_rows"
    return {"not_found": "not_found_rows", "invalid": "invalid_rows"}.get(result.status_class, "error_rows")


def record_results(
    db: Database,
    job_id: int,
    results: Sequence[tuple[int, ClaimResult]],
    *,
    owner: str | None = None,
    payer_calls: int = 0,
) -> int:
    """Write results as idempotent upserts keyed by (job, row): a row that already has a result
    keeps it. Progress counters move by what was actually written. With `owner`, nothing is
    written unless that worker still holds the lease. Returns rows written."""
    if not results and not payer_calls:
        return 0
    now = utcnow()
    with db.write() as session:
        if owner is not None:
            holder = session.scalar(select(Job.lease_owner).where(Job.id == job_id))
            if holder != owner:
                return 0
        written: dict[str, int] = {}
        by_counter: dict[str, list[dict[str, Any]]] = {}
        for row_number, result in results:
            values = result_values(result)
            values.update(resolved_at=now, job_id_=job_id, row_number_=row_number)
            by_counter.setdefault(counter_for(result), []).append(values)
        table = JobRow.__table__
        stmt = (
            table.update()
            .where(
                table.c.job_id == _bind("job_id_"),
                table.c.row_number == _bind("row_number_"),
                table.c.status.is_(None),
            )
            .values({name: _bind(name) for name in RESULT_COLUMNS})
            .values(attempts=table.c.attempts + 1)
        )
        conn = session.connection()
        for counter, params in by_counter.items():
            written[counter] = conn.execute(stmt, params).rowcount
        total = sum(written.values())
        deltas = {name: getattr(Job, name) + n for name, n in written.items() if n}
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(done_rows=Job.done_rows + total, payer_calls=Job.payer_calls + payer_calls, **deltas)
            .execution_options(synchronize_session=False)
        )
        return total


def _bind(name: str):  # noqa: ANN202
    from sqlalchemy import bindparam

    return bindparam(name)


def recount(session: Session, job_id: int) -> None:
    """Recompute the progress counters from the rows (after a retry clears results)."""
    r = JobRow
    counts = session.execute(
        select(
            func.count(),
            func.count(r.status),
            func.sum(case((r.success.is_(True), 1), else_=0)),
            func.sum(case((and_(r.success.is_(False), r.status_class == "not_found"), 1), else_=0)),
            func.sum(case((and_(r.success.is_(False), r.status_class == "error"), 1), else_=0)),
            func.sum(case((r.status_class == "invalid", 1), else_=0)),
        ).where(r.job_id == job_id)
    ).one()
    total, done, found, not_found, errors, invalid = (int(x or 0) for x in counts)
    session.execute(
        update(Job)
        .where(Job.id == job_id)
        .values(total_rows=total, done_rows=done, found_rows=found, not_found_rows=not_found,
                error_rows=errors, invalid_rows=invalid)
        .execution_options(synchronize_session=False)
    )


PENDING_ROW_COLUMNS = (JobRow.row_number, JobRow.claim_number, JobRow.tin, JobRow.payer_id,
                       JobRow.first_service_date, JobRow.last_service_date)


def pending_rows(db: Database, job_id: int) -> list[Row]:
    """What a look-up needs of the rows still to look up (no result yet), in row order: plain
    rows of PENDING_ROW_COLUMNS, several times faster to load than ORM objects (the first payer
    call waits for them)."""
    with db.read() as session:
        return list(session.execute(
            select(*PENDING_ROW_COLUMNS).where(JobRow.job_id == job_id, JobRow.status.is_(None))
            .order_by(JobRow.row_number)
        ))


# ---- queries ----


def list_jobs(
    db: Database,
    *,
    statuses: Iterable[str] | None = None,
    text: str = "",
    limit: int = 100,
    before_id: int | None = None,
) -> list[Job]:
    """Newest first, one page (keyset paging on id)."""
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    wanted = [s.upper() for s in statuses or []]
    if wanted:
        unknown = sorted(set(wanted) - set(STATUSES))
        if unknown:
            raise JobError(f"unknown status {', '.join(unknown)} (one of {', '.join(STATUSES)})")
        query = query.where(Job.status.in_(wanted))
    if text:
        like = f"%{text}%"
        conditions = [Job.file_name.ilike(like), Job.submitted_by.ilike(like)]
        if text.isdigit():
            conditions.append(Job.id == int(text))
        query = query.where(or_(*conditions))
    if before_id is not None:
        query = query.where(Job.id < before_id)
    with db.read() as session:
        return list(session.scalars(query))


def list_rows(
    db: Database, job_id: int, *, outcome: str | None = None, after_row: int = 0, limit: int = 100
) -> list[JobRow]:
    """One page of a job's rows in input order; `outcome` is a status class or `pending`."""
    query = (
        select(JobRow)
        .where(JobRow.job_id == job_id, JobRow.row_number > after_row)
        .order_by(JobRow.row_number)
        .limit(limit)
    )
    if outcome == "pending":
        query = query.where(JobRow.status.is_(None))
    elif outcome == "found":
        query = query.where(JobRow.success.is_(True))
    elif outcome:
        query = query.where(JobRow.status_class == outcome)
    with db.read() as session:
        return list(session.scalars(query))


def redispatch(db: Database, job_id: int) -> bool:
    """Ask the dispatcher to send an active job again (its message may be lost)."""
    with db.write() as session:
        result = session.execute(
            update(Job).where(Job.id == job_id, Job.status.in_((PENDING, PROCESSING)))
            .values(dispatched_at=None).execution_options(synchronize_session=False)
        )
        return result.rowcount == 1


def job_to_dict(job: Job) -> dict[str, Any]:
    """The job object of every `--json` output."""

    def iso(value: datetime | None) -> str | None:
        return value.isoformat() if value else None

    return {
        "id": job.id,
        "status": job.status,
        "file_name": job.file_name,
        "strategy": job.strategy,
        "start_date": job.start_date.isoformat(),
        "end_date": job.end_date.isoformat(),
        "tin": job.tin,
        "payer_id": job.payer_id,
        "total_rows": job.total_rows,
        "done_rows": job.done_rows,
        "found_rows": job.found_rows,
        "not_found_rows": job.not_found_rows,
        "error_rows": job.error_rows,
        "invalid_rows": job.invalid_rows,
        "payer_calls": job.payer_calls,
        "warnings": list(job.warnings or []),
        "failure_reason": job.failure_reason,
        "attempts": job.attempts,
        "created_at": iso(job.created_at),
        "started_at": iso(job.started_at),
        "finished_at": iso(job.finished_at),
        "submitted_by": job.submitted_by,
        "cancel_requested_at": iso(job.cancel_requested_at),
        "cancel_requested_by": job.cancel_requested_by,
        "cancel_latency_ms": job.cancel_latency_ms,
        "archived": job.archived_at is not None,
    }
