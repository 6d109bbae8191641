"""The changes file: the claims whose status changed since a time, newest first, as CSV — one
line per change, with the same guards as the results file (engine.export: CRLF, UTF-8 without
a BOM, no control characters, formula cells quoted) and written 0600 (engine.private_files),
never over a file unless asked."""

from __future__ import annotations

import csv
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import TextIO

from engine.db import Database
from engine.export import clean_cell, guard_formula
from engine.followup.queries import Change, changes_page
from engine.private_files import private_directory, write_private

CHANGE_COLUMNS = (
    "observed_at", "claim_number", "tin", "payer_id", "old_status_category", "old_status",
    "new_status_category", "new_status", "new_status_code", "total_paid", "adjudication_codes", "job_id",
    "summary",
)
PAGE = 1000


def _cells(change: Change) -> list[str]:
    paid = "" if change.total_paid is None else f"{change.total_paid:.2f}"
    cells = [
        change.observed_at.isoformat(timespec="seconds"), change.claim_number, change.tin, change.payer_id,
        change.old_status_category, change.old_status, change.new_status_category, change.new_status,
        change.new_status_code, paid, " ".join(change.adjudication_codes), str(change.job_id), change.summary,
    ]
    return [guard_formula(clean_cell(cell)) for cell in cells]


def _all_changes(db: Database, since: datetime | None) -> Iterator[Change]:
    before: int | None = None
    while True:
        page = changes_page(db, since=since, before_id=before, limit=PAGE)
        yield from page
        if len(page) < PAGE:
            return
        before = page[-1].observation_id


def write_changes(out: TextIO, changes: Iterator[Change]) -> int:
    """The header and one line per change to `out` (opened with `newline=""`); returns the
    number of changes written."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CHANGE_COLUMNS)
    written = 0
    for change in changes:
        writer.writerow(_cells(change))
        written += 1
    return written


def export_changes(db: Database, out_path: str | Path, *, since: datetime | None, overwrite: bool = False) -> int:
    """Write the changes observed at or after `since` (all when None) to `out_path` (0600);
    returns how many. An existing file is replaced only with `overwrite`."""
    return write_private(out_path, lambda fh: write_changes(fh, _all_changes(db, since)), overwrite=overwrite)


def default_changes_path(home: Path, since: datetime | None) -> Path:
    """The data directory's private `exports/`, named for the start of the changes."""
    name = f"changes-since-{since:%Y-%m-%d}.csv" if since is not None else "changes.csv"
    return private_directory(home / "exports") / name
