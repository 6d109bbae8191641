"""Exporting a job's results to a file, streamed page by page from the database."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from engine.db import Database
from engine.export import ExportRecord, write_results
from engine.jobs.queries import get_job, rows_page
from engine.jobs.rows import row_result

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


def export_job(db: Database, job_id: int, out_path: str | Path) -> int:
    """Write the results file (mode 0600: it holds PHI); returns rows written."""
    job = get_job(db, job_id)
    if job.archived_at is not None:  # its rows are in the archive file now
        from engine.archive import export_archived

        return export_archived(db, job, Path(out_path))
    out_path = Path(out_path)
    tmp = out_path.with_name(f".{out_path.name}.part")
    fd = os.open(tmp, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as fh:
            count = write_results(fh, list(job.extra_columns or []), _records(db, job_id))
        os.replace(tmp, out_path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return count


def default_export_name(db: Database, job_id: int) -> str:
    job = get_job(db, job_id)
    stem = Path(job.file_name).stem or "job"
    return f"{stem}-job{job_id}-results.csv"
