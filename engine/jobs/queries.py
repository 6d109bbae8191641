"""Reading jobs and their rows: pages keyed by id (newest first) or row number (input order),
counts, and look-ups by id. One filter vocabulary: `JobQuery` for jobs, `ROW_OUTCOMES` for rows.
Nothing here writes a row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Row, Select, func, or_, select

from engine.db import Database, by_key, newest_after, newest_before
from engine.jobs.lifecycle import CANCELLING, PROCESSING, STATUSES, JobError, JobNotFound
from engine.leases import this_process
from engine.models import Job, JobRow


@dataclass(frozen=True)
class JobQuery:
    """Which jobs a list shows: statuses (any when empty; case does not matter) and free text
    against the file name, the submitter or the id."""

    statuses: tuple[str, ...] = ()
    text: str = ""

    def apply(self, query: Select) -> Select:
        wanted = [s.upper() for s in self.statuses]
        if wanted:
            unknown = sorted(set(wanted) - set(STATUSES))
            if unknown:
                raise JobError(f"unknown status {', '.join(unknown)} (one of {', '.join(STATUSES)})")
            query = query.where(Job.status.in_(wanted))
        text = self.text.strip()
        if text:
            like = f"%{text}%"
            conditions = [Job.file_name.ilike(like), Job.submitted_by.ilike(like)]
            if text.isdigit():
                conditions.append(Job.id == int(text))
            query = query.where(or_(*conditions))
        return query

    def matches_status(self, status: str) -> bool:
        return not self.statuses or status in {s.upper() for s in self.statuses}


ALL_JOBS = JobQuery()


def get_job(db: Database, job_id: int) -> Job:
    with db.read() as session:
        job = session.get(Job, job_id)
        if job is None:
            raise JobNotFound(job_id)
        return job


def jobs_page(
    db: Database, flt: JobQuery = ALL_JOBS, *, before_id: int | None = None, limit: int = 200
) -> list[Job]:
    """Newest first: the `limit` newest matching jobs older than `before_id`."""
    return newest_before(db, flt.apply(select(Job)), Job.id, before_id, limit)


def jobs_newer(db: Database, flt: JobQuery, *, after_id: int, limit: int = 200) -> list[Job]:
    """The `limit` matching jobs just newer than `after_id`, newest first."""
    return newest_after(db, flt.apply(select(Job)), Job.id, after_id, limit)


def jobs_by_ids(db: Database, ids: Iterable[int]) -> dict[int, Job]:
    """The jobs with these ids (whatever their status), by id; unknown ids are left out."""
    return by_key(db, Job.id, ids)


def job_ids_between(db: Database, flt: JobQuery, low: int, high: int, *, limit: int = 2000) -> list[int]:
    """Ids of the matching jobs with low <= id <= high, newest first (at most `limit`): what a
    window over that range should hold now that statuses have changed."""
    query = flt.apply(select(Job.id)).where(Job.id >= low, Job.id <= high).order_by(Job.id.desc()).limit(limit)
    with db.read() as session:
        return list(session.scalars(query))


def count_jobs(db: Database, flt: JobQuery = ALL_JOBS) -> int:
    with db.read() as session:
        return int(session.scalar(flt.apply(select(func.count()).select_from(Job))) or 0)


# ---- rows ----

# Outcomes a job's rows can be filtered by: a status class (the payer's "pending" among them),
# "found" (success), or "unresolved" (not looked up yet).
ROW_OUTCOMES = (
    "found", "finalized", "denied", "rejected", "pending", "not_found", "error", "invalid", "unresolved",
)


def _row_outcome(query: Select, outcome: str) -> Select:
    if not outcome:
        return query
    if outcome not in ROW_OUTCOMES:
        raise ValueError(f"unknown outcome {outcome!r} (one of {', '.join(ROW_OUTCOMES)})")
    if outcome == "unresolved":
        return query.where(JobRow.status.is_(None))
    if outcome == "found":
        return query.where(JobRow.success.is_(True))
    return query.where(JobRow.status_class == outcome)


def rows_page(
    db: Database, job_id: int, *, outcome: str = "", after_row: int = 0, before_row: int | None = None,
    limit: int = 200,
) -> list[JobRow]:
    """One page of a job's rows in input order: after `after_row`, or (with `before_row`) the
    `limit` rows just before it."""
    query = _row_outcome(select(JobRow).where(JobRow.job_id == job_id), outcome)
    if before_row is not None:
        query = query.where(JobRow.row_number < before_row).order_by(JobRow.row_number.desc()).limit(limit)
        with db.read() as session:
            rows = list(session.scalars(query))
        rows.reverse()
        return rows
    query = query.where(JobRow.row_number > after_row).order_by(JobRow.row_number).limit(limit)
    with db.read() as session:
        return list(session.scalars(query))


def rows_by_numbers(db: Database, job_id: int, numbers: Iterable[int]) -> dict[int, JobRow]:
    return by_key(db, JobRow.row_number, numbers, JobRow.job_id == job_id)


def count_rows(db: Database, job_id: int, outcome: str = "") -> int:
    query = _row_outcome(select(func.count()).select_from(JobRow).where(JobRow.job_id == job_id), outcome)
    with db.read() as session:
        return int(session.scalar(query) or 0)


LOOKUP_COLUMNS = (JobRow.row_number, JobRow.claim_number, JobRow.tin, JobRow.payer_id,
                  JobRow.first_service_date, JobRow.last_service_date)


def jobs_run_here(db: Database) -> list[int]:
    """The PROCESSING or CANCELLING jobs whose lease this process holds (its in-process
    workers': `claimsops up`), by the host:pid head of the lease owner."""
    head = this_process()
    with db.read() as session:
        return list(session.scalars(
            select(Job.id).where(Job.status.in_((PROCESSING, CANCELLING)), Job.lease_owner.startswith(head, autoescape=True))
            .order_by(Job.id)
        ))


def unresolved_rows(db: Database, job_id: int) -> list[Row]:
    """What a look-up needs of the rows still to look up (no result yet), in row order: plain
    rows of LOOKUP_COLUMNS, several times faster to load than ORM objects (the first payer
    call waits for them)."""
    with db.read() as session:
        return list(session.execute(
            select(*LOOKUP_COLUMNS).where(JobRow.job_id == job_id, JobRow.status.is_(None))
            .order_by(JobRow.row_number)
        ))
