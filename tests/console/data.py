"""Fixed console test data: jobs, rows and log lines with fixed timestamps, so that what the
console renders never depends on the real clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import insert

from engine.db import Database
from engine.metrics import write_rows
from engine.models import (
    Alert,
    AuditEntry,
    HealthState,
    Job,
    JobRow,
    Lease,
    LogRecord,
    TaskRun,
    TaskState,
    Worker,
)

NOW = datetime(2025, 10, 1, 12, 0, 0, tzinfo=UTC)


def fixed_clock() -> datetime:
    return NOW


def iso(moment: datetime) -> str:
    return moment.isoformat(timespec="milliseconds")


def add_job(db: Database, **fields: Any) -> int:
    """A job with fixed dates; `fields` override anything."""
    created = fields.pop("created_at", NOW - timedelta(hours=1))
    values: dict[str, Any] = {
        "file_name": "claims.csv", "status": "PENDING", "strategy": "auto",
        "start_date": date(2025, 7, 3), "end_date": date(2025, 10, 1), "tin": "123456789",
        "payer_id": "87726", "submitted_by": "alice", "submitted_from": "10.0.0.5",
        "created_at": created, "updated_at": created, "total_rows": 0, "warnings": [],
        "extra_columns": [], "history": [{"at": iso(created), "event": "submitted", "by": "alice"}],
    }
    values.update(fields)
    with db.write() as session:
        job = Job(**values)
        session.add(job)
        session.flush()
        return job.id


def add_rows(db: Database, job_id: int, rows: list[dict[str, Any]]) -> None:
    base = {"claim_number": "", "first_name": "", "last_name": "", "subscriber_id": "", "tin": "123456789",
            "payer_id": "", "patient_account_number": "", "extra": {}, "raw": {}, "attempts": 0}
    with db.write() as session:
        session.execute(
            insert(JobRow),
            [{**base, "job_id": job_id, "row_number": n, **row} for n, row in enumerate(rows, start=1)],
        )


def found(status: str, cls: str, charged: str, paid: str, first: str, last: str) -> dict[str, Any]:
    return {
        "status": status, "status_class": cls, "success": True, "total_charged": Decimal(charged),
        "total_paid": Decimal(paid), "processed_date": date(2025, 9, 12), "matched_by": "window",
        "patient_first_name": first, "patient_last_name": last, "resolved_at": NOW - timedelta(minutes=50),
        "status_category": "F1", "status_code": "65",
    }


def seed_jobs(db: Database) -> dict[str, int]:
    """Six jobs, one per status, plus one whose file name is hostile markup. Returns ids by name."""
    ids: dict[str, int] = {}
    ids["completed"] = add_job(
        db, file_name="original-basic.csv", status="COMPLETED", total_rows=5, done_rows=5, found_rows=3,
        not_found_rows=1, invalid_rows=1, payer_calls=4, attempts=1,
        created_at=NOW - timedelta(hours=3), started_at=NOW - timedelta(hours=3) + timedelta(seconds=5),
        finished_at=NOW - timedelta(hours=3) + timedelta(seconds=45),
        warnings=["2 rows share a claim number: looked up once"],
        history=[
            {"at": iso(NOW - timedelta(hours=3)), "event": "submitted", "by": "alice"},
            {"at": iso(NOW - timedelta(hours=3) + timedelta(seconds=5)), "event": "started", "by": "w1"},
            {"at": iso(NOW - timedelta(hours=3) + timedelta(seconds=45)), "event": "completed", "by": "w1"},
        ],
    )
    add_rows(db, ids["completed"], [
        {"claim_number": "FG53171076", "first_name": "SKYLER", "last_name": "SMITH",
         "date_of_birth": date(2002, 7, 26), "subscriber_id": "0490705351",
         **found("Finalized", "finalized", "1250.00", "980.40", "SKYLER", "SMITH")},
        {"claim_number": "FH22674935", "first_name": "SKYLER", "last_name": "SMITH",
         "date_of_birth": date(2002, 7, 26), "subscriber_id": "0490705351",
         **found("Denied", "denied", "310.00", "0.00", "SKYLER", "SMITH")},
        {"claim_number": "FG53171070", "first_name": "BARCELLANO", "last_name": "MARIA RAPH",
         "date_of_birth": date(2001, 2, 20), "subscriber_id": "0629889230",
         "status": "Not Found", "status_class": "not_found", "success": False,
         "error_message": "Claim not found at the payer", "resolved_at": NOW - timedelta(minutes=50)},
        {"claim_number": "ZE59426195", "first_name": "John", "last_name": "Doe",
         "date_of_birth": date(1980, 1, 15), "subscriber_id": "ABC123456",
         **found("Pending", "pending", "88.00", "0.00", "JOHN", "DOE")},
        {"claim_number": "", "first_name": "Jane", "last_name": "Smith",
         "date_of_birth": date(1975, 5, 20), "subscriber_id": "XYZ789012",
         "status": "Invalid", "status_class": "invalid", "success": False,
         "invalid_reason": "missing claim number", "error_message": "missing claim number",
         "resolved_at": NOW - timedelta(minutes=55)},
    ])
    ids["failed"] = add_job(
        db, file_name="march-claims.csv", status="FAILED", total_rows=120, done_rows=60, found_rows=50,
        not_found_rows=6, error_rows=4, attempts=5, created_at=NOW - timedelta(hours=2),
        started_at=NOW - timedelta(hours=2) + timedelta(seconds=2), finished_at=NOW - timedelta(hours=1),
        failure_reason="stopped after 5 attempts: the job's worker stopped or crashed each time",
    )
    ids["cancelled"] = add_job(
        db, file_name="big-batch.csv", status="CANCELLED", total_rows=1000, done_rows=400, found_rows=380,
        not_found_rows=20, attempts=1, created_at=NOW - timedelta(minutes=90),
        started_at=NOW - timedelta(minutes=89), finished_at=NOW - timedelta(minutes=80),
        cancel_requested_at=NOW - timedelta(minutes=80, seconds=1), cancel_requested_by="alice",
        cancel_latency_ms=340,
        history=[
            {"at": iso(NOW - timedelta(minutes=90)), "event": "submitted", "by": "alice"},
            {"at": iso(NOW - timedelta(minutes=89)), "event": "started", "by": "w2"},
            {"at": iso(NOW - timedelta(minutes=80, seconds=1)), "event": "cancel requested", "by": "alice"},
            {"at": iso(NOW - timedelta(minutes=80)), "event": "cancelled", "latency_ms": 340},
        ],
    )
    ids["hostile"] = add_job(
        db, file_name="[red]evil[/red][@click=app.quit]x[/].csv", status="COMPLETED", total_rows=4,
        done_rows=4, found_rows=0, not_found_rows=4, attempts=1, submitted_by="[b]mallory[/b]",
        created_at=NOW - timedelta(minutes=45), started_at=NOW - timedelta(minutes=45),
        finished_at=NOW - timedelta(minutes=44),
    )
    ids["pending"] = add_job(db, file_name="pending.csv", status="PENDING", total_rows=10,
                             created_at=NOW - timedelta(minutes=10))
    ids["processing"] = add_job(
        db, file_name="running.csv", status="PROCESSING", total_rows=2000, done_rows=850, found_rows=800,
        not_found_rows=40, error_rows=5, invalid_rows=5, attempts=1, lease_owner="w1",
        lease_expires_at=NOW + timedelta(seconds=30), created_at=NOW - timedelta(minutes=6),
        started_at=NOW - timedelta(minutes=5),
    )
    ids["cancelling"] = add_job(
        db, file_name="stopping.csv", status="CANCELLING", total_rows=300, done_rows=120, found_rows=110,
        not_found_rows=10, attempts=1, lease_owner="w2", lease_expires_at=NOW + timedelta(seconds=30),
        created_at=NOW - timedelta(minutes=3), started_at=NOW - timedelta(minutes=2),
        cancel_requested_at=NOW - timedelta(seconds=2), cancel_requested_by="bob",
    )
    # the workers running those two beat (ahead of the real clock, which liveness reads)
    beat = datetime.now(UTC) + timedelta(days=1)
    with db.write() as session:
        for worker_id, job_key in (("w1", "processing"), ("w2", "cancelling")):
            session.merge(Worker(id=worker_id, host="worker-host", pid=4100 + len(worker_id), started_at=NOW,
                                 last_seen_at=beat, current_job_id=ids[job_key]))
    return ids


LOG_LINES: tuple[tuple[int, str, int | None, str], ...] = (
    (20, "worker", 1, "job 1 started: 5 rows, strategy auto"),
    (20, "worker", 1, "batch window 2025-07-03..2025-10-01: 4 claims"),
    (30, "worker", 1, "batch query with dates failed: 400 from payer; retrying without dates"),
    (20, "worker", 1, "job 1 completed: 3 found, 1 not found, 1 invalid"),
    (20, "scheduler", None, "cleanup_stuck_jobs: 0 jobs stuck"),
    (10, "console", None, "console started by alice from 10.0.0.5 (operator)"),
    (40, "worker", 2, "payer error 503 on claim FG53171099: giving up after 3 tries"),
    (50, "worker", 2, "job 2 failed: stopped after 5 attempts"),
    (20, "worker", 3, "job 3 cancelled after 340 ms"),
    (20, "console", None, "[@click=app.quit]quit[/] \x1b]52;c;cm0gLXJmIH4=\x07 \x1b[2J hostile line"),
    (30, "scheduler", None, "health_check_alert: no workers alive for 20 s"),
    (20, "worker", 6, "job 6 progress 850/2000 (12.3 rows/s) with a long message that goes on and on "
                      "past the width of an eighty-column terminal so that wrapping shows"),
)


def seed_logs(db: Database, *, repeat: int = 1) -> int:
    """The fixed lines, `repeat` times, one second apart, ending a minute before NOW."""
    rows = []
    count = len(LOG_LINES) * repeat
    start = NOW - timedelta(seconds=60 + count)
    for n in range(count):
        level, service, job_id, message = LOG_LINES[n % len(LOG_LINES)]
        rows.append({
            "at": start + timedelta(seconds=n), "service": service, "host": "host1", "pid": 100,
            "level": level, "logger": f"claimsops.{service}", "job_id": job_id, "run_id": None,
            "message": message,
        })
    with db.write() as session:
        session.execute(insert(LogRecord), rows)
    return count


def add_log(db: Database, message: str, *, level: int = 20, service: str = "worker", job_id: int | None = None,
            at: datetime | None = None) -> None:
    with db.write() as session:
        session.execute(insert(LogRecord), [{
            "at": at or NOW, "service": service, "host": "host1", "pid": 100, "level": level,
            "logger": f"claimsops.{service}", "job_id": job_id, "run_id": None, "message": message,
        }])


def add_alert(db: Database, message: str = "no workers alive") -> None:
    with db.write() as session:
        session.add(Alert(check="workers", kind="alert", message=message, raised_at=NOW - timedelta(minutes=1)))


# ---- part 2: stats, tasks, health, audit ----

def seed_metrics(db: Database) -> None:
    """An hour of payer calls, rows done and job durations, at fixed times before NOW."""
    rows: list[dict[str, Any]] = []
    outcomes = ["ok"] * 17 + ["not_found", "throttled", "timeout"]
    for minute in range(60):
        at = NOW - timedelta(minutes=60 - minute, seconds=-30)
        for n in range(4):
            seconds = (0.2 + 0.05 * ((minute * 7 + n * 3) % 20)) * (3 if minute % 15 == 0 else 1)
            outcome = outcomes[(minute + n) % len(outcomes)]
            rows.append({"at": at, "name": "payer_call", "value": seconds, "label": f"summary:{outcome}"})
        if minute >= 20:
            rows.append({"at": at, "name": "rows_done", "value": 40 + (minute % 9) * 25, "label": ""})
    for seconds, status in ((40.0, "COMPLETED"), (12.5, "COMPLETED"), (95.0, "FAILED")):
        rows.append({"at": NOW - timedelta(minutes=30), "name": "job_duration", "value": seconds, "label": status})
    with db.write() as session:
        write_rows(session.connection(), rows)


def seed_tasks(db: Database) -> dict[str, int]:
    """Task states and runs at fixed times, with log lines tagged with the run ids; the
    scheduler lease is held (until far in the future) by sched-host:4242. Returns run ids."""
    ids: dict[str, int] = {}
    states = [
        TaskState(name="cleanup_old_sessions", schedule="daily 02:00", paused=False,
                  next_run_at=datetime(2025, 10, 2, 2, 0, tzinfo=UTC), updated_at=NOW),
        TaskState(name="cleanup_stuck_jobs", schedule="every 15m", paused=False,
                  next_run_at=NOW + timedelta(minutes=15), updated_at=NOW),
        TaskState(name="archive_old_results", schedule="daily 03:00", paused=True, paused_by="alice",
                  next_run_at=None, updated_at=NOW),
        TaskState(name="health_check_alert", schedule="every 5m", paused=False,
                  next_run_at=NOW + timedelta(minutes=3), updated_at=NOW),
        TaskState(name="log_retention", schedule="daily 04:00", paused=False,
                  next_run_at=datetime(2025, 10, 2, 4, 0, tzinfo=UTC), updated_at=NOW),
    ]
    def run(task: str, trigger: str, ago: timedelta, finished_s: float, duration_s: float, outcome: str,
            summary: str, requested_by: str | None = None) -> TaskRun:
        started = NOW - ago
        return TaskRun(task=task, trigger=trigger, requested_by=requested_by, started_at=started,
                       finished_at=started + timedelta(seconds=finished_s), duration_s=duration_s,
                       outcome=outcome, summary=summary)

    runs = [
        ("sessions", run("cleanup_old_sessions", "scheduled", timedelta(hours=10), 1, 0.8, "ok",
                         "deleted 3 operator sessions and 12 payer tokens")),
        ("stuck_old", run("cleanup_stuck_jobs", "scheduled", timedelta(minutes=30), 1, 0.3, "ok", "0 jobs stuck")),
        ("stuck", run("cleanup_stuck_jobs", "manual", timedelta(minutes=5), 2, 1.6, "warn",
                      "job 2 had no live worker for 3 min: resumed on another worker", requested_by="alice")),
        ("archive", run("archive_old_results", "scheduled", timedelta(hours=9), 40, 40.2, "error",
                        "OSError: [Errno 28] No space left on device")),
        ("health", run("health_check_alert", "scheduled", timedelta(minutes=2), 1, 0.9, "ok",
                       "healthy: 5 checks ok")),
    ]
    with db.write() as session:
        for state in states:
            session.merge(state)
        for key, run in runs:
            session.add(run)
            session.flush()
            ids[key] = run.id
        session.merge(Lease(name="scheduler", owner="sched-host:4242", expires_at=datetime(2099, 10, 1, 12, 0, 15,
                                                                                           tzinfo=UTC),
                            acquired_at=NOW - timedelta(days=1)))
    lines = [
        (ids["stuck"], 20, "run {run} of cleanup_stuck_jobs started (run now by alice)"),
        (ids["stuck"], 30, "job 2: no live worker for 3 min; lease expired at 11:52:00"),
        (ids["stuck"], 20, "job 2 resumed from row 61 by another worker"),
        (ids["stuck"], 30, "run {run} of cleanup_stuck_jobs warn in 1.6 s: job 2 had no live worker"),
        (ids["stuck_old"], 20, "run {run} of cleanup_stuck_jobs ok in 0.3 s: 0 jobs stuck"),
        (ids["archive"], 40, "run {run} of archive_old_results crashed: [Errno 28] No space left on device"),
    ]
    with db.write() as session:
        session.execute(insert(LogRecord), [{
            "at": NOW - timedelta(minutes=5, seconds=-n), "service": "scheduler", "host": "sched-host", "pid": 4242,
            "level": level, "logger": "claimsops.tasks", "job_id": None, "run_id": run_id,
            "message": message.format(run=run_id),
        } for n, (run_id, level, message) in enumerate(lines)])
    return ids


def seed_health(db: Database, *, scheduler: bool = True) -> None:
    """Recorded check states and an alert history at fixed times; with `scheduler`, a live
    scheduler lease too (the recorded states are then what the console shows as they are)."""
    states = [
        ("database", "ok", "sqlite answered in 1 ms", 1.2, NOW - timedelta(days=2)),
        ("broker", "ok", "embedded (in-process broker)", None, NOW - timedelta(days=2)),
        ("workers", "failing", "no live workers: queued jobs wait until one starts", None,
         NOW - timedelta(minutes=12)),
        ("progress", "degraded", "job 9 stalled (no worker since 11:46 UTC): start `claimsops up` or "
         "`claimsops worker`", None, NOW - timedelta(minutes=12)),
        ("disk", "degraded", "1.8 GiB free (4%) where home lives", None, NOW - timedelta(hours=3)),
        ("payer", "ok", "https://payer.example.com issued a token in 420 ms", 420.0, NOW - timedelta(days=2)),
    ]
    alerts = [
        ("disk", "alert", "ALERT: disk is degraded: 1.8 GiB free (4%) where home lives", NOW - timedelta(hours=3), None),
        ("payer", "alert", "ALERT: payer is failing: https://payer.example.com did not answer within 5 s",
         NOW - timedelta(hours=2), NOW - timedelta(hours=1, minutes=55)),
        ("payer", "recovery", "RECOVERED: payer is ok again after 5 min: issued a token in 420 ms",
         NOW - timedelta(hours=1, minutes=55), NOW - timedelta(hours=1, minutes=55)),
        ("workers", "alert", "ALERT: workers is failing: no live workers: [red]queued[/red] jobs wait",
         NOW - timedelta(minutes=12), None),
    ]
    with db.write() as session:
        for check, state, detail, latency, since in states:
            session.add(HealthState(check=check, state=state, detail=detail, latency_ms=latency, since=since,
                                    checked_at=NOW - timedelta(minutes=2)))
        for check, kind, message, raised, resolved in alerts:
            session.add(Alert(check=check, kind=kind, message=message, raised_at=raised, resolved_at=resolved))
        if scheduler:
            session.merge(Lease(name="scheduler", owner="sched-host:4242", acquired_at=NOW,
                              expires_at=datetime.now(UTC) + timedelta(days=1)))


def seed_audit(db: Database) -> None:
    """Audit entries at fixed times: actions, a refusal, a failure, and hostile text."""
    entries = [
        ("alice", "10.0.0.5", "submit", "/srv/in/original-basic.csv", "ok", "1"),
        ("alice", "10.0.0.5", "cancel", "job 3", "ok", "CANCELLING"),
        ("bob", "10.0.0.9", "cancel", "job 6", "refused", "this session is read-only (--read-only)"),
        ("alice", "10.0.0.5", "reveal", "job 1", "ok", "names, birth dates and member ids"),
        ("alice", "10.0.0.5", "task.schedule", "cleanup_stuck_jobs", "failed",
         "bad schedule 'every 15 parsecs': write 'every N' with a unit s, m, h or d"),
        ("carol", "local", "task.run", "cleanup_stuck_jobs", "ok", "run of cleanup_stuck_jobs requested"),
        ("alice", "10.0.0.5", "claim.lookup", "claim FG53171076", "ok",
         "Finalized (F1/65) matched by window; 3 payer calls in 0.4 s"),
        ("[b]mallory[/b]", "\x1b]52;c;x\x07", "export", "job 1", "failed", "[@click=app.quit]x[/]"),
    ]
    with db.write() as session:
        for n, (user, addr, action, target, outcome, detail) in enumerate(entries):
            session.add(AuditEntry(at=NOW - timedelta(minutes=40 - 5 * n), user=user, client_addr=addr,
                                   action=action, target=target, outcome=outcome, detail=detail))


# ---- issue 16: claim follow-up ----

FOLLOWUP_TIN = "123456789"


def found_result(category: str, status: str, cls: str, paid: str | None = None, codes: tuple[str, ...] = ()) -> Any:
    from engine.results import ClaimResult

    return ClaimResult(status=status, status_class=cls, success=True, status_category=category,
                       status_code="20" if cls == "pending" else "65", total_charged=Decimal("1250.00"),
                       total_paid=Decimal(paid) if paid is not None else None, matched_by="window",
                       first_service_date=date(2025, 8, 20), last_service_date=date(2025, 8, 20),
                       adjudication_codes=codes, check_number="EFT7781" if paid else "")


def observe(db: Database, at: datetime, job_id: int, results: list[tuple[str, Any]], first_row: int = 1) -> None:
    """Results of one job at `at`, observed as a written batch would be (engine.followup.record)."""
    from engine.followup.record import Seen, record_observations

    seen = [Seen(job_id, first_row + n, "87726", FOLLOWUP_TIN, number, result)
            for n, (number, result) in enumerate(results)]
    with db.write() as session:
        record_observations(session, seen, at)


def seed_followup(db: Database, *, many_open: int = 0) -> dict[str, int]:
    """Five claims with a history, seen by an upload 20 days ago and the follow-ups since:
    PN10000001 A2 → P1 (open, 3 days ago), FP20000002 P1 → F1 paid 812.40 (2 days ago, Monday),
    DN30000003 A2 → F2 denied CARC 50 (an hour ago), ST40000004 R3 for 200 days (stale),
    NF50000005 not found 5 days ago (open: recent); `many_open` more open P1 claims (paging).
    Returns the job ids."""
    from engine.results import ClaimResult

    upload = add_job(db, file_name="september.csv", status="COMPLETED", created_at=NOW - timedelta(days=20))
    old = add_job(db, file_name="march.csv", status="COMPLETED", created_at=NOW - timedelta(days=200))
    recheck = add_job(db, file_name="follow-up 2025-09-28 02:00 (3 claims due)", status="COMPLETED",
                      kind="followup", created_at=NOW - timedelta(days=3))
    monday = add_job(db, file_name="follow-up 2025-09-29 02:00 (2 claims due)", status="COMPLETED",
                     kind="followup", created_at=NOW - timedelta(days=2))
    today = add_job(db, file_name="follow-up 2025-10-01 11:00 (1 claims due)", status="COMPLETED",
                    kind="followup", created_at=NOW - timedelta(hours=1))
    observe(db, NOW - timedelta(days=200), old, [("ST40000004", found_result("R3", "Requests", "pending"))])
    observe(db, NOW - timedelta(days=20), upload, [
        ("PN10000001", found_result("A2", "Acknowledged", "pending")),
        ("FP20000002", found_result("P1", "Pending", "pending")),
    ])
    if many_open:  # claims are numbered as first seen: between the two uploads
        bulk = add_job(db, file_name="bulk.csv", status="COMPLETED", created_at=NOW - timedelta(days=15))
        observe(db, NOW - timedelta(days=15), bulk,
                [(f"BK{n:08d}", found_result("P1", "Pending", "pending")) for n in range(many_open)])
    observe(db, NOW - timedelta(days=10), upload, [("DN30000003", found_result("A2", "Acknowledged", "pending"))],
            first_row=3)
    observe(db, NOW - timedelta(days=5), upload, [("NF50000005", ClaimResult.not_found("not at the payer"))],
            first_row=4)
    observe(db, NOW - timedelta(days=3), recheck, [("PN10000001", found_result("P1", "Pending", "pending"))])
    observe(db, NOW - timedelta(days=2), monday, [("FP20000002", found_result("F1", "Finalized", "finalized", "812.40"))])
    observe(db, NOW - timedelta(hours=1), today, [
        ("DN30000003", found_result("F2", "Denied", "denied", "0.00", ("CARC 50",)))])
    return {"upload": upload, "old": old, "recheck": recheck, "monday": monday, "today": today}
