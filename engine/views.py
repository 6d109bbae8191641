"""Read-only queries for live views (the console): pages keyed by id, counts, and the header's
status. Plain SQLAlchemy; nothing here writes a row.

The job filters match `engine.jobs.list_jobs` exactly (statuses, and text against the file
name, the submitter or the id), so a page fetched here lines up with a page fetched there.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Select, func, or_, select

from engine.db import Database
from engine.jobs import STATUSES, JobError
from engine.logsink import LogFilter
from engine.logsink import newest_log_id as newest_log_id  # callers read it from views
from engine.models import Alert, AuditEntry, Job, JobRow, LogRecord
from engine.workers_registry import count_live

# Outcomes a job's rows can be filtered by: a status class, "found" (success), or
# "unresolved" (not looked up yet). `engine.jobs.list_rows` uses "pending" for the last one,
# which hides the payer's own "pending" class; here the two are distinct.
ROW_OUTCOMES = (
    "found", "finalized", "denied", "rejected", "pending", "not_found", "error", "invalid", "unresolved",
)


@dataclass(frozen=True)
class JobQuery:
    """Which jobs a list shows: statuses (any when empty) and free text."""

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


def jobs_page(db: Database, flt: JobQuery, *, before_id: int | None = None, limit: int = 200) -> list[Job]:
    """Newest first: the `limit` newest matching jobs older than `before_id`."""
    query = flt.apply(select(Job)).order_by(Job.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(Job.id < before_id)
    with db.read() as session:
        return list(session.scalars(query))


def jobs_newer(db: Database, flt: JobQuery, *, after_id: int, limit: int = 200) -> list[Job]:
    """The `limit` matching jobs just newer than `after_id`, newest first."""
    query = flt.apply(select(Job)).where(Job.id > after_id).order_by(Job.id.asc()).limit(limit)
    with db.read() as session:
        jobs = list(session.scalars(query))
    jobs.reverse()
    return jobs


def jobs_by_ids(db: Database, ids: Iterable[int]) -> dict[int, Job]:
    """The jobs with these ids (whatever their status), by id; unknown ids are left out."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with db.read() as session:
        return {job.id: job for job in session.scalars(select(Job).where(Job.id.in_(wanted)))}


def job_ids_between(db: Database, flt: JobQuery, low: int, high: int, *, limit: int = 2000) -> list[int]:
    """Ids of the matching jobs with low <= id <= high, newest first (at most `limit`): what a
    window over that range should hold now that statuses have changed."""
    query = flt.apply(select(Job.id)).where(Job.id >= low, Job.id <= high).order_by(Job.id.desc()).limit(limit)
    with db.read() as session:
        return list(session.scalars(query))


def count_jobs(db: Database, flt: JobQuery) -> int:
    with db.read() as session:
        return int(session.scalar(flt.apply(select(func.count()).select_from(Job))) or 0)


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
    wanted = sorted(set(numbers))
    if not wanted:
        return {}
    with db.read() as session:
        query = select(JobRow).where(JobRow.job_id == job_id, JobRow.row_number.in_(wanted))
        return {row.row_number: row for row in session.scalars(query)}


def count_rows(db: Database, job_id: int, outcome: str = "") -> int:
    query = _row_outcome(select(func.count()).select_from(JobRow).where(JobRow.job_id == job_id), outcome)
    with db.read() as session:
        return int(session.scalar(query) or 0)


# ---- logs ----


def count_lines_after(db: Database, flt: LogFilter, after_id: int, *, cap: int = 10_000) -> int:
    """How many matching lines are newer than `after_id`, counting at most `cap`."""
    inner = flt.apply(select(LogRecord.id)).where(LogRecord.id > after_id).limit(cap).subquery()
    with db.read() as session:
        return int(session.scalar(select(func.count()).select_from(inner)) or 0)


def log_services(db: Database) -> list[str]:
    """The services that have written log lines, sorted."""
    with db.read() as session:
        return sorted(s for s in session.scalars(select(LogRecord.service).distinct()) if s)


# ---- header ----


@dataclass(frozen=True)
class SiteStatus:
    """What the console header shows besides the configuration."""

    db_latency_ms: float
    open_alerts: int
    live_workers: int
    newest_alert_id: int = 0


def site_status(db: Database) -> SiteStatus:
    """Ping the database, count open alerts and live workers. Raises DatabaseError (or the
    driver's error) when the database cannot be reached."""
    latency = db.ping() * 1000
    with db.read() as session:
        alerts = int(
            session.scalar(
                select(func.count()).select_from(Alert).where(Alert.kind == "alert", Alert.resolved_at.is_(None))
            )
            or 0
        )
        newest = int(session.scalar(select(func.max(Alert.id))) or 0)
    return SiteStatus(db_latency_ms=latency, open_alerts=alerts, live_workers=count_live(db), newest_alert_id=newest)


# ---- alerts ----


def alerts_after(db: Database, after_id: int, *, limit: int = 50) -> list[Alert]:
    """Alerts and recoveries recorded after `after_id`, oldest first (at most `limit`)."""
    query = select(Alert).where(Alert.id > after_id).order_by(Alert.id).limit(limit)
    with db.read() as session:
        return list(session.scalars(query))


def alerts_by_ids(db: Database, ids: Iterable[int]) -> dict[int, Alert]:
    """These alerts as they are now (an open alert may have been resolved), by id."""
    wanted = sorted(set(ids))
    if not wanted:
        return {}
    with db.read() as session:
        return {alert.id: alert for alert in session.scalars(select(Alert).where(Alert.id.in_(wanted)))}


# ---- audit ----


@dataclass(frozen=True)
class AuditQuery:
    """Which audit entries a list shows; the same filters as `engine.actions.list_audit`
    (user and action exactly, text anywhere in the target or the detail)."""

    user: str = ""
    action: str = ""
    text: str = ""

    def apply(self, query: Select) -> Select:
        if self.user:
            query = query.where(AuditEntry.user == self.user)
        if self.action:
            query = query.where(AuditEntry.action == self.action)
        if self.text:
            like = f"%{self.text}%"
            query = query.where(AuditEntry.target.ilike(like) | AuditEntry.detail.ilike(like))
        return query

    @property
    def active(self) -> bool:
        return bool(self.user or self.action or self.text)


def audit_page(db: Database, flt: AuditQuery, *, before_id: int | None = None, limit: int = 200) -> list[AuditEntry]:
    """Newest first: the `limit` newest matching entries older than `before_id`."""
    query = flt.apply(select(AuditEntry)).order_by(AuditEntry.id.desc()).limit(limit)
    if before_id is not None:
        query = query.where(AuditEntry.id < before_id)
    with db.read() as session:
        return list(session.scalars(query))


def audit_newer(db: Database, flt: AuditQuery, *, after_id: int, limit: int = 200) -> list[AuditEntry]:
    """The `limit` matching entries just newer than `after_id`, newest first."""
    query = flt.apply(select(AuditEntry)).where(AuditEntry.id > after_id).order_by(AuditEntry.id).limit(limit)
    with db.read() as session:
        entries = list(session.scalars(query))
    entries.reverse()
    return entries


def audit_users(db: Database, *, limit: int = 200) -> list[str]:
    """The users who appear in the audit trail, sorted (an index scan)."""
    with db.read() as session:
        query = select(AuditEntry.user).distinct().order_by(AuditEntry.user).limit(limit)
        return [user for user in session.scalars(query) if user]

