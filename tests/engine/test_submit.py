"""Submitting files: every sample case's stated outcome, rows and results stored, nothing created
on a whole-file rejection."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from engine.intake import IntakeError
from engine.jobs.queries import get_job, rows_page, unresolved_rows
from engine.models import Job, JobRow
from engine.submit import LOOK_UP_COLUMNS, JobParams, SubmitError, submit_file
from tests.fixtures import csv_cases

TODAY = date(2026, 11, 29)


def _submit(db, settings, path, **params):
    return submit_file(db, settings, path, JobParams(today=TODAY, **params), "ann")


@pytest.mark.parametrize("case,rows,invalid,warning", [
    ("original-basic.csv", 5, 0, None),
    ("original-enhanced.csv", 3, 0, None),
    ("aliases-bom-semicolon.csv", 2, 0, None),
    ("windows-1252.csv", 1, 0, "Windows-1252"),
    ("row-problems.csv", 7, 5, "repeat"),
    ("hostile-text.csv", 4, 0, None),
])
def test_accepted_samples(db, settings, tmp_path, case, rows, invalid, warning) -> None:
    job = get_job(db, _submit(db, settings, csv_cases.write_sample(tmp_path, case)))
    assert (job.status, job.total_rows, job.invalid_rows, job.done_rows) == ("PENDING", rows, invalid, invalid)
    if warning:
        assert any(warning in w for w in job.warnings)
    else:
        assert job.warnings == []
    stored = rows_page(db, job.id)
    assert [r.row_number for r in stored] == list(range(1, rows + 1))


def test_row_problems_are_invalid_with_reasons(db, settings, tmp_path) -> None:
    job_id = _submit(db, settings, csv_cases.write_sample(tmp_path, "row-problems.csv"))
    invalid = {r.row_number: r.error_message for r in rows_page(db, job_id, outcome="invalid")}
    assert sorted(invalid) == [2, 3, 4, 5, 7]
    assert all(reason for reason in invalid.values())
    assert [r.row_number for r in unresolved_rows(db, job_id)] == [1, 6]


def test_unknown_columns_and_hostile_text_are_kept_raw(db, settings, tmp_path) -> None:
    job_id = _submit(db, settings, csv_cases.write_sample(tmp_path, "aliases-bom-semicolon.csv"))
    job = get_job(db, job_id)
    assert job.extra_columns == ["Notes"]
    first = rows_page(db, job_id)[0]
    assert first.extra == {"Notes": "called twice; no answer"} and first.tin == "854203105"
    hostile = _submit(db, settings, csv_cases.write_sample(tmp_path, "hostile-text.csv"))
    assert rows_page(db, hostile)[0].first_name == "[@click=app.quit]quit[/]"


@pytest.mark.parametrize("case", ["empty.csv", "header-only.csv", "no-claim-column.csv", "not-a-csv.csv"])
def test_whole_file_rejections_create_nothing(db, settings, tmp_path, case) -> None:
    with pytest.raises(IntakeError) as err:
        _submit(db, settings, csv_cases.write_sample(tmp_path, case))
    assert str(err.value).startswith(case)
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0
        assert session.scalar(select(func.count()).select_from(JobRow)) == 0


def test_a_rejection_mid_stream_rolls_everything_back(db, settings, tmp_path) -> None:
    path = csv_cases.write_too_many_rows(tmp_path, 50)
    with pytest.raises(IntakeError, match="rows"):
        submit_file(db, settings.__class__(home=settings.home, payer_tin="123456789", max_upload_rows=50), path,
                    JobParams(today=TODAY), "ann")
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(JobRow)) == 0


@pytest.mark.parametrize("params,message", [
    ({"start_date": date(2026, 11, 1), "end_date": date(2026, 10, 1)}, "after end date"),
    ({"end_date": date(2027, 1, 1)}, "in the future"),
    ({"tin": "12"}, "TIN must be 9 digits"),
    ({"strategy": "fast"}, "strategy must be one of"),
])
def test_bad_job_parameters(db, settings, tmp_path, params, message) -> None:
    with pytest.raises(SubmitError, match=message):
        _submit(db, settings, csv_cases.write_sample(tmp_path, "original-basic.csv"), **params)


def test_default_window_is_the_last_90_days(db, settings, tmp_path) -> None:
    job = get_job(db, _submit(db, settings, csv_cases.write_sample(tmp_path, "original-basic.csv")))
    assert (job.end_date - job.start_date).days == 90 and job.end_date == TODAY and job.tin == "123456789"


# --- one schema truth: every length the columns hold is checked before the database sees it ---

LONG_CLAIM = "C" * 70


def _rows_file(tmp_path, header: str, *lines: str):
    return csv_cases.write_csv(tmp_path, "limits.csv", "\n".join((header, *lines)) + "\n")


def test_a_70_character_claim_number_is_an_invalid_row_not_a_refused_file(db, settings, tmp_path) -> None:
    path = _rows_file(tmp_path, csv_cases.HEADER, f"{LONG_CLAIM},SKYLER,SMITH,07/26/2002,0490705351",
                      "FG53171076,SKYLER,SMITH,07/26/2002,0490705351")
    job = get_job(db, _submit(db, settings, path))
    assert (job.total_rows, job.invalid_rows) == (2, 1)
    first, second = rows_page(db, job.id)
    assert first.status == "Invalid" and first.error_message == "claim number is 70 characters long (at most 30)"
    assert first.claim_number == "C" * 63 + "…" and first.raw["claim_number"] == LONG_CLAIM
    assert second.status is None and second.claim_number == "FG53171076"


@pytest.mark.parametrize(("header", "value", "reason"), [
    ("claim_number,first_name", "N" * 129, "first_name is 129 characters long (at most 128)"),
    ("claim_number,last_name", "N" * 300, "last_name is 300 characters long (at most 128)"),
    ("claim_number,subscriber_id", "1" * 65, "subscriber_id is 65 characters long (at most 64)"),
    ("claim_number,patient_account_number", "P" * 65, "patient_account_number is 65 characters long (at most 64)"),
    ("claim_number,tin", "1" * 17, "TIN must be 9 digits"),
    ("claim_number,tin", "１２３４５６７８９", "TIN must be 9 digits"),
    ("claim_number,payer_id", "8" * 17, "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
    ("claim_number,payer_id", "８７７２６", "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
])
def test_values_over_a_column_length_or_not_ascii_are_invalid_rows(db, settings, tmp_path, header, value,
                                                                    reason) -> None:
    path = _rows_file(tmp_path, header, f"FG1,{value}", "FG2,")
    job = get_job(db, _submit(db, settings, path))
    bad, good = rows_page(db, job.id)
    assert (bad.status, bad.error_message) == ("Invalid", reason)
    assert good.status is None and job.invalid_rows == 1
    column = header.split(",")[1]
    assert bad.raw[column] == value


@pytest.mark.parametrize(("params", "message"), [
    ({"tin": "１２３４５６７８９"}, "TIN must be 9 digits"),
    ({"payer_id": "８７７２６"}, "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
    ({"payer_id": "8" * 17}, "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
    ({"payer_id": "877 26"}, "payer id must be at most 16 ASCII letters, digits, '.', '_' or '-'"),
])
def test_a_job_tin_or_payer_id_that_is_not_ascii_is_refused(db, settings, tmp_path, params, message) -> None:
    with pytest.raises(SubmitError) as err:
        _submit(db, settings, csv_cases.write_sample(tmp_path, "original-basic.csv"), **params)
    assert str(err.value) == message
    with db.read() as session:
        assert session.scalar(select(func.count()).select_from(Job)) == 0


def test_a_long_file_name_and_user_fit_their_columns(db, settings, tmp_path) -> None:
    path = csv_cases.write_csv(tmp_path, "n" * 250 + ".csv", f"{csv_cases.HEADER}\nFG1,A,B,,\n")
    job_id = submit_file(db, settings, path, JobParams(today=TODAY), "u" * 80, "h" * 80)
    job = get_job(db, job_id)
    assert len(job.file_name) == 254 and len(job.submitted_by) == 64 == len(job.submitted_from)
    assert job.submitted_by.endswith("…")


def test_a_payer_status_longer_than_its_column_is_cut_and_written(db, settings, tmp_path) -> None:
    from engine.jobs.rows import record_results
    from engine.payer.normalize import from_inquiry, from_summary

    job_id = _submit(db, settings, _rows_file(tmp_path, csv_cases.HEADER, "FG1,A,B,,", "FG2,A,B,,"))
    status = "Finalized - Paid With Adjustments!!"  # 36 characters: the column holds 32
    summary = from_summary({"claimNumber": "FG1", "claimStatus": status,
                            "memberInfo": {"ptntFn": "F" * 140, "ptntLn": "SMITH"},
                            "claimSummary": {"checkNbr": "9" * 70, "clmXWalkData": [{"clm507Cd": "F1234567890"}]}})
    inquiry = from_inquiry({"claimNumber": "FG2", "claimStatus": "S" * 40, "member": {"lastName": "L" * 129}})
    assert summary.result.status == status[:31] + "…" and len(summary.result.patient_first_name) == 128
    assert summary.result.check_number == "9" * 63 + "…" and summary.result.status_category == "F123456…"
    assert inquiry.result.status == "S" * 31 + "…" and inquiry.result.patient_last_name == "L" * 127 + "…"
    assert record_results(db, job_id, [(1, summary.result), (2, inquiry.result)]) == 2
    stored = rows_page(db, job_id)
    assert [r.status for r in stored] == [status[:31] + "…", "S" * 31 + "…"]


def test_one_bad_byte_keeps_every_accented_name(db, settings, tmp_path) -> None:
    job = get_job(db, _submit(db, settings, csv_cases.write_utf8_with_one_bad_byte(tmp_path)))
    rows = rows_page(db, job.id)
    assert [r.last_name for r in rows] == ["Núñez", "Dupr\ufffd", "Müller", "Brontë"]
    assert [r.status for r in rows] == [None, "Invalid", None, None]
    assert rows[1].error_message.startswith("line 3: the byte 0xE9 in last_name is not UTF-8")
    assert any("on line 3" in w for w in job.warnings)


@pytest.mark.parametrize("what", sorted(csv_cases.INVISIBLE_CLAIMS))
def test_invisible_characters_in_a_claim_number_are_stored_as_an_invalid_row(db, settings, tmp_path, what) -> None:
    claim = csv_cases.INVISIBLE_CLAIMS[what]
    job = get_job(db, _submit(db, settings, _rows_file(tmp_path, csv_cases.HEADER, f"{claim},A,B,,", "FG2,A,B,,")))
    bad, good = rows_page(db, job.id)
    assert bad.status == "Invalid" and "invisible or bidi character" in bad.error_message
    assert bad.claim_number == claim and good.status is None


def _outcome(db, settings, path) -> tuple:
    """How a submit ends, in what an operator sees: the refusal, or the rows' results."""
    try:
        job = get_job(db, _submit(db, settings, path))
    except IntakeError as refused:
        return ("refused", str(refused))
    rows = [(r.row_number, r.claim_number, r.first_name, r.last_name, r.status, r.error_message)
            for r in rows_page(db, job.id)]
    return ("job", job.total_rows, job.invalid_rows, tuple(job.warnings), tuple(rows))


def test_every_intake_case_ends_the_same_on_sqlite_and_postgresql(sqlite_db, pg_url, settings, tmp_path) -> None:
    from engine.db import Database

    pg = Database(pg_url)
    try:
        for name, path in csv_cases.write_problem_cases(tmp_path).items():
            on_sqlite, on_pg = _outcome(sqlite_db, settings, path), _outcome(pg, settings, path)
            assert on_sqlite == on_pg, name
            if on_sqlite[0] == "job":
                assert on_sqlite[2] == 1, name  # the problem row is Invalid, the other one is not
    finally:
        pg.dispose()


# --- the bulk insert stores what the ORM stores ---

def test_bulk_inserted_rows_are_stored_as_the_orm_stores_them(db, settings, tmp_path) -> None:
    import gc

    from sqlalchemy import text

    from engine.intake import open_intake
    from engine.submit import _invalid_values, _look_up_values

    path = _rows_file(
        tmp_path, "claim_number,first_name,last_name,date_of_birth,tin,first_service_date,Notes,Notes",
        'FG1,Zoë,"O\'Brien, ""Jr""",07/26/2002,,2026-01-02,=1+1,a\\b',
        "FG2,José,\U0001f600 \u2028,,854203105,,,",
        "FG3,A,B,02/30/2020,,,x,y",  # Invalid: its result columns too
        "FG1,A,B,,,2026-01-03,,",
    )
    gc_was = gc.isenabled()
    bulk = _submit(db, settings, path)
    assert gc.isenabled() == gc_was
    orm = _submit(db, settings, path)
    with db.write() as session:  # the second job's rows again, one ORM object each
        session.execute(text("DELETE FROM job_rows WHERE job_id = :j"), {"j": orm})
        with open_intake(path, today=TODAY) as intake:
            for row in intake.rows():
                tin = row.tin or settings.payer_tin
                values = (_invalid_values(orm, row, tin, row.invalid_reason) if row.invalid_reason
                          else dict(zip(LOOK_UP_COLUMNS, _look_up_values(orm, row, tin), strict=True)))
                session.add(JobRow(**values))

    def stored(job_id: int) -> list[tuple]:
        with db.read() as session:
            result = session.execute(text("SELECT * FROM job_rows WHERE job_id = :j ORDER BY row_number"),
                                     {"j": job_id})
            keep = [i for i, name in enumerate(result.keys()) if name not in ("job_id", "resolved_at")]
            return [tuple(row[i] for i in keep) for row in result]

    assert stored(bulk) == stored(orm) and len(stored(bulk)) == 4
    assert rows_page(db, bulk)[0].extra == {"Notes": "=1+1", "Notes_2": "a\\b"}


def test_a_row_object_of_strings_is_serialised_as_json_dumps_does() -> None:
    import json

    from engine.db import _flat_json

    for value in ({}, {"a": ""}, {"claim_number": 'A\u00e9"\\\n\t\x00\u2028\udc80\U0001f600', "é": "<&>'"}):
        assert _flat_json(value) == json.dumps(value)
    for value in ({"a": 1}, {1: "a"}, {"a": None}, {"a": ["b"]}):
        with pytest.raises(TypeError):
            _flat_json(value)


def test_the_garbage_collector_is_back_on_after_a_refused_file(db, settings, tmp_path) -> None:
    import gc

    path = csv_cases.write_too_many_rows(tmp_path, 50)
    limited = settings.__class__(home=settings.home, payer_tin="123456789", max_upload_rows=50)
    assert gc.isenabled()
    with pytest.raises(IntakeError):
        _submit(db, limited, path)
    assert gc.isenabled()
    gc.disable()
    try:
        _submit(db, settings, csv_cases.write_sample(tmp_path, "original-basic.csv"))
        assert not gc.isenabled()  # left as the caller had it
    finally:
        gc.enable()
