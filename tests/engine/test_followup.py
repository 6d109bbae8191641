"""Claim follow-up in the engine: the finality table on every category, observations written
with the results (once, whatever is written twice), status changes, the back-off, the query
API and the backfill of migration 0004 — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import MetaData, Table, func, insert, select, update

from engine.config import Settings
from engine.db import Database
from engine.followup import finality, queries, recheck
from engine.followup.finality import CLOSED, OPEN, STALE, Rules
from engine.jobs.rows import record_results, row_result
from engine.models import ClaimObservation, Job, JobRow, TrackedClaim, utcnow
from engine.results import _CATEGORY_CLASS, ClaimResult
from tests.fixtures.jobs import make_job

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _found(category: str, status: str = "Pending", paid: str | None = None, codes: tuple[str, ...] = ()) -> ClaimResult:
    from engine.results import status_class_for

    return ClaimResult(status=status, status_class=status_class_for(category, status), success=True,
                       status_category=category, status_code="20",
                       total_paid=Decimal(paid) if paid else None, adjudication_codes=codes)


# ---- finality: every category ----

@pytest.mark.parametrize("category", sorted(_CATEGORY_CLASS) + ["A9", "P9", "R99", "E9", "F9"])
def test_every_category_is_open_or_closed_by_its_table(category: str) -> None:
    from engine.results import status_class_for

    cls = status_class_for(category, "")
    state = finality.state_of(category, cls, NOW - timedelta(days=2), NOW)
    if category.startswith("F"):
        assert state == CLOSED and finality.stored_state(category, cls) == CLOSED
    else:  # A*, P*, R*, E* and D0 stay open (A4, D0 included: the payer may still place them)
        assert state == OPEN and finality.stored_state(category, cls) == OPEN
        assert finality.state_of(category, cls, NOW - timedelta(days=181), NOW) == STALE
        assert finality.state_of(category, cls, NOW - timedelta(days=3), NOW, Rules(stale_days=2)) == STALE


def test_without_a_category_the_class_decides_and_not_found_is_open_while_recent() -> None:
    recent, old = NOW - timedelta(days=5), NOW - timedelta(days=31)
    assert finality.state_of("", "finalized", recent, NOW) == CLOSED
    assert finality.state_of("", "denied", recent, NOW) == CLOSED
    assert finality.state_of("", "pending", recent, NOW) == OPEN
    assert finality.state_of("", "not_found", recent, NOW) == OPEN
    assert finality.state_of("", "not_found", old, NOW) == CLOSED
    assert finality.state_of("", "not_found", old, NOW, Rules(not_found_days=60)) == OPEN


def test_backoff_is_1_3_7_14_days_then_weekly_from_the_last_change() -> None:
    since = datetime(2026, 6, 1, 15, 30, tzinfo=UTC)
    steps, seen = [], since
    for _ in range(7):
        due = finality.next_check(since, seen)
        steps.append((due.date() - since.date()).days)
        assert due.hour == 0 and due.minute == 0  # a daily run at any hour picks it up
        seen = due + timedelta(hours=9)
    assert steps == [1, 3, 7, 14, 21, 28, 35]


# ---- observations written with the results ----

def _job(db: Database, rows: int, *, kind: str = "upload") -> int:
    job_id = make_job(db, rows=rows, status="PROCESSING")
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(kind=kind))
    return job_id


def _rows(db: Database, job_id: int, numbers: list[str]) -> None:
    with db.write() as session:
        for n, number in enumerate(numbers, 1):
            session.execute(update(JobRow).where(JobRow.job_id == job_id, JobRow.row_number == n)
                            .values(claim_number=number))


def _count(db: Database, model) -> int:  # noqa: ANN001
    with db.read() as session:
        return session.scalar(select(func.count()).select_from(model))


def test_observations_are_written_once_with_the_results_and_changes_once(db: Database) -> None:
    first = _job(db, 4)
    _rows(db, first, ["CL1", "CL2", "CL3", "CL4"])
    results = [(1, _found("P1")), (2, _found("A2")), (3, ClaimResult.not_found("no")),
               (4, ClaimResult.error("payer call failed: 503"))]
    assert record_results(db, first, results, owner="w1") == 4
    assert record_results(db, first, results, owner="w1") == 0  # a redelivered batch
    assert record_results(db, first, results[:1], owner="someone else") == 0
    assert _count(db, ClaimObservation) == 3  # our own Error is no observation of the claim
    assert _count(db, TrackedClaim) == 3
    assert queries.changes_page(db) == []  # first sight is no change

    second = _job(db, 4, kind="followup")
    _rows(db, second, ["CL1", "CL2", "CL3", "CL1"])
    again = [(1, _found("F1", "Finalized", "812.40")), (2, _found("F2", "Denied", "0", ("CARC 50", "RARC N115"))),
             (3, _found("P1")), (4, _found("F1", "Finalized", "812.40"))]
    record_results(db, second, again, owner="w1")
    record_results(db, second, again, owner="w1")
    changes = queries.changes_page(db)
    assert sorted((c.claim_number, c.old_status_category, c.new_status_category, c.job_id) for c in changes) == [
        ("CL1", "P1", "F1", second), ("CL2", "A2", "F2", second), ("CL3", "", "P1", second)]
    by_number = {c.claim_number: c.summary for c in changes}
    assert by_number == {"CL1": "P1 → F1 paid $812.40", "CL2": "A2 → F2 denied (CARC 50, RARC N115)",
                         "CL3": "Not Found → P1 pending"}
    line = queries.timeline(db, "CL1")
    assert [(o.status_category, o.job_id, o.row_number) for o in line] == [("P1", first, 1), ("F1", second, 1),
                                                                        ("F1", second, 4)]
    assert queries.timeline(db, "CL2")[-1].adjudication_codes == ("CARC 50", "RARC N115")
    assert row_result(_row(db, second, 2)).adjudication_codes == ("CARC 50", "RARC N115")
    assert [c.claim_number for c in queries.claims_page(db)] == ["CL3"]
    assert {c.claim_number for c in queries.claims_page(db, queries.ClaimQuery(state=CLOSED))} == {"CL1", "CL2"}
    stats = queries.follow_up_stats(db)
    assert (stats.open_claims, stats.closed_this_week, stats.stale_claims) == (1, 2, 0)
    assert stats.median_days_to_close is not None and stats.median_days_to_close < 1


def _row(db: Database, job_id: int, n: int) -> JobRow:
    with db.read() as session:
        return session.get(JobRow, (job_id, n))


def test_open_claims_page_by_age_and_category_and_stale_ones(db: Database) -> None:
    job_id = _job(db, 30)
    numbers = [f"OP{n:03d}" for n in range(1, 31)]
    _rows(db, job_id, numbers)
    cats = ["P1", "A1", "R4"]
    record_results(db, job_id, [(n, _found(cats[n % 3])) for n in range(1, 31)])
    with db.write() as session:  # the first ten were first seen 200 days ago
        session.execute(update(TrackedClaim).where(TrackedClaim.claim_number.in_(numbers[:10]))
                        .values(first_seen_at=utcnow() - timedelta(days=200)))
    page1 = queries.claims_page(db, limit=8)
    page2 = queries.claims_page(db, after_id=page1[-1].claim_id, limit=8)
    back = queries.claims_page(db, before_id=page2[0].claim_id, limit=8)
    assert [c.claim_number for c in page1 + page2] == numbers[10:26]
    assert back == page1
    assert queries.count_claims(db) == 20
    p_only = queries.claims_page(db, queries.ClaimQuery(categories=("P",)))
    assert {c.status_category for c in p_only} == {"P1"} and len(p_only) == sum(n % 3 == 0 for n in range(11, 31))
    stale = queries.stale_claims(db)
    assert [c.claim_number for c in stale] == numbers[:10] and {c.state for c in stale} == {STALE}
    assert stale[0].age_days == 200
    assert queries.count_claims(db, queries.ClaimQuery(min_age_days=100, state=STALE)) == 10


def test_a_followup_job_takes_the_due_claims_with_their_dates_once(db: Database, tmp_path) -> None:
    job_id = _job(db, 6)
    _rows(db, job_id, [f"DU{n}" for n in range(1, 7)])
    pending = ClaimResult(status="Pending", status_class="pending", success=True, status_category="P2",
                          first_service_date=datetime(2026, 5, 1).date(), last_service_date=datetime(2026, 5, 2).date())
    record_results(db, job_id, [(1, pending), (2, pending), (3, pending), (4, _found("F1", "Finalized", "10")),
                                (5, ClaimResult.not_found("no")), (6, pending)])
    settings = Settings(home=tmp_path, followup_max_claims=3)
    assert recheck.create_followup_job(db, settings, requested_by="t").job_id is None  # nothing due yet
    later = utcnow() + timedelta(days=2)
    made = recheck.create_followup_job(db, settings, requested_by="t", now=later)
    assert (made.claims, made.left_over) == (3, 2)
    job = _get(db, made.job_id)
    assert job.kind == "followup" and job.status == "PENDING" and job.total_rows == 3
    rows = _job_rows(db, made.job_id)
    assert {r.claim_number for r in rows} <= {"DU1", "DU2", "DU3", "DU5", "DU6"}
    assert all(r.first_service_date is not None for r in rows if r.claim_number != "DU5")
    rest = recheck.create_followup_job(db, settings, requested_by="t", now=later)
    assert rest.claims == 2 and not {r.claim_number for r in _job_rows(db, rest.job_id)} & {r.claim_number for r in rows}
    assert recheck.create_followup_job(db, settings, requested_by="t", now=later).job_id is None
    everything = recheck.create_followup_job(db, Settings(home=tmp_path), requested_by="t", now=later,
                                             everything=True)
    assert everything.claims == 5  # every open claim, the closed DU4 never


def _get(db: Database, job_id: int) -> Job:
    with db.read() as session:
        return session.get(Job, job_id)


def _job_rows(db: Database, job_id: int) -> list[JobRow]:
    with db.read() as session:
        return list(session.scalars(select(JobRow).where(JobRow.job_id == job_id)))


def test_migration_0004_backfills_observations_from_existing_results(db_url: str) -> None:
    from alembic import command

    from engine.migrate import _config

    database = Database(db_url, migrate=False)
    try:
        command.upgrade(_config(database.write_engine), "0003")
        now = utcnow()
        old = MetaData()
        jobs, rows = (Table(name, old, autoload_with=database.write_engine) for name in ("jobs", "job_rows"))

        def at(when: datetime) -> datetime:  # the reflected SQLite column takes naive UTC
            return when.replace(tzinfo=None) if database.is_sqlite else when

        with database.write_engine.begin() as conn:
            for job_id, (cat, status, when) in enumerate(
                    [("P1", "In Process", now - timedelta(days=9)), ("F2", "Denied", now - timedelta(days=2))], 1):
                conn.execute(insert(jobs), [{
                    "id": job_id, "file_name": "a.csv", "status": "COMPLETED", "strategy": "auto",
                    "start_date": now.date(), "end_date": now.date(), "tin": "123456789", "payer_id": "87726",
                    "submitted_by": "t", "submitted_from": "", "created_at": at(when), "updated_at": at(when),
                    "total_rows": 1, "done_rows": 1, "found_rows": 1, "not_found_rows": 0, "error_rows": 0,
                    "invalid_rows": 0, "payer_calls": 1, "warnings": [], "extra_columns": [], "history": [],
                    "attempts": 1, "retry_errors": False}])
                conn.execute(insert(rows), [{
                    "job_id": job_id, "row_number": 1, "claim_number": "BF1", "first_name": "", "last_name": "",
                    "subscriber_id": "", "tin": "", "payer_id": "", "patient_account_number": "", "extra": {},
                    "raw": {}, "status": status, "status_class": "pending" if cat == "P1" else "denied",
                    "success": True, "status_category": cat, "status_code": "20", "attempts": 1,
                    "resolved_at": at(when)}])
        database.upgrade()
        line = queries.timeline(database, "BF1")
        assert [(o.status_category, o.job_id) for o in line] == [("P1", 1), ("F2", 2)]
        assert [(c.old_status_category, c.new_status_category) for c in queries.changes_page(database)] == [
            ("P1", "F2")]
        claim = queries.find_claims(database, "BF1")[0]
        assert claim.state == CLOSED and claim.tin == "123456789" and claim.payer_id == "87726"
        assert 6.9 < (claim.closed_at - claim.first_seen_at).total_seconds() / 86400 < 7.1
    finally:
        database.dispose()


def test_the_adapter_reads_the_reason_codes_of_both_surfaces() -> None:
    from engine.payer.normalize import from_inquiry, from_summary

    summary = {"claimNumber": "X1", "claimStatus": "Denied", "claimSummary": {
        "clmXWalkData": [{"clm507Cd": "F2"}],
        "claimCodes": [{"type": "CARC", "code": "50", "description": "…"}, {"type": "REMARK", "code": "n115"},
                       {"type": "CARC", "code": "50"}, {"type": "OTHER", "code": "1"}, {"type": "CARC", "code": "5 0;"},
                       "junk"]}}
    assert from_summary(summary).result.adjudication_codes == ("CARC 50", "RARC N115")
    inquiry = {"claimNumber": "X1", "claimStatus": "Denied", "claimStatusCrosswalkData": [{"claim507Code": "F2"}],
               "claimAdjudicationCodes": [{"claimCodeType": "CARC", "code": "27"}, {"claimCodeType": "PEND", "code": "P1"}]}
    assert from_inquiry(inquiry).result.adjudication_codes == ("CARC 27", "PEND P1")
    assert from_inquiry({"claimNumber": "X1", "claimAdjudicationCodes": None}).result.adjudication_codes == ()


def test_claims_are_locked_in_id_order_whatever_the_batch(db: Database, monkeypatch) -> None:
    """Two jobs writing overlapping claims in batches of different make-up must take the claims'
    row locks in one order (by id, ascending across chunks), or PostgreSQL deadlocks them."""
    import random

    from sqlalchemy import event

    from engine.followup import record

    if db.is_sqlite:
        pytest.skip("SQLite has one writer at a time and no row locks")
    monkeypatch.setattr(record, "KEY_CHUNK", 7)  # several chunks from a small batch
    numbers = [f"LK{i:03d}" for i in range(40)]
    random.Random(3).shuffle(numbers)  # ids in an order unrelated to the claim numbers
    first = _job(db, 40)
    _rows(db, first, numbers)
    record_results(db, first, [(n, _found("P1")) for n in range(1, 41)], owner="w1")
    locked: list[int] = []

    def note(conn, cursor, statement, params, context, executemany) -> None:  # noqa: ANN001
        if "FOR UPDATE" in statement and f"FROM {TrackedClaim.__tablename__} " in statement:
            locked.extend(sorted(v for v in (params.values() if isinstance(params, dict) else params)
                                 if isinstance(v, int)))

    second = _job(db, 40)
    _rows(db, second, numbers)
    event.listen(db.write_engine, "before_cursor_execute", note)
    try:
        record_results(db, second, [(n, _found("F1", "Finalized", "5")) for n in range(1, 41)], owner="w1")
    finally:
        event.remove(db.write_engine, "before_cursor_execute", note)
    with db.read() as session:
        ids = sorted(session.scalars(select(TrackedClaim.id).where(TrackedClaim.claim_number.in_(numbers))))
    assert locked == ids  # every claim, once, ascending across the chunks


def test_a_result_write_that_postgresql_ends_as_a_deadlock_is_run_again(db: Database, monkeypatch) -> None:
    from sqlalchemy.exc import OperationalError

    from engine.jobs import rows

    class Deadlock(Exception):
        sqlstate = "40P01"

    job_id = _job(db, 2)
    _rows(db, job_id, ["DL1", "DL2"])
    real, calls = rows._record, []

    def flaky(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
        calls.append(1)
        if len(calls) == 1:
            raise OperationalError("UPDATE …", {}, Deadlock("deadlock detected"))
        return real(*args, **kwargs)

    monkeypatch.setattr(rows, "_record", flaky)
    assert record_results(db, job_id, [(1, _found("P1")), (2, _found("P1"))], owner="w1") == 2
    assert len(calls) == 2

    class Other(Exception):
        sqlstate = "23505"

    monkeypatch.setattr(rows, "_record", lambda *a, **k: (_ for _ in ()).throw(
        OperationalError("UPDATE …", {}, Other("duplicate key"))))
    with pytest.raises(OperationalError):  # anything else is not run again
        record_results(db, job_id, [(1, _found("P1"))], owner="w1")
