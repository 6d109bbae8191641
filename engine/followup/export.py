"""The changes file: every status change since a time, as CSV (mode 0600 through
engine.private_files, with the results file's formula guard and control-character rules)."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from engine.db import Database
from engine.export import safe_row
from engine.followup.queries import Change, changes_page
from engine.private_files import private_directory, write_private

PAGE = 2000
CHANGE_COLUMNS = (
    "observed_at", "claim_number", "tin", "payer_id", "job_id", "old_status", "old_status_category",
    "new_status", "new_status_category", "new_status_code", "total_paid", "adjudication_codes", "summary",
)


def all_changes(db: Database, since: datetime | None) -> Iterator[Change]:
    """Every change since `since`, newest first, page by page."""
    before: int | None = None
    while True:
        page = changes_page(db, since=since, before_id=before, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        before = page[-1].observation_id


def _cells(change: Change) -> list[str]:
    return [
        change.observed_at.isoformat(timespec="seconds"), change.claim_number, change.tin, change.payer_id,
        str(change.job_id), change.old_status, change.old_status_category, change.new_status,
        change.new_status_category, change.new_status_code,
        "" if change.total_paid is None else f"{change.total_paid:.2f}", " ".join(change.adjudication_codes),
        change.summary,
    ]


def write_changes(out: TextIO, changes: Iterator[Change]) -> int:
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(safe_row(list(CHANGE_COLUMNS)))
    count = 0
    for change in changes:
        writer.writerow(safe_row(_cells(change)))
        count += 1
    return count


def export_changes(db: Database, out_path: str | Path, *, since: datetime | None = None,
                   overwrite: bool = False) -> int:
    """Write the changes since `since` to `out_path` (0600; an existing file only replaced with
    `overwrite`); returns how many."""
    return write_private(out_path, lambda fh: write_changes(fh, all_changes(db, since)), overwrite=overwrite)


def default_changes_path(home: Path, now: datetime) -> Path:
    """`$CLAIMSOPS_HOME/exports/changes-YYYYMMDD-HHMMSS.csv` (0700 directory)."""
    return private_directory(home / "exports") / f"changes-{now:%Y%m%d-%H%M%S}.csv"
