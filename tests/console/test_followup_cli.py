"""`claimsops claim | changes | recheck` through the real CLI entry point (console.cli.main)
against real SQLite: JSON shapes, 80-column text, the audited export and recheck."""

from __future__ import annotations

import json
import os
import stat
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select, update

from console import cli
from engine.audit import audit_page
from engine.config import load_settings
from engine.db import Database
from engine.jobs.rows import record_results
from engine.models import Job, JobRow, TrackedClaim, utcnow
from engine.results import ClaimResult
from tests.fixtures.jobs import make_job


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def _result(category: str, status: str, cls: str, paid: str = "0", codes: tuple[str, ...] = ()) -> ClaimResult:
    return ClaimResult(status=status, status_class=cls, success=True, status_category=category, status_code="20",
                       total_paid=Decimal(paid), adjudication_codes=codes)


@pytest.fixture
def db() -> Database:
    database = Database(load_settings().effective_database_url)
    jobs = []
    for results in ([_result("P1", "In Process", "pending"), _result("A2", "Acknowledged", "pending")],
                    [_result("F1", "Finalized", "finalized", "812.40"),
                     _result("F2", "Denied", "denied", codes=("CARC 50",))]):
        job_id = make_job(database, rows=2, status="PROCESSING")
        with database.write() as session:
            for n, number in enumerate(("FG53171076", "=HYPERLINK(1)"), 1):
                session.execute(update(JobRow).where(JobRow.job_id == job_id, JobRow.row_number == n)
                                .values(claim_number=number))
        record_results(database, job_id, list(enumerate(results, 1)))
        jobs.append(job_id)
    yield database
    database.dispose()


def test_claim_prints_its_timeline_oldest_first(db: Database, capsys) -> None:
    code, out, _ = run(capsys, "claim", "FG53171076", "--json")
    steps = json.loads(out)
    assert code == 0 and [(s["status_category"], s["total_paid"], s["job_id"]) for s in steps] == [
        ("P1", "0.00", 1), ("F1", "812.40", 2)]
    assert steps[0]["observed_at"] <= steps[1]["observed_at"] and steps[1]["adjudication_codes"] == []
    assert not {"patient_first_name", "patient_last_name", "first_name"} & set(steps[0])  # no PHI
    code, out, _ = run(capsys, "claim", "=HYPERLINK(1)", "--tin", "123456789", "--json")
    assert json.loads(out)[-1]["adjudication_codes"] == ["CARC 50"]
    code, out, _ = run(capsys, "claim", "FG53171076")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("claim FG53171076  TIN 123456789  payer 87726  closed")
    assert len(lines) == 4 and "812.40" in lines[3] and max(map(len, lines)) <= 80
    code, out, err = run(capsys, "claim", "NOPE0000")
    assert code == 1 and out == "" and err.count("\n") == 1 and "never seen" in err


def test_changes_json_text_and_the_guarded_csv_export(db: Database, capsys, tmp_path: Path) -> None:
    code, out, _ = run(capsys, "changes", "--json")
    items = json.loads(out)
    assert code == 0 and sorted((c["claim_number"], c["old_status_category"], c["new_status_category"], c["job_id"])
                                for c in items) == [("=HYPERLINK(1)", "A2", "F2", 2), ("FG53171076", "P1", "F1", 2)]
    assert {c["summary"] for c in items} == {"P1 → F1 paid $812.40", "A2 → F2 denied (CARC 50)"}
    code, out, _ = run(capsys, "changes")
    assert code == 0 and max(map(len, out.splitlines())) <= 80 and "P1 → F1 paid $812.40" in out
    code, out, _ = run(capsys, "changes", "--since", "2999-01-01", "--json")
    assert json.loads(out) == []
    code, _, err = run(capsys, "changes", "--since", "last tuesday")
    assert code == 2 and "--since" in err
    target = tmp_path / "changes.csv"
    code, out, _ = run(capsys, "changes", "-o", str(target))
    assert code == 0 and out.startswith("wrote 2 changes to ")
    assert stat.S_IMODE(os.stat(target).st_mode) == 0o600
    text = target.read_text()
    assert text.startswith("observed_at,claim_number,") and "'=HYPERLINK(1)" in text  # formula guard
    code, _, err = run(capsys, "changes", "-o", str(target))
    assert code == 1 and "already exists" in err
    actions = [(e.action, e.outcome) for e in audit_page(db)]
    assert actions[:2] == [("export", "failed"), ("export", "ok")]


def test_stats_counts_the_follow_up(db: Database, capsys) -> None:
    code, out, _ = run(capsys, "stats", "--json")
    follow = json.loads(out)["followup"]
    assert code == 0 and (follow["open_claims"], follow["closed_this_week"]) == (0, 2)
    assert follow["median_days_to_close"] is not None
    code, out, _ = run(capsys, "stats")
    assert code == 0 and "follow-up     0 open (0 due, 0 stale), 2 closed this week" in out


def test_recheck_asks_nothing_of_closed_claims_and_is_audited(db: Database, capsys) -> None:
    code, out, err = run(capsys, "recheck", "--json")
    assert code == 0 and json.loads(out) is None and "no open claims due" in err
    code, out, _ = run(capsys, "recheck", "--all")
    assert code == 0 and out.startswith("no open claims to re-check")  # both claims are final
    with db.read() as session:
        assert list(session.scalars(select(Job.kind))) == ["upload", "upload"]
    assert [(e.action, e.target, e.outcome) for e in audit_page(db)][:2] == [
        ("recheck", "all open claims", "ok"), ("recheck", "open claims due", "ok")]


def test_recheck_of_open_claims_prints_the_job(capsys) -> None:
    database = Database(load_settings().effective_database_url)
    try:
        job_id = make_job(database, rows=3, status="PROCESSING")
        record_results(database, job_id, [(n, _result("P1", "In Process", "pending")) for n in (1, 2, 3)])
        with database.write() as session:
            session.execute(update(TrackedClaim).values(next_check_at=utcnow() - timedelta(days=1)))
        code, out, _ = run(capsys, "recheck", "--json")
        job = json.loads(out)
        assert code == 0 and job["kind"] == "followup" and job["follow_up"] and job["total_rows"] == 3
        assert job["status"] == "PENDING" and job["history"][0]["by"]
        code, out, _ = run(capsys, "recheck")
        assert code == 0 and out.startswith("no open claims due")  # in the job now: not due twice
    finally:
        database.dispose()
