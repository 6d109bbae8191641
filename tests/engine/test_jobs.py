"""The job lifecycle: every legal transition, every illegal one refused with a clear message,
leases, idempotent result writes and the counters — on SQLite and PostgreSQL."""

from __future__ import annotations

import itertools
from datetime import timedelta

import pytest
from sqlalchemy import update

from engine import jobs
from engine.models import Job, utcnow
from engine.results import ClaimResult
from tests.fixtures.jobs import make_job

FOUND = ClaimResult(status="Finalized", status_class="finalized", success=True, status_category="F1")


def test_transition_table_is_the_documented_one() -> None:
    legal = {(src, dst) for dst, sources in jobs.TRANSITIONS.items() for src in sources}
    assert legal == {
        ("PENDING", "PROCESSING"), ("PROCESSING", "COMPLETED"), ("PROCESSING", "FAILED"),
        ("PENDING", "FAILED"), ("PENDING", "CANCELLING"), ("PROCESSING", "CANCELLING"),
        ("CANCELLING", "CANCELLED"), ("PENDING", "CANCELLED"), ("FAILED", "PENDING"),
        ("CANCELLED", "PENDING"),
    }


@pytest.mark.parametrize("current,target", list(itertools.product(jobs.STATUSES, jobs.STATUSES)))
def test_every_transition_is_compare_and_set(db, current: str, target: str) -> None:
    job_id = make_job(db, status=current)
    if jobs.is_legal(current, target):
        with db.write() as session:
            jobs.compare_and_set(session, job_id, target)
        assert jobs.status_of(db, job_id) == target
    else:
        with pytest.raises(jobs.IllegalTransition) as err, db.write() as session:
            jobs.compare_and_set(session, job_id, target)
        assert str(err.value).startswith(f"job {job_id} is {current} and cannot be")
        assert jobs.status_of(db, job_id) == current


def test_cancel_pending_is_immediate_and_it_never_starts(db) -> None:
    job_id = make_job(db)
    assert jobs.cancel(db, job_id, "ann") == jobs.CANCELLED
    job = jobs.get_job(db, job_id)
    assert job.cancel_requested_by == "ann" and job.cancel_latency_ms == 0
    assert jobs.claim(db, job_id, "w1", 30, 5) is None
    assert jobs.status_of(db, job_id) == jobs.CANCELLED


def test_cancel_processing_goes_through_cancelling(db) -> None:
    job_id = make_job(db)
    assert jobs.claim(db, job_id, "w1", 30, 5) is not None
    assert jobs.cancel(db, job_id, "ann") == jobs.CANCELLING
    assert jobs.renew_lease(db, job_id, "w1", 30) == jobs.CANCELLING
    latency = jobs.finish_cancel(db, job_id)
    assert latency is not None and latency >= 0
    assert jobs.status_of(db, job_id) == jobs.CANCELLED


@pytest.mark.parametrize("status", ["COMPLETED", "CANCELLED", "FAILED", "CANCELLING"])
def test_cancel_refused_with_a_clear_message(db, status: str) -> None:
    job_id = make_job(db, status=status)
    with pytest.raises(jobs.IllegalTransition, match=f"job {job_id} is {status} and cannot be cancelled"):
        jobs.cancel(db, job_id, "ann")


def test_unknown_job(db) -> None:
    with pytest.raises(jobs.JobNotFound, match="job 999 does not exist"):
        jobs.cancel(db, 999, "ann")


def test_claim_is_exclusive_and_a_duplicate_delivery_exits(db) -> None:
    job_id = make_job(db)
    first = jobs.claim(db, job_id, "w1", 30, 5)
    assert first is not None and first.attempt == 1 and not first.resumed
    assert jobs.claim(db, job_id, "w2", 30, 5) is None
    assert jobs.get_job(db, job_id).lease_owner == "w1"


def test_expired_lease_is_resumed_by_another_worker(db) -> None:
    job_id = make_job(db)
    jobs.claim(db, job_id, "w1", 30, 5)
    jobs.record_results(db, job_id, [(1, FOUND)], owner="w1")
    with db.write() as session:
        session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    second = jobs.claim(db, job_id, "w2", 30, 5)
    assert second is not None and second.resumed and second.attempt == 2
    assert [r.row_number for r in jobs.pending_rows(db, job_id)] == [2, 3, 4, 5]
    # the old owner's late writes are refused, its lease is gone
    assert jobs.record_results(db, job_id, [(2, FOUND)], owner="w1") == 0
    assert jobs.renew_lease(db, job_id, "w1", 30) is None


def test_attempt_cap_fails_a_poison_job(db) -> None:
    job_id = make_job(db)
    for attempt in range(3):
        assert jobs.claim(db, job_id, f"w{attempt}", 30, 3) is not None
        with db.write() as session:
            session.execute(update(Job).where(Job.id == job_id).values(lease_expires_at=utcnow() - timedelta(seconds=1)))
    assert jobs.claim(db, job_id, "w9", 30, 3) is None
    job = jobs.get_job(db, job_id)
    assert job.status == jobs.FAILED and "3 attempts" in job.failure_reason


def test_results_are_idempotent_and_counted_once(db) -> None:
    job_id = make_job(db, rows=4)
    jobs.claim(db, job_id, "w1", 30, 5)
    batch = [(1, FOUND), (2, ClaimResult.not_found("nope")), (3, ClaimResult.error("payer down"))]
    assert jobs.record_results(db, job_id, batch, owner="w1", payer_calls=3) == 3
    assert jobs.record_results(db, job_id, batch, owner="w1", payer_calls=1) == 0
    job = jobs.get_job(db, job_id)
    assert (job.done_rows, job.found_rows, job.not_found_rows, job.error_rows, job.payer_calls) == (3, 1, 1, 1, 4)
    row = jobs.list_rows(db, job_id, outcome="finalized")[0]
    assert jobs.row_result(row) == FOUND


def test_finish_completes_or_fails_with_reason(db) -> None:
    a, b = make_job(db), make_job(db)
    jobs.claim(db, a, "w1", 30, 5)
    jobs.claim(db, b, "w1", 30, 5)
    assert jobs.finish(db, a, "w1") == jobs.COMPLETED
    assert jobs.finish(db, b, "w1", failure="payer refused credentials") == jobs.FAILED
    assert jobs.get_job(db, b).failure_reason == "payer refused credentials"
    assert jobs.get_job(db, a).finished_at is not None


def test_finish_while_cancelling_ends_cancelled(db) -> None:
    job_id = make_job(db)
    jobs.claim(db, job_id, "w1", 30, 5)
    jobs.cancel(db, job_id, "ann")
    assert jobs.finish(db, job_id, "w1") == jobs.CANCELLED


def test_retry_keeps_final_results_and_optionally_redoes_errors(db) -> None:
    job_id = make_job(db, rows=3)
    jobs.claim(db, job_id, "w1", 30, 5)
    jobs.record_results(db, job_id, [(1, FOUND), (2, ClaimResult.error("503"))], owner="w1")
    jobs.finish(db, job_id, "w1", failure="payer down")
    assert jobs.retry(db, job_id, "ann") == 1
    assert [r.row_number for r in jobs.pending_rows(db, job_id)] == [3]
    with db.write() as session:
        jobs.compare_and_set(session, job_id, jobs.CANCELLED)
    assert jobs.retry(db, job_id, "ann", errors=True) == 2
    job = jobs.get_job(db, job_id)
    assert (job.status, job.done_rows, job.found_rows, job.error_rows, job.attempts) == ("PENDING", 1, 1, 0, 0)
    assert [h["event"] for h in job.history][-2:] == ["retried", "retried"]


@pytest.mark.parametrize("status", ["PENDING", "PROCESSING", "COMPLETED", "CANCELLING"])
def test_retry_refused_unless_failed_or_cancelled(db, status: str) -> None:
    job_id = make_job(db, status=status)
    with pytest.raises(jobs.IllegalTransition, match="cannot be retried"):
        jobs.retry(db, job_id, "ann")


def test_release_lease_lets_another_worker_resume_at_once(db) -> None:
    job_id = make_job(db)
    jobs.claim(db, job_id, "w1", 30, 5)
    jobs.release_lease(db, job_id, "w1")
    claimed = jobs.claim(db, job_id, "w2", 30, 5)
    assert claimed is not None and claimed.resumed


def test_list_jobs_pages_newest_first_and_filters(db) -> None:
    ids = [make_job(db, rows=0, file_name=f"f{n}.csv") for n in range(5)]
    jobs.cancel(db, ids[1], "ann")
    assert [j.id for j in jobs.list_jobs(db, limit=2)] == ids[::-1][:2]
    assert [j.id for j in jobs.list_jobs(db, limit=2, before_id=ids[3])] == [ids[2], ids[1]]
    assert [j.id for j in jobs.list_jobs(db, statuses=["cancelled"])] == [ids[1]]
    assert [j.id for j in jobs.list_jobs(db, text="f3")] == [ids[3]]
    with pytest.raises(jobs.JobError, match="unknown status"):
        jobs.list_jobs(db, statuses=["DONE"])


def test_schema_head_constant_matches_the_migrations() -> None:
    from engine.db import SCHEMA_HEAD
    from engine.migrate import head_revision

    assert head_revision() == SCHEMA_HEAD
