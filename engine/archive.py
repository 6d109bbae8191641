"""Archiving: the rows of old finished jobs move to compressed files, and still export.

One file per job, `<archive_dir>/job-<id>.jsonl.gz` (directory 0700, file 0600: rows hold PHI):
a header line, then one JSON object per row with every column of `job_rows`, so the results
file can be rebuilt exactly. The order is safe: the file is written, fsynced and renamed into
place first; then one transaction adds the `archives` index row (path, rows, sha256), sets
`jobs.archived_at` and deletes the job's rows. A crash in between leaves a stray file that the
next run overwrites, never a job without its rows.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from sqlalchemy import Date, Float, Numeric, delete, func, inspect, select

from engine.config import Settings
from engine.db import Database
from engine.errors import OperatorError
from engine.export import ExportRecord, write_results
from engine.jobs.lifecycle import FINISHED, append_history, history_entry
from engine.jobs.queries import rows_page
from engine.jobs.rows import row_result
from engine.models import ArchivedJob, Job, JobRow, UTCDateTime, utcnow
from engine.private_files import private_directory, write_private

ARCHIVE_DAYS = 90
FORMAT = "claimsops-archive/1"
PAGE = 2000
_COLUMNS = {attr.key: attr.columns[0] for attr in inspect(JobRow).column_attrs}


class ArchiveError(OperatorError):
    """A job cannot be archived, or its archive cannot be read back; the message says why."""


@dataclass(frozen=True)
class ArchiveInfo:
    job_id: int
    path: str
    rows: int
    sha256: str


def _decoder(column: Any) -> Callable[[Any], Any] | None:
    kind = column.type
    if isinstance(kind, UTCDateTime):
        return datetime.fromisoformat
    if isinstance(kind, Date):
        return date.fromisoformat
    if isinstance(kind, Float):
        return float
    if isinstance(kind, Numeric):
        return Decimal
    return None


_DECODERS = {key: dec for key, column in _COLUMNS.items() if (dec := _decoder(column)) is not None}


def _encode(value: Any) -> Any:
    if isinstance(value, date | datetime):
        return value.isoformat()
    if isinstance(value, Decimal):
        return str(value)
    return value


def _encode_row(row: JobRow) -> str:
    data = {key: _encode(getattr(row, key)) for key in _COLUMNS}
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n"


def _decode_row(line: str) -> JobRow:
    data = json.loads(line)
    values = {}
    for key in _COLUMNS:
        value = data.get(key)
        decode = _DECODERS.get(key)
        values[key] = decode(value) if decode is not None and value is not None else value
    return JobRow(**values)


def archive_dir(settings: Settings) -> Path:
    """The archive directory, created 0700."""
    return private_directory(settings.archive_dir)


def archivable_jobs(db: Database, *, before: datetime, limit: int = 100) -> list[int]:
    """Finished, not yet archived jobs that finished (or, lacking that, were created) before."""
    with db.read() as session:
        return list(
            session.scalars(
                select(Job.id)
                .where(
                    Job.status.in_(FINISHED), Job.archived_at.is_(None),
                    func.coalesce(Job.finished_at, Job.created_at) < before,
                )
                .order_by(Job.id)
                .limit(limit)
            )
        )


def _write_file(db: Database, job: Job, path: Path) -> int:
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, 0o600)
    count = 0
    with os.fdopen(fd, "wb") as raw:
        with gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
            header = {"format": FORMAT, "job_id": job.id, "extra_columns": list(job.extra_columns or [])}
            gz.write((json.dumps(header) + "\n").encode())
            after = 0
            while rows := rows_page(db, job.id, after_row=after, limit=PAGE):
                gz.write("".join(_encode_row(row) for row in rows).encode("utf-8"))
                count += len(rows)
                after = rows[-1].row_number
        raw.flush()
        os.fsync(raw.fileno())
    return count


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def archive_job(db: Database, settings: Settings, job_id: int) -> ArchiveInfo:
    """Move one finished job's rows to its archive file; see the module docstring."""
    with db.read() as session:
        job = session.get(Job, job_id)
    if job is None or job.status not in FINISHED or job.archived_at is not None:
        state = "does not exist" if job is None else "is archived already" if job.archived_at else f"is {job.status}"
        raise ArchiveError(f"job {job_id} {state}: only finished jobs are archived")
    directory = archive_dir(settings)
    final = directory / f"job-{job_id}.jsonl.gz"
    tmp = directory / f".job-{job_id}.{os.getpid()}.part"
    try:
        rows = _write_file(db, job, tmp)
        digest = _sha256(tmp)
        os.replace(tmp, final)
        _fsync_dir(directory)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    try:
        _index(db, job_id, final, rows, digest)
    except BaseException:
        if not _indexed(db, job_id):
            final.unlink(missing_ok=True)
        raise
    return ArchiveInfo(job_id, str(final), rows, digest)


def _index(db: Database, job_id: int, path: Path, rows: int, digest: str) -> None:
    now = utcnow()
    with db.write() as session:
        job = session.get(Job, job_id, with_for_update=True)
        if job is None or job.status not in FINISHED or job.archived_at is not None:
            raise ArchiveError(f"job {job_id} changed while it was being archived; not archived")
        present = session.scalar(select(func.count()).select_from(JobRow).where(JobRow.job_id == job_id))
        if present != rows:
            raise ArchiveError(f"job {job_id} rows changed while it was being archived; not archived")
        session.add(ArchivedJob(job_id=job_id, path=str(path), rows=rows, sha256=digest, created_at=now))
        job.archived_at = now
        session.execute(delete(JobRow).where(JobRow.job_id == job_id).execution_options(synchronize_session=False))
        append_history(session, job_id, history_entry("archived", "archive_old_results", at=now, rows=rows))


def _indexed(db: Database, job_id: int) -> bool:
    try:
        with db.read() as session:
            return session.scalar(select(ArchivedJob.id).where(ArchivedJob.job_id == job_id)) is not None
    except Exception:  # cannot tell: keep the file
        return True


def archive_of(db: Database, job_id: int) -> ArchivedJob:
    with db.read() as session:
        entry = session.scalar(select(ArchivedJob).where(ArchivedJob.job_id == job_id))
    if entry is None:
        raise ArchiveError(f"job {job_id} has no archive")
    return entry


def archived_rows(db: Database, job_id: int) -> Iterator[JobRow]:
    """The job's rows read back from its archive, checksum verified first, in row order."""
    entry = archive_of(db, job_id)
    path = Path(entry.path)
    if not path.exists():
        raise ArchiveError(f"archive of job {job_id} is missing: {path}")
    if _sha256(path) != entry.sha256:
        raise ArchiveError(f"archive of job {job_id} is damaged (checksum mismatch): {path}")
    count = 0
    with gzip.open(path, "rt", encoding="utf-8") as fh:
        header = json.loads(fh.readline() or "{}")
        if header.get("format") != FORMAT or header.get("job_id") != job_id:
            raise ArchiveError(f"{path} is not the archive of job {job_id}")
        for line in fh:
            count += 1
            yield _decode_row(line)
    if count != entry.rows:
        raise ArchiveError(f"archive of job {job_id} has {count} rows, its index says {entry.rows}")


def export_archived(db: Database, job: Job, out_path: str | Path, *, overwrite: bool = False) -> int:
    """The results file of an archived job, byte-identical to `exporting.export_job` before it
    was archived (mode 0600); returns rows written."""
    out_path = Path(out_path)
    records = (
        ExportRecord(
            row_number=row.row_number, claim_number=row.claim_number, first_name=row.first_name,
            last_name=row.last_name, extra=dict(row.extra or {}), result=row_result(row),
        )
        for row in archived_rows(db, job.id)
    )
    extra = list(job.extra_columns or [])
    return write_private(out_path, lambda fh: write_results(fh, extra, records), overwrite=overwrite)
