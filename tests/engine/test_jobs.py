"""The job lifecycle: every legal transition, every illegal one refused with a clear message,
leases, idempotent result writes and the counters — on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import update

from engine.jobs import lifecycle
from engine.jobs.queries import get_job, rows_page, unresolved_rows
from engine.jobs.rows import record_results, row_result
from engine.models import Job, utcnow
from engine.results import ClaimResult
from tests.fixtures.jobs import make_job

FOUND = ClaimResult(status="Finalized", status_class="finalized", success=True, status_category="F1")


def test_transition_table_is_the_documented_one() -> None:
    legal = {(src, dst) for dst, sources in lifecycle.TRANSITIONS.items() for src in sources}
    assert legal == {
        ("PENDING", "PROCESSING"), ("PROCESSING", "COMPLETED"), ("PROCESSING", "FAILED"),
        ("PENDING", "FAILED"), ("PENDING", "CANCELLING"), ("PROCESSING", "CANCELLING"),
        ("CANCELLING", "CANCELLED"), ("PENDING", "CANCELLED"), ("FAILED", "PENDING"),
        ("CANCELLED", "PENDING"),
    }


@pytest.mark.parametrize("current,target", list(itertools.product(lifecycle.STATUSES, lifecycle.STATUSES)))
def test_every_transition_is_compare_and_set(db, current: str, target: str) -> None:
    job_id = make_job(db, status=current)
    if lifecycle.is_legal(current, target):
        with db.write() as session:
            lifecycle.compare_and_set(session, job_id, target)
        assert lifecycle.status_of(db, job_id) == target
    else:
        with pytest.raises(lifecycle.IllegalTransition) as err, db.write() as session:
            lifecycle.compare_and_set(session, job_id, target)
        assert str(err.value).startswith(f"job {job_id} is {current} and cannot be")
        assert lifecycle.status_of(db, job_id) == current


def test_cancel_pending_is_immediate_and_it_never_starts(db) -> None:
    job_id = make_job(db)
    assert lifecycle.cancel(db, job_id, "ann") == lifecycle.CANCELLED
    job = get_job(db, job_id)
    assert job.cancel_requested_by == "ann" and job.cancel_latency_ms == 0
    assert lifecycle.claim(db, job_id, "w1", 30, 5) is None
    assert lifecycle.status_of(db, job_id) == lifecycle.CANCELLED


def test_cancel_processing_goes_through_cancelling(db) -> None:
    job_id = make_job(db)
    assert lifecycle.claim(db, job_id, "w1", 30, 5) is not None
    assert lifecycle.cancel(db, job_id, "ann") == lifecycle.CANCELLING
    assert lifecycle.renew_lease(db, job_id, "w1", 30) == lifecycle.CANCELLING
    latency = lifecycle.finish_cancel(db, job_id)
    assert latency is not None and latency >= 0
    assert lifecycle.status_of(db, job_id) == lifecycle.CANCELLED


@pytest.mark.parametrize("status", ["COMPLETED", "CANCELLED", "FAILED", "CANCELLING"])
def test_cancel_refused_with_a_clear_message(db, status: str) -> None:
    job_id = make_job(db, status=status)
    with pytest.raises(lifecycle.IllegalTransition, match=f"job {job_id} is {status} and cannot be cancelled"):
        lifecycle.cancel(db, job_id, "ann")


def test_unknown_job(db) -> None:
    with pytest.raises(lifecycle.JobNotFound, match="job 999 does not exist"):
        lifecycle.cancel(db, 999, "ann")


def test_claim_is_exclusive_and_a_duplicate_delivery_exits(db) -> None:
    job_id = make_job(db)
    first = lifecycle.claim(db, job_id, "w1", 30, 5)
    assert first is not None and first.attempt == 1 and not first.resumed
    assert lifecycle.claim(db, job_id, "w2", 30, 5) is None
    assert get_job(db, job_id).lease_owner == "w1"


def test_expired_lease_is_resumed_by_another_worker(db) -> None:
    job_id = make_job(db)
    lifecycle.claim(db, job_id, "w1", 30, 5)
    record_results(db, job_id, [(1, FOUND)], owner="w1")
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    second = lifecycle.claim(db, job_id, "w2", 30, 5)
    assert second is not None and second.resumed and second.attempt == 2
    assert [r.row_number for r in unresolved_rows(db, job_id)] == [2, 3, 4, 5]
    # the old owner's late writes are refused, its lease is gone
    assert record_results(db, job_id, [(2, FOUND)], owner="w1") == 0
    assert lifecycle.renew_lease(db, job_id, "w1", 30) is None


def test_attempt_cap_fails_a_poison_job(db) -> None:
    job_id = make_job(db)
    for attempt in range(3):
        assert lifecycle.claim(db, job_id, f"w{attempt}", 30, 3) is not None
        with db.write() as session:
            session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert lifecycle.claim(db, job_id, "w9", 30, 3) is None
    job = get_job(db, job_id)
    assert job.status == lifecycle.FAILED and "3 attempts" in job.failure_reason
    assert job.lease_owner is None and job.finished_at is not None
    assert {k: v for k, v in job.history[-1].items() if k != "at"} == {"event": "failed", "reason": job.failure_reason}


def test_results_are_idempotent_and_counted_once(db) -> None:
    job_id = make_job(db, rows=4)
    lifecycle.claim(db, job_id, "w1", 30, 5)
    batch = [(1, FOUND), (2, ClaimResult.not_found("nope")), (3, ClaimResult.error("payer down"))]
    assert record_results(db, job_id, batch, owner="w1", payer_calls=3) == 3
    assert record_results(db, job_id, batch, owner="w1", payer_calls=1) == 0
    job = get_job(db, job_id)
    assert (job.done_rows, job.found_rows, job.not_found_rows, job.error_rows, job.payer_calls) == (3, 1, 1, 1, 4)
    row = rows_page(db, job_id, outcome="finalized")[0]
    assert row_result(row) == FOUND


def test_finish_completes_or_fails_with_reason(db) -> None:
    a, b = make_job(db), make_job(db)
    lifecycle.claim(db, a, "w1", 30, 5)
    lifecycle.claim(db, b, "w1", 30, 5)
    assert lifecycle.finish(db, a, "w1") == lifecycle.COMPLETED
    assert lifecycle.finish(db, b, "w1", failure="payer refused credentials") == lifecycle.FAILED
    assert get_job(db, b).failure_reason == "payer refused credentials"
    assert get_job(db, a).finished_at is not None


def test_finish_while_cancelling_ends_cancelled(db) -> None:
    job_id = make_job(db)
    lifecycle.claim(db, job_id, "w1", 30, 5)
    lifecycle.cancel(db, job_id, "ann")
    assert lifecycle.finish(db, job_id, "w1") == lifecycle.CANCELLED


def test_retry_keeps_final_results_and_optionally_redoes_errors(db) -> None:
    job_id = make_job(db, rows=3)
    lifecycle.claim(db, job_id, "w1", 30, 5)
    record_results(db, job_id, [(1, FOUND), (2, ClaimResult.error("503"))], owner="w1")
    lifecycle.finish(db, job_id, "w1", failure="payer down")
    assert lifecycle.retry(db, job_id, "ann") == 1
    assert [r.row_number for r in unresolved_rows(db, job_id)] == [3]
    with db.write() as session:
        lifecycle.compare_and_set(session, job_id, lifecycle.CANCELLED)
    assert lifecycle.retry(db, job_id, "ann", errors=True) == 2
    job = get_job(db, job_id)
    assert (job.status, job.done_rows, job.found_rows, job.error_rows, job.attempts) == ("PENDING", 1, 1, 0, 0)
    assert [h["event"] for h in job.history][-2:] == ["retried", "retried"]


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "COMPLETED", "CANCELLING"])
def test_retry_refused_unless_failed_or_cancelled(db, status: str) -> None:
    job_id = make_job(db, status=status)
    with pytest.raises(lifecycle.IllegalTransition, match="cannot be retried"):
        lifecycle.retry(db, job_id, "ann")


def test_release_lease_lets_another_worker_resume_at_once(db) -> None:
    job_id = make_job(db)
    lifecycle.claim(db, job_id, "w1", 30, 5)
    lifecycle.release_lease(db, job_id, "w1")
    claimed = lifecycle.claim(db, job_id, "w2", 30, 5)
    assert claimed is not None and claimed.resumed


def test_schema_head_constant_matches_the_migrations() -> None:
    from engine.db import SCHEMA_HEAD
    from engine.migrate import head_revision

    assert head_revision() == SCHEMA_HEAD
