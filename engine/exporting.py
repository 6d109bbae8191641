"""Exporting a job's results to a file, streamed page by page from the database."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from engine.db import Database
from engine.export import ExportRecord, write_results
from engine.jobs.queries import get_job, rows_page
from engine.jobs.rows import row_result
from engine.private_files import private_directory, write_private

PAGE = 2000


def _records(db: Database, job_id: int) -> Iterator[ExportRecord]:
    after = 0
    while True:
        rows = rows_page(db, job_id, after_row=after, limit=PAGE)
        if not rows:
            return
        for row in rows:
            yield ExportRecord(
                row_number=row.row_number, claim_number=row.claim_number, first_name=row.first_name,
                last_name=row.last_name, extra=dict(row.extra or {}), result=row_result(row),
            )
        after = rows[-1].row_number


def export_job(db: Database, job_id: int, out_path: str | Path, *, overwrite: bool = False) -> int:
    """Write the results file (mode 0600: it holds PHI); returns rows written. An existing
    file at `out_path` is replaced only with `overwrite`."""
    job = get_job(db, job_id)
    if job.archived_at is not None:  # its rows are in the archive file now
        from engine.archive import export_archived

        return export_archived(db, job, Path(out_path), overwrite=overwrite)
    extra = list(job.extra_columns or [])
    return write_private(out_path, lambda fh: write_results(fh, extra, _records(db, job_id)), overwrite=overwrite)


def default_export_name(db: Database, job_id: int) -> str:
    job = get_job(db, job_id)
    stem = Path(job.file_name).stem or "job"
    return f"{stem}-job{job_id}-results.csv"


def default_export_path(db: Database, home: Path, job_id: int) -> Path:
    """Where a job's results go when the operator names no file: the data directory's
    `exports/` (0700), never the current directory (often a checkout, where PHI would show up
    in `git status`)."""
    return private_directory(home / "exports") / default_export_name(db, job_id)
