"""engine.followup.queries.claims_by_ids: the rows a list shows, read again by id, only those
that still match (a claim closed or gone stale meanwhile is left out); SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from engine.db import Database
from engine.followup import queries
from engine.followup.finality import OPEN, STALE
from engine.followup.record import Seen, record_observations
from engine.results import ClaimResult
from tests.fixtures.jobs import make_job

NOW = datetime(2026, 6, 10, 12, 0, tzinfo=UTC)


def _seen(job_id: int, row: int, number: str, category: str, cls: str = "pending") -> Seen:
    result = ClaimResult(status="Pending" if cls == "pending" else "Finalized", status_class=cls, success=True,
                         status_category=category)
    return Seen(job_id, row, "87726", "123456789", number, result)


def test_claims_read_again_by_id_keep_only_those_still_in_the_list(db: Database) -> None:
    job_id = make_job(db, rows=6)
    with db.write() as session:
        record_observations(session, [_seen(job_id, 1, "OLD00001", "R3")], NOW - timedelta(days=200))
        record_observations(session, [_seen(job_id, n, f"NEW0000{n}", "P1" if n % 2 else "A2")
                                      for n in range(2, 6)], NOW - timedelta(days=5))
    ids = [c.claim_id for c in queries.claims_page(db, now=NOW)]
    assert len(ids) == 4
    stale_id = queries.stale_claims(db, now=NOW)[0].claim_id
    every = [stale_id, *ids]
    assert sorted(queries.claims_by_ids(db, queries.ClaimQuery(OPEN), every, now=NOW)) == sorted(ids)
    assert list(queries.claims_by_ids(db, queries.ClaimQuery(STALE), every, now=NOW)) == [stale_id]
    p_only = queries.claims_by_ids(db, queries.ClaimQuery(categories=("P",)), every, now=NOW)
    assert {c.status_category for c in p_only.values()} == {"P1"} and len(p_only) == 2
    with db.write() as session:  # one is paid meanwhile: it leaves the open list
        record_observations(session, [_seen(job_id, 6, "NEW00002", "F1", "finalized")], NOW - timedelta(hours=1))
    again = queries.claims_by_ids(db, queries.ClaimQuery(OPEN), ids, now=NOW)
    assert len(again) == 3 and "NEW00002" not in {c.claim_number for c in again.values()}
    assert queries.claims_by_ids(db, queries.ClaimQuery(OPEN), [], now=NOW) == {}
