"""engine.jobs.queries: job pages keyed by id, row pages keyed by row number, counts and
look-ups by id, with one filter vocabulary — on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from engine.db import Database
from engine.jobs import lifecycle
from engine.jobs.queries import (
    JobQuery,
    count_jobs,
    count_rows,
    find_row,
    job_ids_between,
    jobs_by_ids,
    jobs_newer,
    jobs_page,
    rows_around,
    rows_by_numbers,
    rows_page,
)
from tests.console.data import add_job, add_rows, seed_jobs
from tests.fixtures.jobs import make_job


def test_jobs_page_pages_newest_first_and_filters(db: Database) -> None:
    ids = [make_job(db, rows=0, file_name=f"f{n}.csv") for n in range(5)]
    lifecycle.cancel(db, ids[1], "ann")
    assert [j.id for j in jobs_page(db, limit=2)] == ids[::-1][:2]
    assert [j.id for j in jobs_page(db, limit=2, before_id=ids[3])] == [ids[2], ids[1]]
    assert [j.id for j in jobs_page(db, JobQuery(statuses=("cancelled",)))] == [ids[1]]
    assert [j.id for j in jobs_page(db, JobQuery(text="f3"))] == [ids[3]]
    with pytest.raises(lifecycle.JobError, match="unknown status"):
        jobs_page(db, JobQuery(statuses=("DONE",)))


def test_job_pages_filters_and_counts(db: Database) -> None:
    ids = seed_jobs(db)
    newest_first = sorted(ids.values(), reverse=True)
    expected = {
        JobQuery(): newest_first,
        JobQuery(statuses=("COMPLETED",)): [ids["hostile"], ids["completed"]],
        JobQuery(text="csv"): newest_first,
        JobQuery(text="3"): [ids["cancelled"]],
        JobQuery(text="mallory"): [ids["hostile"]],
        JobQuery(statuses=("PENDING", "FAILED"), text="a"): [ids["pending"], ids["failed"]],
    }
    for flt, wanted in expected.items():
        assert [j.id for j in jobs_page(db, flt)] == wanted, flt
        assert count_jobs(db, flt) == len(wanted)
    everything = JobQuery()
    assert [j.id for j in jobs_page(db, everything, before_id=4, limit=2)] == [3, 2]
    assert [j.id for j in jobs_newer(db, everything, after_id=2, limit=3)] == [5, 4, 3]
    assert set(jobs_by_ids(db, [1, ids["processing"], 999])) == {1, ids["processing"]}
    assert jobs_by_ids(db, []) == {}
    completed = JobQuery(statuses=("COMPLETED",))
    assert job_ids_between(db, completed, 0, 10) == [ids["hostile"], ids["completed"]]
    assert job_ids_between(db, completed, 2, 10) == [ids["hostile"]]
    with pytest.raises(lifecycle.JobError):
        jobs_page(db, JobQuery(statuses=("NOPE",)))
    assert JobQuery(statuses=("failed",)).matches_status("FAILED")
    assert not JobQuery(statuses=("FAILED",)).matches_status("PENDING")


def test_row_pages_and_outcomes(db: Database) -> None:
    job_id = add_job(db, total_rows=6)
    add_rows(db, job_id, [
        {"claim_number": "A", "status": "Finalized", "status_class": "finalized", "success": True},
        {"claim_number": "B", "status": "Pending", "status_class": "pending", "success": True},
        {"claim_number": "C"},
        {"claim_number": "D", "status": "Not Found", "status_class": "not_found", "success": False},
        {"claim_number": "E", "status": "Invalid", "status_class": "invalid", "success": False},
        {"claim_number": "F"},
    ])

    def numbers(rows: list) -> list[int]:
        return [r.row_number for r in rows]

    assert numbers(rows_page(db, job_id, limit=4)) == [1, 2, 3, 4]
    assert numbers(rows_page(db, job_id, after_row=4)) == [5, 6]
    assert numbers(rows_page(db, job_id, before_row=5, limit=2)) == [3, 4]
    assert numbers(rows_page(db, job_id, outcome="found")) == [1, 2]
    assert numbers(rows_page(db, job_id, outcome="pending")) == [2]  # the payer's class
    assert numbers(rows_page(db, job_id, outcome="unresolved")) == [3, 6]  # not looked up yet
    assert count_rows(db, job_id, "not_found") == 1
    assert count_rows(db, job_id) == 6
    assert set(rows_by_numbers(db, job_id, [2, 5, 9])) == {2, 5}
    with pytest.raises(ValueError):
        rows_page(db, job_id, outcome="bogus")


def test_last_rows_rows_around_and_find_a_row(db: Database) -> None:
    job_id = add_job(db, total_rows=9)
    add_rows(db, job_id, [
        {"claim_number": c} for c in ("FG100", "fg200", "X%1", "300", "FG100-B", "Y_2", "7", "ZZ", "AB7")
    ])

    def numbers(rows: list) -> list[int]:
        return [r.row_number for r in rows]

    assert numbers(rows_page(db, job_id, last=True, limit=3)) == [7, 8, 9]
    rows, before, after = rows_around(db, job_id, 5, limit=4)
    assert numbers(rows) == [4, 5, 6, 7] and before and after
    rows, before, after = rows_around(db, job_id, 1, limit=4)
    assert numbers(rows) == [1, 2, 3] and not before and after
    assert find_row(db, job_id, "FG200") == 2  # case does not matter
    assert find_row(db, job_id, "fg100-b") == 5  # the exact claim first
    assert find_row(db, job_id, "fg100", after_row=1) == 5  # the next one containing it
    assert find_row(db, job_id, "fg100", after_row=5) == 1  # and round again
    assert find_row(db, job_id, "4") == 4  # a row number
    assert find_row(db, job_id, "7") == 7  # the claim "7" before "AB7"
    assert find_row(db, job_id, "7", after_row=7) == 9  # then the next claim containing it
    assert find_row(db, job_id, "FG") == 1  # no exact claim, no row number: the first containing it
    assert find_row(db, job_id, "%") == 3 and find_row(db, job_id, "_") == 6  # literal, not wildcards
    assert find_row(db, job_id, "nothing") is None and find_row(db, job_id, " ") is None
    assert find_row(db, job_id, "FG", outcome="unresolved") == 1
    assert find_row(db, job_id, "FG", outcome="found") is None
