"""A job's rows and their results: mapping a `ClaimResult` to a row's result columns and back,
the idempotent result writes, and the job's progress counters."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Row, and_, bindparam, case, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from engine.db import Database, deadlocked
from engine.followup.record import Seen, codes_of, codes_text, record_observations
from engine.models import Job, JobRow, utcnow
from engine.results import ClaimResult

RESULT_COLUMNS = (
    "status", "status_class", "success", "error_message", "patient_first_name", "patient_last_name",
    "total_charged", "total_paid", "allowed_amount", "patient_responsibility", "processed_date",
    "status_category", "status_code", "check_number", "result_first_service_date",
    "result_last_service_date", "matched_by", "adjudication_codes", "resolved_at",
)
FRESH_CHUNK = 1000
DEADLOCK_ATTEMPTS = 3


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
        "adjudication_codes": codes_text(result.adjudication_codes),
    }


def cleared_result() -> dict[str, Any]:
    """The result columns of a row that has not been looked up."""
    return {name: None for name in RESULT_COLUMNS}


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
        adjudication_codes=codes_of(row.adjudication_codes),
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
    keeps it. Each result written is also kept as an observation of its claim
    (engine.followup.record), in the same transaction, so a batch written again records
    nothing twice. Progress counters move by what was actually written. With `owner`, nothing
    is written unless that worker still holds the lease. Returns rows written. A transaction
    PostgreSQL ends to break a deadlock (two jobs writing observations of the same claims) is
    run again: it was rolled back whole."""
    if not results and not payer_calls:
        return 0
    attempt = 1
    while True:
        try:
            return _record(db, job_id, results, owner, payer_calls)
        except DBAPIError as exc:
            if attempt >= DEADLOCK_ATTEMPTS or not deadlocked(exc):
                raise
            attempt += 1


def _record(db: Database, job_id: int, results: Sequence[tuple[int, ClaimResult]], owner: str | None,
            payer_calls: int) -> int:
    now = utcnow()
    with db.write() as session:
        job = session.execute(select(Job.lease_owner, Job.tin, Job.payer_id).where(Job.id == job_id)).one_or_none()
        if owner is not None and (job is None or job.lease_owner != owner):
            return 0
        fresh = _fresh_rows(session, job_id, [n for n, _ in results], locking=not db.is_sqlite)
        written: dict[str, int] = {}
        by_counter: dict[str, list[dict[str, Any]]] = {}
        seen: list[Seen] = []
        for row_number, result in results:
            row = fresh.pop(row_number, None)
            if row is None:  # already has a result (or no such row): kept as it is
                continue
            values = result_values(result)
            values.update(resolved_at=now, job_id_=job_id, row_number_=row_number)
            by_counter.setdefault(counter_for(result), []).append(values)
            seen.append(Seen(job_id, row_number, row.payer_id or (job.payer_id if job else ""),
                             row.tin or (job.tin if job else ""), row.claim_number, result,
                             row.first_service_date, row.last_service_date))
        table = JobRow.__table__
        stmt = (
            table.update()
            .where(
                table.c.job_id == bindparam("job_id_"),
                table.c.row_number == bindparam("row_number_"),
                table.c.status.is_(None),
            )
            .values({name: bindparam(name) for name in RESULT_COLUMNS})
            .values(attempts=table.c.attempts + 1)
        )
        conn = session.connection()
        for counter, params in by_counter.items():
            written[counter] = conn.execute(stmt, params).rowcount
        record_observations(session, seen, now)
        total = sum(written.values())
        deltas = {name: getattr(Job, name) + n for name, n in written.items() if n}
        session.execute(
            update(Job)
            .where(Job.id == job_id)
            .values(done_rows=Job.done_rows + total, payer_calls=Job.payer_calls + payer_calls, **deltas)
            .execution_options(synchronize_session=False)
        )
        return total


def _fresh_rows(session: Session, job_id: int, numbers: list[int], *, locking: bool) -> dict[int, Row]:
    """The rows among `numbers` that have no result yet (locked on PostgreSQL until commit, so
    a second writer of the same rows waits, then finds them written)."""
    found: dict[int, Row] = {}
    wanted = sorted(set(numbers))
    r = JobRow
    for start in range(0, len(wanted), FRESH_CHUNK):
        query = (
            select(r.row_number, r.claim_number, r.tin, r.payer_id, r.first_service_date, r.last_service_date)
            .where(r.job_id == job_id, r.row_number.in_(wanted[start:start + FRESH_CHUNK]), r.status.is_(None))
            .order_by(r.row_number)
        )
        if locking:
            query = query.with_for_update()
        found.update((row.row_number, row) for row in session.execute(query))
    return found


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
