"""archive_old_results: old finished jobs' rows move to 0600 gzip files with an index row, the
job stays listed as archived, and its export is byte-identical to the one before archiving."""

from __future__ import annotations

import gzip
import hashlib
import stat
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from console.json_output import job_to_dict
from engine import archive
from engine.exporting import export_job
from engine.jobs.queries import get_job, jobs_page, rows_page
from engine.jobs.rows import record_results
from engine.models import ArchivedJob, Job, JobRow, utcnow
from engine.results import ClaimResult
from engine.tasks.archiving import archive_old_results
from engine.tasks.body import OK, TaskContext
from tests.fixtures.jobs import make_job

FOUND = ClaimResult(
    status="Finalized", status_class="finalized", success=True, patient_first_name="SKYLER",
    patient_last_name="SMITH", total_charged=Decimal("1500"), total_paid=Decimal("1200.5"),
    allowed_amount=Decimal("1260.005"), patient_responsibility=Decimal("0"), processed_date=date(2025, 5, 19),
    status_category="F1", status_code="65", check_number="EFT7732019", first_service_date=date(2025, 5, 1),
    last_service_date=date(2025, 5, 2), matched_by="window",
)


def finished_job(db, *, days_ago: int, rows: int = 6, status: str = "COMPLETED") -> int:
    job_id = make_job(db, rows=rows, status="PENDING")
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(extra_columns=["Notes", "=cmd"]))
        session.execute(
            update(JobRow).where(JobRow.job_id == job_id, JobRow.row_number == 2)
            .values(first_name="Zoë", last_name="Ñúñez", extra={"Notes": "+1 call back", "=cmd": "x,\"y\""},
                    date_of_birth=date(1980, 2, 29), raw={"claim": "FG2"})
        )
    results = [(1, FOUND), (2, ClaimResult.not_found("Claim not found at the payer")),
               (3, ClaimResult.error("payer answered 503")), (4, ClaimResult.invalid("missing claim number"))]
    record_results(db, job_id, results[: max(0, rows - 2)])
    when = utcnow() - timedelta(days=days_ago)
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(status=status, finished_at=when))
    return job_id


def test_archived_job_exports_identical_results(db, settings, tmp_path: Path) -> None:
    job_id = finished_job(db, days_ago=100)
    before = tmp_path / "before.csv"
    assert export_job(db, job_id, before) == 6

    info = archive.archive_job(db, settings, job_id)

    path = Path(info.path)
    assert info.rows == 6 and path.parent == settings.archive_dir
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(settings.archive_dir.stat().st_mode) == 0o700
    assert info.sha256 == hashlib.sha256(path.read_bytes()).hexdigest()
    with gzip.open(path, "rt") as fh:
        assert len(fh.read().splitlines()) == 7  # header + 6 rows
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(JobRow).where(JobRow.job_id == job_id)) == 0
        entry = session.scalar(select(ArchivedJob).where(ArchivedJob.job_id == job_id))
        assert (entry.path, entry.rows, entry.sha256) == (info.path, 6, info.sha256)
    job = get_job(db, job_id)
    assert job.archived_at is not None and job.status == "COMPLETED"
    assert job_to_dict(job)["archived"] is True
    assert job_id in [j.id for j in jobs_page(db)]

    after = tmp_path / "after.csv"
    assert archive.export_archived(db, job, after) == 6
    assert after.read_bytes() == before.read_bytes()
    assert stat.S_IMODE(after.stat().st_mode) == 0o600


def test_the_task_archives_only_old_finished_jobs(db, settings) -> None:
    old_done = finished_job(db, days_ago=91)
    old_failed = finished_job(db, days_ago=120, status="FAILED")
    recent = finished_job(db, days_ago=10)
    running = make_job(db, status="PROCESSING")
    with db.write() as session:
        session.execute(update(Job).where(Job.id == running).values(created_at=utcnow() - timedelta(days=200)))

    result = archive_old_results(TaskContext(db, settings))

    assert result == (OK, "archived 2 jobs (12 rows) older than 90 days")
    assert {old_done, old_failed} == {j.id for j in jobs_page(db) if j.archived_at is not None}
    for job_id in (recent, running):
        assert len(rows_page(db, job_id)) > 0
    assert archive_old_results(TaskContext(db, settings)) == (OK, "archived 0 jobs (0 rows) older than 90 days")


def test_a_damaged_archive_is_refused_not_exported(db, settings, tmp_path: Path) -> None:
    job_id = finished_job(db, days_ago=100)
    info = archive.archive_job(db, settings, job_id)
    data = bytearray(Path(info.path).read_bytes())
    data[-10] ^= 0xFF
    Path(info.path).write_bytes(bytes(data))
    out = tmp_path / "out.csv"
    with pytest.raises(archive.ArchiveError, match="damaged"):
        archive.export_archived(db, get_job(db, job_id), out)
    assert not out.exists() and not list(tmp_path.glob(".*.part"))


def test_only_finished_unarchived_jobs_can_be_archived(db, settings) -> None:
    running = make_job(db, status="PROCESSING")
    with pytest.raises(archive.ArchiveError, match="is PROCESSING"):
        archive.archive_job(db, settings, running)
    done = finished_job(db, days_ago=100)
    archive.archive_job(db, settings, done)
    with pytest.raises(archive.ArchiveError, match="archived already"):
        archive.archive_job(db, settings, done)
    assert not list(settings.archive_dir.glob(".*.part"))
