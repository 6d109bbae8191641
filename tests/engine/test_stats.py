"""Statistics from real rows: jobs today, failures by reason, durations, payer latency
percentiles and outcome classes, workers, sparklines — on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import update

from engine import stats
from engine.config import Settings
from engine.metrics import JOB_DURATION, PAYER_CALL, ROWS_DONE, write_rows
from engine.models import Job, Worker, utcnow
from tests.fixtures.jobs import make_job


def test_stats_from_real_rows(db, tmp_path) -> None:
    now = utcnow()
    for status in ("COMPLETED", "COMPLETED", "COMPLETED", "FAILED", "CANCELLED", "PROCESSING"):
        make_job(db, rows=0, status=status)
    with db.write() as session:
        session.execute(update(Job).where(Job.status == "FAILED").values(failure_reason="payer refused credentials"))
        session.add(Worker(id="w1", host="h", pid=1, last_seen_at=now, current_job_id=6))
        session.add(Worker(id="w2", host="h", pid=2, last_seen_at=now))
        session.add(Worker(id="w3", host="h", pid=3, last_seen_at=now - timedelta(minutes=5)))
        rows = [{"at": now - timedelta(minutes=1), "name": PAYER_CALL, "value": v / 1000, "label": f"summary:{o}"}
                for v, o in [(100, "ok")] * 90 + [(1000, "ok")] * 8 + [(5000, "throttled"), (9000, "timeout")]]
        rows += [{"at": now - timedelta(minutes=2), "name": ROWS_DONE, "value": 600, "label": ""},
                 {"at": now - timedelta(minutes=2), "name": JOB_DURATION, "value": 10, "label": "COMPLETED"},
                 {"at": now - timedelta(minutes=2), "name": JOB_DURATION, "value": 30, "label": "COMPLETED"}]
        write_rows(session.connection(), rows)
    s = stats.collect(db, Settings(home=tmp_path), now=now + timedelta(seconds=1))
    assert s.jobs_today["total"] == 6 and s.jobs_today["COMPLETED"] == 3
    assert s.success_rate == 0.75
    assert s.failed_by_reason == [("payer refused credentials", 1)]
    assert s.duration_avg_s == 20 and s.duration_p95_s is not None and s.duration_p95_s >= 20
    assert s.latency_ms["p50"] == pytest.approx(100, rel=0.02) and s.latency_ms["p99"] >= 4900
    assert s.calls_by_outcome["ok"] == 98 and s.calls_by_outcome["throttled"] == 1 and s.calls_by_outcome["timeout"] == 1
    assert (s.workers_alive, s.workers_busy) == (2, 1)
    assert s.rows_per_minute == 10.0
    assert len(s.throughput_spark) == 60 and sum(s.throughput_spark) == 600
    assert max(s.latency_spark) > 0
    assert s.database["backend"] in ("sqlite", "postgresql") and s.database.get("size_bytes", 0) > 0
    assert s.disk_free_bytes and s.to_dict()["jobs_today"]["total"] == 6
