"""engine.views: the read-only queries behind the live views."""

from __future__ import annotations

import pytest

from engine import views
from engine.db import Database
from engine.jobs import JobError, list_jobs
from engine.logsink import LogFilter
from tests.console.data import add_alert, add_job, add_log, add_rows, seed_jobs, seed_logs


def test_job_pages_match_list_jobs(db: Database) -> None:
    ids = seed_jobs(db)
    everything = views.JobQuery()
    assert [j.id for j in views.jobs_page(db, everything)] == [j.id for j in list_jobs(db)]
    for flt in (views.JobQuery(statuses=("COMPLETED",)), views.JobQuery(text="csv"), views.JobQuery(text="3"),
                views.JobQuery(text="mallory"), views.JobQuery(statuses=("PENDING", "FAILED"), text="a")):
        mine = [j.id for j in views.jobs_page(db, flt)]
        assert mine == [j.id for j in list_jobs(db, statuses=flt.statuses, text=flt.text)]
        assert views.count_jobs(db, flt) == len(mine)
    assert [j.id for j in views.jobs_page(db, everything, before_id=4, limit=2)] == [3, 2]
    assert [j.id for j in views.jobs_newer(db, everything, after_id=2, limit=3)] == [5, 4, 3]
    assert set(views.jobs_by_ids(db, [1, ids["processing"], 999])) == {1, ids["processing"]}
    assert views.jobs_by_ids(db, []) == {}
    completed = views.JobQuery(statuses=("COMPLETED",))
    assert views.job_ids_between(db, completed, 0, 10) == [ids["hostile"], ids["completed"]]
    assert views.job_ids_between(db, completed, 2, 10) == [ids["hostile"]]
    with pytest.raises(JobError):
        views.jobs_page(db, views.JobQuery(statuses=("NOPE",)))
    assert views.JobQuery(statuses=("failed",)).matches_status("FAILED")
    assert not views.JobQuery(statuses=("FAILED",)).matches_status("PENDING")


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

    assert numbers(views.rows_page(db, job_id, limit=4)) == [1, 2, 3, 4]
    assert numbers(views.rows_page(db, job_id, after_row=4)) == [5, 6]
    assert numbers(views.rows_page(db, job_id, before_row=5, limit=2)) == [3, 4]
    assert numbers(views.rows_page(db, job_id, outcome="found")) == [1, 2]
    assert numbers(views.rows_page(db, job_id, outcome="pending")) == [2]  # the payer's class
    assert numbers(views.rows_page(db, job_id, outcome="unresolved")) == [3, 6]  # not looked up yet
    assert views.count_rows(db, job_id, "not_found") == 1
    assert views.count_rows(db, job_id) == 6
    assert set(views.rows_by_numbers(db, job_id, [2, 5, 9])) == {2, 5}
    with pytest.raises(ValueError):
        views.rows_page(db, job_id, outcome="bogus")


def test_log_queries(db: Database) -> None:
    assert views.newest_log_id(db) == 0
    seed_logs(db)
    newest = views.newest_log_id(db)
    assert newest == 12
    assert views.log_services(db) == ["console", "scheduler", "worker"]
    for _ in range(5):
        add_log(db, "x", level=40)
    assert views.count_lines_after(db, LogFilter(), newest) == 5
    assert views.count_lines_after(db, LogFilter(), newest, cap=3) == 3
    assert views.count_lines_after(db, LogFilter(service="scheduler"), newest) == 0
    assert views.count_lines_after(db, LogFilter(level=40), 0) == 5 + 2


def test_site_status(db: Database) -> None:
    status = views.site_status(db)
    assert status.open_alerts == 0 and status.live_workers == 0 and status.db_latency_ms >= 0
    add_alert(db)
    assert views.site_status(db).open_alerts == 1


def test_alert_queries(db: Database) -> None:
    from engine import alerts, health

    assert views.site_status(db).newest_alert_id == 0
    alerts.record(db, [health.CheckResult("disk", health.DEGRADED, "low")])
    alerts.record(db, [health.CheckResult("disk", health.OK, "fine")])
    first, second = (a.id for a in reversed(alerts.recent_alerts(db)))
    assert views.site_status(db).newest_alert_id == second
    assert [a.kind for a in views.alerts_after(db, 0)] == ["alert", "recovery"]  # oldest first
    assert [a.id for a in views.alerts_after(db, first)] == [second]
    assert views.alerts_by_ids(db, [first, 999])[first].resolved_at is not None
