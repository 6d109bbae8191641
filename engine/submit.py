"""Submitting a CSV: the job and all its rows in one transaction, streamed in batches."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

from sqlalchemy import insert

from engine.config import Settings
from engine.db import Database
from engine.errors import OperatorError
from engine.identifiers import PAYER_ID_RULE, TIN_RULE, clean_tin, is_valid_payer_id, is_valid_tin
from engine.intake import IntakeRow, open_intake
from engine.jobs.lifecycle import PENDING, history_entry
from engine.jobs.rows import result_values
from engine.models import Job, JobRow, text_limits, utcnow
from engine.results import ClaimResult
from engine.text import clip

STRATEGIES = ("auto", "batch", "individual")
DEFAULT_WINDOW_DAYS = 90
BATCH = 1000
_ROW_LIMITS = text_limits(JobRow.__table__)
_JOB_LIMITS = text_limits(Job.__table__)


class SubmitError(OperatorError):
    """Job parameters an operator must correct; the message says which and how."""


@dataclass(frozen=True)
class JobParams:
    start_date: date | None = None
    end_date: date | None = None
    tin: str = ""
    payer_id: str = ""
    strategy: str = "auto"
    today: date = field(default_factory=date.today)

    def resolved(self, settings: Settings) -> JobParams:
        """Defaults filled in and every value checked."""
        end = self.end_date or self.today
        start = self.start_date or (end - timedelta(days=DEFAULT_WINDOW_DAYS))
        if end > self.today:
            raise SubmitError(f"end date {end.isoformat()} is in the future")
        if start > end:
            raise SubmitError(f"start date {start.isoformat()} is after end date {end.isoformat()}")
        tin = clean_tin(self.tin or settings.payer_tin)
        if not tin and settings.sandbox:
            from engine.sandbox import sandbox_tin

            tin = sandbox_tin()
        if tin and not is_valid_tin(tin):
            raise SubmitError(TIN_RULE)
        strategy = (self.strategy or "auto").lower()
        if strategy not in STRATEGIES:
            raise SubmitError(f"strategy must be one of {', '.join(STRATEGIES)}, got {self.strategy!r}")
        payer_id = (self.payer_id or settings.payer_id).strip()
        if payer_id and not is_valid_payer_id(payer_id):
            raise SubmitError(PAYER_ID_RULE)
        return JobParams(start, end, tin, payer_id, strategy, self.today)


def _row_values(job_id: int, row: IntakeRow, job_tin: str) -> dict:
    """The row's columns. Intake has checked a valid row against the column lengths; an
    Invalid row's values are cut to them (`raw` keeps every value as given)."""
    reason = row.invalid_reason
    tin = row.tin or job_tin
    if reason is None and not tin:
        reason = "no TIN to search under: give the job a TIN (--tin or CLAIMSOPS_PAYER_TIN) or add a tin column"
    values = {
        "job_id": job_id,
        "row_number": row.row_number,
        "claim_number": row.claim_number,
        "first_name": row.first_name,
        "last_name": row.last_name,
        "date_of_birth": row.date_of_birth,
        "subscriber_id": row.subscriber_id,
        "first_service_date": row.first_service_date,
        "last_service_date": row.last_service_date,
        "tin": tin,
        "payer_id": row.payer_id,
        "patient_account_number": row.patient_account_number,
        "extra": row.extra,
        "raw": getattr(row, "raw", {}) or {},
        "invalid_reason": reason,
        "attempts": 0,
    }
    values.update(dict.fromkeys((*result_values(ClaimResult.invalid("")).keys(), "resolved_at")))
    if reason is not None:
        values.update(result_values(ClaimResult.invalid(reason)))
        values["resolved_at"] = utcnow()
        _fit(values, _ROW_LIMITS)
    return values


def _fit(values: dict, limits: dict[str, int]) -> dict:
    """Every text value cut to its column, with an ellipsis."""
    for name, limit in limits.items():
        value = values.get(name)
        if isinstance(value, str) and len(value) > limit:
            values[name] = clip(value, limit)
    return values


def submit_file(db: Database, settings: Settings, path: str | Path, params: JobParams, submitted_by: str,
                submitted_from: str = "") -> int:
    """Create a PENDING job from a CSV file; returns its id. A whole-file problem raises
    IntakeError and creates nothing."""
    p = params.resolved(settings)
    path = Path(path)
    with open_intake(path, max_bytes=settings.max_upload_bytes, max_rows=settings.max_upload_rows,
                     today=p.today) as intake, db.write() as session:
        job = Job(
            **_fit({"file_name": path.name, "submitted_by": submitted_by, "submitted_from": submitted_from},
                   _JOB_LIMITS),
            status=PENDING, strategy=p.strategy, start_date=p.start_date, end_date=p.end_date, tin=p.tin,
            payer_id=p.payer_id, extra_columns=list(intake.extra_columns), warnings=[],
            history=[history_entry("submitted", submitted_by)],
        )
        session.add(job)
        session.flush()
        total = invalid = 0
        batch: list[dict] = []
        for row in intake.rows():
            values = _row_values(job.id, row, p.tin)
            invalid += values["invalid_reason"] is not None
            batch.append(values)
            if len(batch) >= BATCH:
                session.execute(insert(JobRow), batch)
                total += len(batch)
                batch = []
        if batch:
            session.execute(insert(JobRow), batch)
            total += len(batch)
        job.total_rows = total
        job.invalid_rows = invalid
        job.done_rows = invalid
        job.warnings = list(intake.warnings)
        session.flush()
        return job.id
