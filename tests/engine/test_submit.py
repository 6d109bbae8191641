"""Submitting files: every sample case's stated outcome, rows and results stored, nothing created
on a whole-file rejection."""

from __future__ import annotations

from datetime import date

import pytest
from sqlalchemy import func, select

from engine.intake import IntakeError
from engine.jobs.queries import get_job, rows_page, unresolved_rows
from engine.models import Job, JobRow
from engine.submit import JobParams, SubmitError, submit_file
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
