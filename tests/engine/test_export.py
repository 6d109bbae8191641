"""The results file: column order, formatting, the formula guard, Not Processed rows, and a
round trip through the csv reader."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest

from engine.export import (
    NOT_PROCESSED_MESSAGE,
    RESULT_COLUMNS,
    ExportRecord,
    guard_formula,
    write_results,
)
from engine.intake import open_intake
from engine.results import ClaimResult
from tests.fixtures import csv_cases as cases

FOUND = ClaimResult(
    status="Finalized",
    status_class="finalized",
    success=True,
    patient_first_name="SKYLER",
    patient_last_name="SMITH",
    total_charged=Decimal("1500"),
    total_paid=Decimal("1200.5"),
    allowed_amount=Decimal("1260.005"),
    patient_responsibility=Decimal("0"),
    processed_date=date(2025, 5, 19),
    status_category="F1",
    status_code="65",
    check_number="EFT7732019",
    first_service_date=date(2025, 5, 1),
    last_service_date=date(2025, 5, 2),
    matched_by="window",
)


def export(extra: list[str], records: list[ExportRecord]) -> tuple[str, list[dict[str, str]]]:
    out = io.StringIO(newline="")
    assert write_results(out, extra, iter(records)) == len(records)
    text = out.getvalue()
    return text, list(csv.DictReader(io.StringIO(text, newline="")))


def test_columns_in_order_then_unknown_columns() -> None:
    assert RESULT_COLUMNS == (
        "row",
        "claim_number",
        "status",
        "patient_name",
        "total_charged",
        "total_paid",
        "processed_date",
        "success",
        "error_message",
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
    text, _ = export(["Notes", "Batch"], [])
    assert text == ",".join([*RESULT_COLUMNS, "Notes", "Batch"]) + "\r\n"


def test_found_claim_formatting() -> None:
    record = ExportRecord(7, "FG53171076", "skyler", "smith", {"Notes": "n"}, FOUND)
    _, [row] = export(["Notes"], [record])
    assert row == {
        "row": "7",
        "claim_number": "FG53171076",
        "status": "Finalized",
        "patient_name": "SKYLER SMITH",  # the payer's name when found
        "total_charged": "1500.00",
        "total_paid": "1200.50",
        "processed_date": "2025-05-19",
        "success": "true",
        "error_message": "",
        "status_category": "F1",
        "status_code": "65",
        "status_class": "finalized",
        "allowed_amount": "1260.01",  # two decimals, half up
        "patient_responsibility": "0.00",
        "check_number": "EFT7732019",
        "first_service_date": "2025-05-01",
        "last_service_date": "2025-05-02",
        "matched_by": "window",
        "Notes": "n",
    }


def test_not_found_uses_the_file_name_and_empty_amounts() -> None:
    result = ClaimResult.not_found("Claim not found at the payer")
    _, [row] = export([], [ExportRecord(1, "FG1", " Ana ", "Lee", {}, result)])
    assert row["status"] == "Not Found"
    assert row["patient_name"] == "Ana Lee"
    assert row["success"] == "false"
    assert row["error_message"] == "Claim not found at the payer"
    assert row["status_class"] == "not_found"
    assert row["total_charged"] == row["total_paid"] == row["processed_date"] == ""


def test_found_without_payer_name_falls_back_to_the_file() -> None:
    result = ClaimResult(status="Pending", status_class="pending", success=True)
    _, [row] = export([], [ExportRecord(1, "FG1", "Ana", "", {}, result)])
    assert row["patient_name"] == "Ana"


def test_not_processed_rows() -> None:
    _, [row] = export(["Notes"], [ExportRecord(3, "FG3", "A", "B", {"Notes": "x"})])
    assert row["status"] == "Not Processed"
    assert row["success"] == "false"
    assert row["error_message"] == NOT_PROCESSED_MESSAGE
    assert row["error_message"] == "not looked up (the job ended before this row)"
    assert row["patient_name"] == "A B"
    assert row["Notes"] == "x"
    assert all(row[c] == "" for c in RESULT_COLUMNS[9:])


def test_missing_extra_value_is_empty() -> None:
    _, [row] = export(["Notes", "Other"], [ExportRecord(1, "FG1", extra={"Other": "o"})])
    assert (row["Notes"], row["Other"]) == ("", "o")


@pytest.mark.parametrize("prefix", ["=", "+", "-", "@", "\t", "\r"])
def test_formula_guard_every_prefix(prefix: str) -> None:
    value = f"{prefix}1+1"
    assert guard_formula(value) == "'" + value
    result = ClaimResult.error(value)
    record = ExportRecord(1, value, value, "", {value: value}, result)
    text, [row] = export([value], [record])
    for column in ("claim_number", "error_message"):
        assert row[column] == "'" + value
    if not prefix.isspace():  # names are trimmed
        assert row["patient_name"] == "'" + value
    assert row["'" + value] == "'" + value  # the header cell too


@pytest.mark.parametrize("value", ["1+1", "a=b", " =1", "'=1", "", "FG53171076", "Zoë"])
def test_formula_guard_leaves_other_cells(value: str) -> None:
    assert guard_formula(value) == value


def test_negative_amounts_are_guarded_too() -> None:
    result = ClaimResult(
        status="Finalized", status_class="finalized", success=True, total_paid=Decimal("-5")
    )
    _, [row] = export([], [ExportRecord(1, "FG1", result=result)])
    assert row["total_paid"] == "'-5.00"


def test_hostile_text_exported_harmlessly(tmp_path: Path) -> None:
    with open_intake(cases.write_sample(tmp_path, "hostile-text.csv")) as intake:
        records = [
            ExportRecord(
                r.row_number,
                r.claim_number,
                r.first_name,
                r.last_name,
                {"subscriber_id": r.subscriber_id},
                ClaimResult.not_found("Claim not found at the payer"),
            )
            for r in intake.rows()
        ]
    _, rows = export(["subscriber_id"], records)
    names = [r["patient_name"] for r in rows]
    assert names[0] == "[@click=app.quit]quit[/] [link=http://example.invalid]x[/link]"
    assert names[1] == "\x1b]52;c;cm0gLXJmIH4=\x07Bob \x1b[2J\x1b[HSmith"  # data kept as given
    assert names[2] == '\'=HYPERLINK("http://example.invalid") +1+1'
    assert rows[2]["subscriber_id"] == "'@SUM(A1)"
    for row in rows:
        for cell in row.values():
            assert not cell.startswith(("=", "+", "-", "@", "\t", "\r"))


def test_round_trip_crlf_utf8_no_bom(tmp_path: Path) -> None:
    extra = ["Notes", "Kommentar"]
    records = [
        ExportRecord(1, "FG1", "Zoë", "Ñúñez-O'Brien", {"Notes": 'a, "b"\nc'}, FOUND),
        ExportRecord(2, "00123", "A", "B", {"Kommentar": "ü;x"}, ClaimResult.invalid("bad")),
        ExportRecord(3, "FG3", "C", "D", {}),
    ]
    path = tmp_path / "results.csv"
    with path.open("w", encoding="utf-8", newline="") as out:
        assert write_results(out, extra, records) == 3
    data = path.read_bytes()
    assert not data.startswith(b"\xef\xbb\xbf")
    assert data.startswith(b"row,claim_number,status,")
    assert data.count(b"\r\n") == 4  # header + three rows; the embedded newline stays "\n"
    with path.open(encoding="utf-8", newline="") as fh:
        back = list(csv.reader(fh))
    assert back[0] == [*RESULT_COLUMNS, *extra]
    assert [len(r) for r in back] == [len(RESULT_COLUMNS) + 2] * 4
    assert back[1][3] == "SKYLER SMITH" and back[1][-2:] == ['a, "b"\nc', ""]
    assert back[2][1] == "00123" and back[2][2] == "Invalid" and back[2][8] == "bad"
    assert back[2][-1] == "ü;x"
    assert back[3][2] == "Not Processed"
    assert [r[0] for r in back[1:]] == ["1", "2", "3"]


def test_records_are_consumed_lazily() -> None:
    seen: list[int] = []

    def records():
        for n in range(1, 4):
            seen.append(n)
            yield ExportRecord(n, f"FG{n}")

    out = io.StringIO(newline="")
    assert write_results(out, [], records()) == 3
    assert seen == [1, 2, 3]
    assert out.getvalue().count("\r\n") == 4
