"""Reading jobs and their rows: pages keyed by id (newest first) or row number (input order),
counts, and look-ups by id. One filter vocabulary: `JobQuery` for jobs, `ROW_OUTCOMES` for rows.
Nothing here writes a row."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Row, Select, and_, func, or_, select

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
    last: bool = False, limit: int = 200,
) -> list[JobRow]:
    """One page of a job's rows in input order: after `after_row`, or (with `before_row`) the
    `limit` rows just before it, or (`last`) the job's `limit` last rows."""
    query = _row_outcome(select(JobRow).where(JobRow.job_id == job_id), outcome)
    if before_row is not None or last:
        if before_row is not None:
            query = query.where(JobRow.row_number < before_row)
        query = query.order_by(JobRow.row_number.desc()).limit(limit)
        with db.read() as session:
            rows = list(session.scalars(query))
        rows.reverse()
        return rows
    query = query.where(JobRow.row_number > after_row).order_by(JobRow.row_number).limit(limit)
    with db.read() as session:
        return list(session.scalars(query))


def find_row(
    db: Database, job_id: int, text: str, *, outcome: str = "", after_row: int | None = None
) -> int | None:
    """A row of the outcome by `text`, as a row number. A new search (`after_row` None) finds
    the first row whose claim number is `text` (case does not matter), else the row numbered
    `text`, else the first whose claim number contains it; the next one (`after_row` given) is
    the first after that row whose claim number contains it, from the start again after the
    last. None when none matches."""
    text = text.strip()
    if not text:
        return None
    claim = func.lower(JobRow.claim_number)
    contains = claim.contains(text.lower(), autoescape=True)
    base = _row_outcome(select(JobRow.row_number).where(JobRow.job_id == job_id), outcome)
    if after_row is None:
        tries = [claim == text.lower()]
        if text.isdigit():
            tries.append(JobRow.row_number == int(text))
        tries.append(contains)
    else:
        tries = [and_(contains, JobRow.row_number > after_row), and_(contains, JobRow.row_number <= after_row)]
    with db.read() as session:
        for where in tries:
            found = session.scalar(base.where(where).order_by(JobRow.row_number).limit(1))
            if found is not None:
                return int(found)
    return None


def rows_around(
    db: Database, job_id: int, row_number: int, *, outcome: str = "", limit: int = 200
) -> tuple[list[JobRow], bool, bool]:
    """About `limit` rows of the outcome in input order with `row_number` in the middle, and
    whether there are more before and after them."""
    half = max(1, limit // 2)
    before = rows_page(db, job_id, outcome=outcome, before_row=row_number + 1, limit=half + 1)
    after = rows_page(db, job_id, outcome=outcome, after_row=row_number, limit=limit - half + 1)
    more_before, more_after = len(before) > half, len(after) > limit - half
    return before[-half:] + after[: limit - half], more_before, more_after


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
