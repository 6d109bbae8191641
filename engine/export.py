"""The results file (docs/csv-format.md, "Results").

One row per input row, in input order: the original system's nine columns first, then ours,
then the input's unknown columns unchanged. Written with the csv module, streamed.

Decisions:
- Line ends are CRLF (RFC 4180, and what the original templates and Excel use). Open the
  output with `newline=""` so the csv module's line ends are written as they are
  (`engine.private_files.write_private` does this).
- UTF-8 without a byte-order mark: the original system wrote none, and a BOM would become
  part of the first header (`\\ufeffrow`) for scripts and macros that read the file as plain
  UTF-8. Spreadsheet users import it as UTF-8.
- Formula guard: every cell (headers included) that begins with `=`, `+`, `-`, `@`, a tab or
  a carriage return gets a leading `'`, so a spreadsheet shows it as text and never runs it.
- No control characters: every cell is free of C0 controls (but tab) and C1 controls, so
  `cat results.csv` cannot be made to run terminal sequences (`ESC ] 52` clipboard writes,
  `ESC [ 2J`). Line breaks inside a cell become a space; other controls are dropped.
  Nothing else is changed: the file keeps the data as given.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import ROUND_HALF_UP, Decimal
from typing import TextIO

from engine.results import ClaimResult

__all__ = [
    "NOT_PROCESSED_MESSAGE",
    "NOT_PROCESSED_STATUS",
    "RESULT_COLUMNS",
    "ExportRecord",
    "clean_cell",
    "guard_formula",
    "safe_row",
    "results_header",
    "write_results",
]

RESULT_COLUMNS: tuple[str, ...] = (
    # the original system's columns, in its order
    "row",
    "claim_number",
    "status",
    "patient_name",
    "total_charged",
    "total_paid",
    "processed_date",
    "success",
    "error_message",
    # ours
    "status_category",
    "status_code",
    "status_class",
    "allowed_amount",
    "patient_responsibility",
    "check_number",
    "first_service_date",
    "last_service_date",
    "matched_by",
)

NOT_PROCESSED_STATUS = "Not Processed"
NOT_PROCESSED_MESSAGE = "not looked up (the job ended before this row)"

_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f]")
_CONTROL_TABLE = {c: None for c in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]} | {
    0x0A: " ", 0x0D: " ",
}
_CENT = Decimal("0.01")


@dataclass(frozen=True)
class ExportRecord:
    """One input row and its result; `result` None means the row was never looked up."""

    row_number: int
    claim_number: str
    first_name: str = ""
    last_name: str = ""
    extra: dict[str, str] = field(default_factory=dict)
    result: ClaimResult | None = None


def clean_cell(cell: str) -> str:
    """`cell` without control characters (line breaks become a space)."""
    return cell.translate(_CONTROL_TABLE)


def safe_row(cells: list[str]) -> list[str]:
    """A CSV row as every file of ours writes it: no control character, no formula."""
    if _CONTROL.search("".join(cells)):
        cells = [clean_cell(c) for c in cells]
    return [guard_formula(c) for c in cells]


def guard_formula(cell: str) -> str:
    """Prefix `'` to a cell a spreadsheet would run as a formula."""
    return "'" + cell if cell.startswith(_FORMULA_STARTS) else cell


def results_header(extra_columns: Iterable[str]) -> list[str]:
    """The header row: RESULT_COLUMNS, then the input's unknown columns."""
    return [*RESULT_COLUMNS, *extra_columns]


def _amount(value: Decimal | None) -> str:
    return "" if value is None else str(value.quantize(_CENT, rounding=ROUND_HALF_UP))


def _date(value: date | None) -> str:
    return "" if value is None else value.isoformat()


def _name(first: str, last: str) -> str:
    return " ".join(part for part in (first.strip(), last.strip()) if part)


def _result_cells(record: ExportRecord) -> dict[str, str]:
    """The result columns of one record, by name."""
    cells = {"row": str(record.row_number), "claim_number": record.claim_number}
    file_name = _name(record.first_name, record.last_name)
    result = record.result
    if result is None:
        cells.update(
            status=NOT_PROCESSED_STATUS,
            patient_name=file_name,
            success="false",
            error_message=NOT_PROCESSED_MESSAGE,
        )
        return cells
    payer_name = _name(result.patient_first_name, result.patient_last_name)
    cells.update(
        status=result.status,
        patient_name=(payer_name if result.success else "") or file_name,
        total_charged=_amount(result.total_charged),
        total_paid=_amount(result.total_paid),
        processed_date=_date(result.processed_date),
        success="true" if result.success else "false",
        error_message=result.error_message,
        status_category=result.status_category,
        status_code=result.status_code,
        status_class=result.status_class,
        allowed_amount=_amount(result.allowed_amount),
        patient_responsibility=_amount(result.patient_responsibility),
        check_number=result.check_number,
        first_service_date=_date(result.first_service_date),
        last_service_date=_date(result.last_service_date),
        matched_by=result.matched_by,
    )
    return cells


def write_results(out: TextIO, extra_columns: list[str], records: Iterable[ExportRecord]) -> int:
    """Write the header and one line per record to `out` (opened with `newline=""`);
    returns the number of rows written (the header not counted)."""
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(safe_row(results_header(extra_columns)))
    count = 0
    for record in records:
        cells = _result_cells(record)
        row = [cells.get(column, "") for column in RESULT_COLUMNS]
        row += [record.extra.get(column, "") for column in extra_columns]
        writer.writerow(safe_row(row))
        count += 1
    return count
