"""CSV intake: every sample's stated outcome, whole-file rejections, row-level reasons,
aliases, encodings, duplicates, limits and bounded memory."""

from __future__ import annotations

import gc
import hashlib
import os
import threading
import tracemalloc
from datetime import date
from pathlib import Path

import pytest

from engine.intake import (
    DEFAULT_MAX_ROWS,
    CsvIntake,
    IntakeError,
    IntakeRow,
    normalize_header,
    open_intake,
)
from tests.fixtures import csv_cases as cases

TODAY = date(2025, 6, 1)


def read(path: Path, **kwargs: object) -> tuple[CsvIntake, list[IntakeRow]]:
    kwargs.setdefault("today", TODAY)
    with open_intake(path, **kwargs) as intake:  # type: ignore[arg-type]
        rows = list(intake.rows())
    return intake, rows


def sample(tmp_path: Path, name: str) -> tuple[CsvIntake, list[IntakeRow]]:
    return read(cases.write_sample(tmp_path, name))


def rejection(path: Path, **kwargs: object) -> str:
    kwargs.setdefault("today", TODAY)
    with pytest.raises(IntakeError) as info, open_intake(path, **kwargs) as intake:  # type: ignore[arg-type]
        for _ in intake.rows():
            pass
    message = str(info.value)
    assert "\n" not in message and "\r" not in message
    assert message.startswith(f"{path.name}: ")
    return message


def test_fixtures_are_the_samples_byte_for_byte() -> None:
    assert set(cases.SAMPLES) == set(cases.SAMPLE_SHA256)
    for name, data in cases.SAMPLES.items():
        assert hashlib.sha256(data).hexdigest() == cases.SAMPLE_SHA256[name], name


# --- the samples ----------------------------------------------------------------------


def test_original_basic_template_crlf(tmp_path: Path) -> None:
    intake, rows = sample(tmp_path, "original-basic.csv")
    assert intake.delimiter == ","
    assert intake.encoding == "utf-8"
    assert intake.warnings == []
    assert intake.extra_columns == []
    assert [r.row_number for r in rows] == [1, 2, 3, 4, 5]
    assert [r.claim_number for r in rows] == [
        "FG53171076",
        "FH22674935",
        "FG53171070",
        "ZE59426195",
        "ZE59426196",
    ]
    first = rows[0]
    assert (first.first_name, first.last_name) == ("SKYLER", "SMITH")
    assert first.date_of_birth == date(2002, 7, 26)
    assert first.subscriber_id == "0490705351"  # leading zero kept: text, not a number
    assert first.first_service_date is None and first.last_service_date is None
    assert rows[2].last_name == "MARIA RAPH"
    assert rows[3].date_of_birth == date(1980, 1, 15)  # YYYY-MM-DD
    assert rows[3].subscriber_id == "ABC123456"
    assert all(r.is_valid and r.duplicate_of is None for r in rows)
    assert intake.row_count == 5 and intake.invalid_rows == 0 and intake.duplicate_rows == 0


def test_original_enhanced_template(tmp_path: Path) -> None:
    intake, rows = sample(tmp_path, "original-enhanced.csv")
    assert intake.warnings == []
    assert len(rows) == 3 and all(r.is_valid for r in rows)
    assert (rows[0].first_service_date, rows[0].last_service_date) == (
        date(2025, 5, 1),
        date(2025, 5, 2),
    )
    assert rows[2].first_service_date == date(2025, 3, 20)
    assert rows[2].date_of_birth == date(2001, 2, 20)


def test_aliases_bom_semicolon(tmp_path: Path) -> None:
    intake, rows = sample(tmp_path, "aliases-bom-semicolon.csv")
    assert intake.delimiter == ";"
    assert intake.has_bom
    assert intake.warnings == []
    assert intake.columns == {
        "claim_number": "Claim #",  # no BOM left on the first header
        "first_name": "Patient First Name",
        "last_name": "Patient Last Name",
        "date_of_birth": "DOB",
        "subscriber_id": "Member ID",
        "first_service_date": "DOS From",
        "last_service_date": "DOS To",
        "tin": "Billing TIN",
    }
    assert intake.extra_columns == ["Notes"]
    one, two = rows
    assert one.claim_number == "FG53171076"
    assert one.first_service_date == date(2025, 5, 1)
    assert one.last_service_date == date(2025, 5, 2)
    assert one.tin == "854203105"
    assert one.extra == {"Notes": "called twice; no answer"}  # quoted delimiter
    assert (two.first_name, two.last_name) == ("Zoë", "Ñúñez-O'Brien")
    assert two.date_of_birth == date(2002, 7, 6)  # M/D/YYYY
    assert two.first_service_date is None and two.last_service_date is None
    assert two.extra == {"Notes": ""}
    assert all(r.is_valid for r in rows)


def test_windows_1252_read_with_a_warning(tmp_path: Path) -> None:
    intake, rows = sample(tmp_path, "windows-1252.csv")
    assert intake.encoding == "windows-1252"
    assert (rows[0].first_name, rows[0].last_name) == ("Renée", "Dupré")
    assert rows[0].is_valid
    assert intake.warnings == [
        "windows-1252.csv is not UTF-8: read as Windows-1252 (check accented names)"
    ]


def test_row_problems(tmp_path: Path) -> None:
    intake, rows = sample(tmp_path, "row-problems.csv")
    reasons = {r.row_number: r.invalid_reason for r in rows}
    assert reasons == {
        1: None,
        2: "missing claim number",
        3: "date_of_birth 02/30/2002 is not a real date",
        4: "last_service_date 2025-05-01 is before first_service_date 2025-05-09",
        5: "first_service_date 2099-01-01 is in the future;"
        " last_service_date 2099-01-02 is in the future",
        6: None,
        7: "claim number is 33 characters long (at most 30)",
    }
    assert rows[5].duplicate_of == 1 and rows[0].duplicate_of is None
    assert intake.duplicate_rows == 1
    assert intake.invalid_rows == 5
    assert intake.row_count == 7
    assert intake.warnings == [
        "1 row repeats a claim number already in the file; each is looked up once"
    ]
    # nothing is lost from an invalid row
    assert rows[2].raw["date_of_birth"] == "02/30/2002" and rows[2].date_of_birth is None
    assert rows[6].claim_number == "FG5317107900000000000000000000000"


def test_hostile_text_accepted_unchanged(tmp_path: Path) -> None:
    intake, rows = sample(tmp_path, "hostile-text.csv")
    assert intake.warnings == []
    assert all(r.is_valid for r in rows)
    values = [v for r in rows for v in (r.first_name, r.last_name, r.subscriber_id)]
    for hostile in cases.HOSTILE_STRINGS:
        assert hostile in values
    assert rows[1].first_name == "\x1b]52;c;cm0gLXJmIH4=\x07Bob"
    assert rows[2].first_name == '=HYPERLINK("http://example.invalid")'


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("empty.csv", "empty.csv: the file is empty"),
        ("header-only.csv", "header-only.csv: no data rows (the file has only a header)"),
        (
            "no-claim-column.csv",
            "no-claim-column.csv: no claim number column (looked for: claim_number,"
            " claim number, claim no, claim #, claimnumber, claim id, icn;"
            " found: first_name, last_name)",
        ),
        ("not-a-csv.csv", "not-a-csv.csv: not a CSV file (binary content: a NUL byte on line 1)"),
    ],
)
def test_sample_rejections(tmp_path: Path, name: str, expected: str) -> None:
    assert rejection(cases.write_sample(tmp_path, name)) == expected


# --- other whole-file rejections ----------------------------------------------------------


def test_only_blank_lines(tmp_path: Path) -> None:
    message = rejection(cases.write_only_blank_lines(tmp_path))
    assert message == "blank-lines.csv: no header row (the file has only blank lines)"


def test_headerless_file_names_the_line_and_no_data(tmp_path: Path) -> None:
    message = rejection(cases.write_headerless(tmp_path))
    assert message == (
        "headerless.csv: line 1 looks like data: the file needs a header row naming the columns,"
        " e.g. claim_number,first_name,last_name,date_of_birth,subscriber_id"
    )
    for value in ("FG53171076", "SKYLER", "SMITH", "07/26/2002", "0490705351"):
        assert value not in message


def test_a_first_line_naming_no_column_is_not_quoted(tmp_path: Path) -> None:
    path = cases.write_csv(tmp_path, "secret.csv", "\n\nroot:$6$saltsalt$hash:19000:0:99999:7:::\nx\n")
    message = rejection(path)
    assert message == (
        "secret.csv: no claim number column (looked for: claim_number, claim number, claim no,"
        " claim #, claimnumber, claim id, icn); line 3 names none of the columns this tool reads:"
        " the file needs a header row"
    )


def test_duplicate_claim_column(tmp_path: Path) -> None:
    message = rejection(cases.write_duplicate_header(tmp_path))
    assert message == (
        'duplicate-header.csv: the columns "claim_number" and "Claim #" both mean'
        " claim_number; keep one of them"
    )


def test_file_over_the_default_size_limit(tmp_path: Path) -> None:
    path = cases.write_oversize(tmp_path)
    assert path.stat().st_size == 10 * 1024 * 1024 + 1
    assert rejection(path) == (
        "oversize.csv: the file is 10,485,761 bytes, over the limit of 10,485,760 bytes (10 MB)"
    )


def test_size_limit_is_inclusive(tmp_path: Path) -> None:
    path = cases.write_sample(tmp_path, "original-basic.csv")
    size = path.stat().st_size
    _, rows = read(path, max_bytes=size)
    assert len(rows) == 5
    assert "over the limit" in rejection(path, max_bytes=size - 1)


def test_nul_after_a_valid_header(tmp_path: Path) -> None:
    message = rejection(cases.write_nul_after_header(tmp_path))
    assert message == "nul-in-middle.csv: not a CSV file (binary content: a NUL byte on line 4)"


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b"PK\x03\x04\x14\x00\x06\x00rest", "an Excel workbook or ZIP archive"),
        (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1", "an Excel 97-2003 workbook"),
        (b"%PDF-1.7\n", "a PDF document"),
        ("claim_number\nFG1\n".encode("utf-16"), "UTF-16"),
        (b"\x01\x02\x03\x04\x05\x06claim\x0e\x0f\x10\x11\x12\x13\x14", "mostly control characters"),
    ],
)
def test_other_binary_files(tmp_path: Path, data: bytes, problem: str) -> None:
    path = tmp_path / "upload.csv"
    path.write_bytes(data)
    message = rejection(path)
    assert message.startswith("upload.csv: not a CSV file")
    assert problem in message


def test_too_many_rows_default_limit(tmp_path: Path) -> None:
    path = cases.write_too_many_rows(tmp_path, DEFAULT_MAX_ROWS)
    message = rejection(path)
    assert (
        message
        == "too-many-rows.csv: more than 100,000 rows (the limit is 100,000); split the file"
    )


def test_row_limit_is_inclusive_and_blank_lines_do_not_count(tmp_path: Path) -> None:
    text = f"{cases.HEADER}\n" + "\n".join(f"FG{n},A,B,,\n" for n in range(3))
    path = cases.write_csv(tmp_path, "three.csv", text)
    intake, rows = read(path, max_rows=3)
    assert [r.row_number for r in rows] == [1, 2, 3]
    assert "more than 2 rows (the limit is 2)" in rejection(path, max_rows=2)


def test_value_longer_than_the_csv_field_limit(tmp_path: Path) -> None:
    message = rejection(cases.write_long_field(tmp_path))
    assert message == "long-field.csv: line 3: a value is longer than 131,072 characters"


def test_header_cell_longer_than_the_csv_field_limit(tmp_path: Path) -> None:
    message = rejection(cases.write_long_header_cell(tmp_path))
    assert message == "long-header.csv: line 1: a value is longer than 131,072 characters"


def test_unclosed_quote_is_refused_not_swallowed(tmp_path: Path) -> None:
    message = rejection(cases.write_unclosed_quote(tmp_path))
    assert message == "unclosed-quote.csv: line 3: a quoted value is never closed (a stray '\"')"


def test_malformed_quoting(tmp_path: Path) -> None:
    path = cases.write_csv(tmp_path, "bad.csv", f'{cases.HEADER}\nFG1,"A"x,B,,\n')
    message = rejection(path)
    assert message.startswith("bad.csv: line 2: not valid CSV")


@pytest.mark.timeout(20)
def test_a_fifo_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "claims.csv"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []

    def submit() -> None:
        try:
            open_intake(fifo)
        except BaseException as exc:
            outcome.append(exc)

    worker = threading.Thread(target=submit, daemon=True)
    worker.start()
    worker.join(5)
    if worker.is_alive():  # blocked in open(): let it go, then fail
        os.close(os.open(fifo, os.O_WRONLY | os.O_NONBLOCK))
        worker.join(5)
        pytest.fail("opening a FIFO blocked")
    assert len(outcome) == 1 and isinstance(outcome[0], IntakeError)
    assert str(outcome[0]) == (
        "claims.csv: not a regular file (it is a named pipe (FIFO)); give the path of a CSV file"
    )


@pytest.mark.timeout(20)
@pytest.mark.parametrize(("make", "kind"), [
    (lambda p: p.mkdir(), "a directory"),
    (lambda p: os.mkfifo(p), "a named pipe (FIFO)"),
    (None, "a device"),
])
def test_a_symlink_to_something_not_a_regular_file_is_refused(tmp_path: Path, make, kind: str) -> None:
    target = Path("/dev/null") if make is None else tmp_path / "target"
    if make is not None:
        make(target)
    link = tmp_path / "claims.csv"
    link.symlink_to(target)
    assert rejection(link) == f"claims.csv: not a regular file (it is {kind}); give the path of a CSV file"
    if make is not None and kind == "a directory":
        assert rejection(target) == f"target: not a regular file (it is {kind}); give the path of a CSV file"


def test_a_symlink_to_a_secret_never_echoes_it(tmp_path: Path) -> None:
    shadow = Path("/etc/shadow")
    if not shadow.is_file():
        pytest.skip("no /etc/shadow here")
    link = tmp_path / "claims.csv"
    link.symlink_to(shadow)
    message = rejection(link)
    if os.access(shadow, os.R_OK):  # as root: read, and refused for what it is, unquoted
        first = shadow.read_text(errors="replace").splitlines()[0]
        assert first.split(":")[0] not in message.split(": ", 1)[1]
        assert "line 1 names none of the columns" in message
    else:
        assert message == "claims.csv: cannot open the file (Permission denied)"


def test_an_unreadable_target_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    target = cases.write_sample(tmp_path, "original-basic.csv")
    link = tmp_path / "claims.csv"
    link.symlink_to(target)
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(target) else real_access(p, mode))
    assert rejection(link) == "claims.csv: cannot open the file (Permission denied)"


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(IntakeError) as info:
        open_intake(tmp_path / "gone.csv")
    assert str(info.value) == "gone.csv: cannot open the file (No such file or directory)"


def test_file_name_in_message_is_sanitised(tmp_path: Path) -> None:
    path = tmp_path / "evil\x1b[2J.csv"
    path.write_bytes(b"")
    with pytest.raises(IntakeError) as info:
        open_intake(path)
    assert str(info.value) == "evil␛[2J.csv: the file is empty"


# --- layout: delimiters, quoting, blank lines, aliases ----------------------------------


def test_quoted_newlines_and_blank_lines(tmp_path: Path) -> None:
    intake, rows = read(cases.write_quoted_newlines(tmp_path))
    assert [(r.row_number, r.line_number) for r in rows] == [(1, 2), (2, 6), (3, 8)]
    assert (rows[0].first_name, rows[0].last_name) == ("SMITH, JR", 'O"Neil')
    assert rows[0].extra == {"Notes": "line one\r\nline two\nline three"}
    assert (rows[2].claim_number, rows[2].first_name, rows[2].last_name) == (
        "FG00000003",
        "BOB",
        "MARLEY",
    )  # quotes removed, whitespace trimmed


def test_tab_delimited(tmp_path: Path) -> None:
    intake, rows = read(cases.write_tab_delimited(tmp_path))
    assert intake.delimiter == "\t"
    assert intake.columns["claim_number"] == "Claim Number"
    assert rows[1].first_name == "ANA, MARIA"
    assert rows[1].date_of_birth == date(1990, 1, 2)
    assert rows[1].subscriber_id == "00012"


def test_lone_cr_line_ends(tmp_path: Path) -> None:
    path = cases.write_csv(tmp_path, "mac.csv", f"{cases.HEADER}\rFG1,A,B,,\rFG2,C,D,,\r")
    _, rows = read(path)
    assert [(r.claim_number, r.line_number) for r in rows] == [("FG1", 2), ("FG2", 3)]


def test_comma_wins_when_semicolons_are_inside_header_names(tmp_path: Path) -> None:
    path = cases.write_csv(tmp_path, "c.csv", "claim_number,note;a;b;c\nFG1,x;y\n")
    intake, rows = read(path)
    assert intake.delimiter == ","
    assert rows[0].extra == {"note;a;b;c": "x;y"}


@pytest.mark.parametrize(
    ("header", "canonical"),
    [
        ("CLAIM-NO", "claim_number"),
        ("Claim_ID", "claim_number"),
        ("ICN", "claim_number"),
        ("claimnumber", "claim_number"),
        ("Ptnt_Fn", "first_name"),
        ("member last name", "last_name"),
        ("Birth-Date", "date_of_birth"),
        ("Patient DOB", "date_of_birth"),
        ("SUBSCRIBER", "subscriber_id"),
        ("member_number", "subscriber_id"),
        ("Date of Service", "first_service_date"),
        ("Service Date To", "last_service_date"),
        ("Tax ID", "tin"),
        ("provider-tin", "tin"),
        ("Payer", "payer_id"),
        ("Patient Account", "patient_account_number"),
        ("account_number", "patient_account_number"),
    ],
)
def test_header_aliases(tmp_path: Path, header: str, canonical: str) -> None:
    first = "claim_number" if canonical != "claim_number" else "first_name"
    path = cases.write_csv(tmp_path, "a.csv", f" {first} , {header} \nFG1,VALUE\n")
    intake, _ = read(path)
    assert intake.columns[canonical] == header  # trimmed, as written
    assert intake.extra_columns == []


def test_normalize_header() -> None:
    assert normalize_header(" Claim - Number_ ") == "claimnumber"
    assert normalize_header("Claim #") == "claim#"


def test_unknown_columns_kept_in_order_with_duplicates_renamed(tmp_path: Path) -> None:
    intake, rows = read(cases.write_duplicate_extra_header(tmp_path))
    assert intake.extra_columns == ["Notes", "Notes_2", "column_4"]
    assert rows[0].extra == {"Notes": "first", "Notes_2": "second", "column_4": "third"}
    assert intake.warnings == [
        'the column name "Notes" appears more than once; the copy in column 3 is kept as "Notes_2"'
    ]


def test_optional_columns_read(tmp_path: Path) -> None:
    text = "claim_number,tin,payer_id,patient_account_number\n 00123 , 854203105 ,87726,PA-9\n"
    _, rows = read(cases.write_csv(tmp_path, "o.csv", text))
    row = rows[0]
    assert (row.claim_number, row.tin, row.payer_id, row.patient_account_number) == (
        "00123",
        "854203105",
        "87726",
        "PA-9",
    )
    assert row.first_name == "" and row.date_of_birth is None


# --- row-level problems -------------------------------------------------------------------


def one_row(tmp_path: Path, header: str, line: str) -> IntakeRow:
    _, rows = read(cases.write_csv(tmp_path, "r.csv", f"{header}\n{line}\n"))
    assert len(rows) == 1
    return rows[0]


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("  ,A,B,,", "missing claim number"),
        ("FG1\x1b[2J,A,B,,", "claim number contains control characters"),
        ("FG1\x07,A,B,,", "claim number contains control characters"),
        ("A" * 31 + ",A,B,,", "claim number is 31 characters long (at most 30)"),
        ("FG1,A,B,02/30/2025,", "date_of_birth 02/30/2025 is not a real date"),
        ("FG1,A,B,2025-13-01,", "date_of_birth 2025-13-01 is not a real date"),
        ("FG1,A,B,2024-02-30,", "date_of_birth 2024-02-30 is not a real date"),
        ("FG1,A,B,06/02/2025,", "date_of_birth 06/02/2025 is in the future"),
        (
            "FG1,A,B,2025/05/01,",
            "date_of_birth 2025/05/01 is not a date (use YYYY-MM-DD or MM/DD/YYYY)",
        ),
        ("FG1,A,B,7/6/02,", "date_of_birth 7/6/02 is not a date (use YYYY-MM-DD or MM/DD/YYYY)"),
        (
            "FG1,A,B,,,x",
            "the row has 6 values but the header has 5 columns"
            " (a value containing a comma must be in quotes)",
        ),
        (
            ",A,B,02/30/2025,",
            "missing claim number; date_of_birth 02/30/2025 is not a real date",
        ),
    ],
)
def test_row_reasons(tmp_path: Path, line: str, reason: str) -> None:
    row = one_row(tmp_path, cases.HEADER, line)
    assert row.invalid_reason == reason
    assert not row.is_valid


@pytest.mark.parametrize("what", sorted(cases.INVISIBLE_CLAIMS))
def test_invisible_and_bidi_characters_make_a_claim_number_invalid(tmp_path: Path, what: str) -> None:
    claim = cases.INVISIBLE_CLAIMS[what]
    row = one_row(tmp_path, cases.HEADER, f"{claim},A,B,,")
    code = next(f"U+{ord(c):04X}" for c in claim if not c.isalnum())
    assert row.invalid_reason == f"claim number contains an invisible or bidi character ({code})"


@pytest.mark.parametrize(("header", "line", "reason"), [
    ("claim_number,first_name", "FG1," + "A" * 129, "first_name is 129 characters long (at most 128)"),
    ("Claim #,Patient Last Name", "FG1," + "B" * 200, "Patient Last Name is 200 characters long (at most 128)"),
    ("claim_number,Member ID", "FG1," + "1" * 65, "Member ID is 65 characters long (at most 64)"),
    ("claim_number,account number", "FG1," + "P" * 65, "account number is 65 characters long (at most 64)"),
    ("claim_number,tin", "FG1," + "1" * 20, "TIN must be 9 digits"),
    ("claim_number,tin", "FG1,\uff18\uff15\uff14\uff12\uff10\uff13\uff11\uff10\uff15", "TIN must be 9 digits"),
    ("claim_number,payer_id", "FG1," + "8" * 17,
     "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
    ("claim_number,payer_id", "FG1,\uff18\uff17\uff17\uff12\uff16",
     "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
])
def test_values_longer_than_their_column_or_not_ascii_are_invalid(
    tmp_path: Path, header: str, line: str, reason: str
) -> None:
    row = one_row(tmp_path, header, line)
    assert row.invalid_reason == reason


def test_the_longest_values_the_columns_hold_are_valid(tmp_path: Path) -> None:
    header = "claim_number,first_name,last_name,subscriber_id,patient_account_number,tin,payer_id"
    line = f"{'C' * 30},{'F' * 128},{'L' * 128},{'S' * 64},{'P' * 64},85-4203105,{'X' * 16}"
    row = one_row(tmp_path, header, line)
    assert row.is_valid and row.tin == "854203105" and row.raw["tin"] == "85-4203105"


def test_one_bad_byte_in_a_utf8_file_marks_its_row_only(tmp_path: Path) -> None:
    intake, rows = read(cases.write_utf8_with_one_bad_byte(tmp_path))
    assert intake.encoding == "utf-8"
    names = [(r.first_name, r.last_name) for r in rows]
    assert names == [("Zoë", "Núñez"), ("Renée", "Dupr\ufffd"), ("José", "Müller"), ("Chloé", "Brontë")]
    assert [r.is_valid for r in rows] == [True, False, True, True]
    assert rows[1].invalid_reason == (
        "line 3: the byte 0xE9 in last_name is not UTF-8 (save the file as CSV UTF-8)"
    )
    assert rows[1].raw["last_name"] == "Dupr\ufffd"
    assert intake.warnings == [
        "one-bad-byte.csv is UTF-8 except for bytes that are not, on line 3: their rows are"
        " Invalid (save the file as CSV UTF-8 and fix them)"
    ]


def test_a_bad_byte_in_the_header_of_a_utf8_file_is_named(tmp_path: Path) -> None:
    path = tmp_path / "h.csv"
    path.write_bytes("claim_number,first_name,Notes\xe9\nFG1,Zoë,x\nFG2,Chloé,y\n".encode().replace(b"\xc3\xa9\n", b"\xe9\n", 1))
    intake, rows = read(path)
    assert intake.extra_columns == ["Notes\ufffd"]
    assert [r.first_name for r in rows] == ["Zoë", "Chloé"] and all(r.is_valid for r in rows)
    assert intake.warnings[0].startswith("h.csv is UTF-8 except for bytes that are not, on line 1:")


def test_exactly_thirty_characters_and_today_are_valid(tmp_path: Path) -> None:
    row = one_row(tmp_path, cases.ENHANCED_HEADER, "A" * 30 + ",A,B,06/01/2025,,2025-06-01,")
    assert row.is_valid
    assert row.date_of_birth == TODAY == row.first_service_date == row.last_service_date


def test_trailing_empty_values_and_short_rows_are_fine(tmp_path: Path) -> None:
    _, rows = read(cases.write_csv(tmp_path, "t.csv", f"{cases.HEADER}\nFG1,A,B,,,,\nFG2,A\n"))
    assert [r.is_valid for r in rows] == [True, True]
    assert rows[1].last_name == "" and rows[1].subscriber_id == ""


def test_service_dates_default_to_each_other(tmp_path: Path) -> None:
    _, rows = read(
        cases.write_csv(
            tmp_path,
            "d.csv",
            f"{cases.ENHANCED_HEADER}\nFG1,A,B,,,05/01/2025,\nFG2,A,B,,,,2025-05-03\n",
        )
    )
    assert (rows[0].first_service_date, rows[0].last_service_date) == (date(2025, 5, 1),) * 2
    assert (rows[1].first_service_date, rows[1].last_service_date) == (date(2025, 5, 3),) * 2


def test_reasons_name_the_operators_header_and_are_one_safe_line(tmp_path: Path) -> None:
    row = one_row(tmp_path, "Claim #,DOB", 'FG1,"02/30/2025\x1b[2J\n"')
    assert row.invalid_reason == ("DOB 02/30/2025␛[2J is not a date (use YYYY-MM-DD or MM/DD/YYYY)")


def test_duplicates_counted_among_valid_rows_only(tmp_path: Path) -> None:
    text = f"{cases.HEADER}\nFG1,A,B,,\nFG1,A,B,02/30/2000,\nFG1,A,B,,\nFG2,A,B,,\nFG1,A,B,,\nFG2,,,,\n"
    intake, rows = read(cases.write_csv(tmp_path, "dup.csv", text))
    assert [r.duplicate_of for r in rows] == [None, None, 1, None, 1, 4]
    assert intake.duplicate_rows == 3 and intake.invalid_rows == 1
    assert intake.warnings == [
        "3 rows repeat a claim number already in the file; each is looked up once"
    ]


def test_windows_1252_undefined_bytes_are_kept(tmp_path: Path) -> None:
    path = tmp_path / "w.csv"
    path.write_bytes(b"claim_number,first_name\r\nFG1,\x93Bob\x94 \x81\r\n")
    intake, rows = read(path)
    assert intake.encoding == "windows-1252"
    assert rows[0].first_name == "\u201cBob\u201d \x81"


def test_bom_utf8_with_invalid_bytes_falls_back_without_the_bom(tmp_path: Path) -> None:
    path = tmp_path / "b.csv"
    path.write_bytes(b"\xef\xbb\xbfclaim_number,first_name\nFG1,Ren\xe9e\n")
    intake, rows = read(path)
    assert intake.columns["claim_number"] == "claim_number"
    assert rows[0].first_name == "Renée"


# --- streaming ----------------------------------------------------------------------------


def test_rows_can_be_read_once_and_the_file_is_closed(tmp_path: Path) -> None:
    with open_intake(cases.write_sample(tmp_path, "original-basic.csv")) as intake:
        assert len(list(intake.rows())) == 5
        with pytest.raises(RuntimeError):
            list(intake.rows())
    assert intake.closed


def test_rejected_file_is_closed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    opened = []
    real_init = CsvIntake._open_text

    def spy(self: CsvIntake) -> None:
        opened.append(self)
        real_init(self)

    monkeypatch.setattr(CsvIntake, "_open_text", spy)
    with pytest.raises(IntakeError):
        open_intake(cases.write_sample(tmp_path, "header-only.csv"))
    assert opened and opened[0].closed


def test_first_rows_arrive_before_the_file_is_read_whole(tmp_path: Path) -> None:
    path = cases.write_large_valid(tmp_path, 50_000)
    with open_intake(path, today=TODAY) as intake:
        rows = intake.rows()
        first = next(rows)
        assert first.claim_number == "FG00000001"
        assert intake._binary.tell() < path.stat().st_size // 4


def test_100k_rows_stream_in_bounded_memory(tmp_path: Path) -> None:
    path = cases.write_large_valid(tmp_path, 100_000)
    assert path.stat().st_size > 7_000_000
    gc.collect()
    tracemalloc.start()
    try:
        with open_intake(path, today=TODAY) as intake:
            count = 0
            for row in intake.rows():
                count += 1
                last = row
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert count == 100_000 == intake.row_count
    assert last.row_number == 100_000 and last.extra == {"Notes": "note 100000"}
    assert intake.duplicate_rows == 0 and intake.warnings == []
    # the file alone is ~8 MB of text; 100,000 row objects would be > 100 MB
    assert peak < 30 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


def test_many_damaged_lines_are_counted_and_the_first_named(tmp_path: Path) -> None:
    lines = [cases.HEADER] + [f"FG{n},Zoë,Brontë,,{n}" for n in range(1, 21)]
    data = "\n".join(lines).encode() + b"\n"
    for n in (3, 5, 7, 9, 11, 13, 15):  # lines 4, 6, ... get a lone 0xE9
        data = data.replace(f"FG{n},".encode(), f"FG{n},X".encode() + b"\xe9", 1)
    path = tmp_path / "many.csv"
    path.write_bytes(data)
    intake, rows = read(path)
    assert intake.encoding == "utf-8" and intake.invalid_rows == 7
    assert intake.warnings == [
        "many.csv is UTF-8 except for bytes that are not, on lines 4, 6, 8, 10, 12 and 2 more:"
        " their rows are Invalid (save the file as CSV UTF-8 and fix them)"
    ]
    assert rows[2].invalid_reason == "line 4: the byte 0xE9 in first_name is not UTF-8 (save the file as CSV UTF-8)"
