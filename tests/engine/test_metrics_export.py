"""The Prometheus collector from real rows, on SQLite and PostgreSQL; the deploy/ alert rules and
dashboard use only names it exports."""

from __future__ import annotations

import json
import re
from datetime import timedelta
from pathlib import Path

import yaml
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import update
from sqlalchemy.exc import OperationalError

from engine.alerts import record
from engine.config import Settings
from engine.health import CheckResult
from engine.jobs.rows import record_results
from engine.metrics import JOB_DURATION, PAYER_CALL, PAYER_HEDGE, write_rows
from engine.metrics_export import registry_for
from engine.models import Job, Worker, utcnow
from engine.results import ClaimResult
from tests.fixtures.jobs import make_job

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
NAME = re.compile(r"claimsops_[a-z_]+")


def _scrape(db, settings: Settings) -> dict[str, dict[tuple, float]]:
    """{sample name: {sorted labels: value}} from one exposition, parsed as Prometheus would."""
    text = generate_latest(registry_for(db, settings)).decode()
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def _seed(db) -> None:
    now = utcnow()
    for status in ("COMPLETED", "COMPLETED", "FAILED", "PROCESSING", "PENDING"):
        make_job(db, rows=0, status=status)
    with db.write() as session:
        session.execute(update(Job).where(Job.status == "COMPLETED").values(found_rows=7, not_found_rows=2))
        session.execute(update(Job).where(Job.status == "FAILED").values(error_rows=3, invalid_rows=1))
        session.execute(update(Job).where(Job.status == "PROCESSING").values(
            lease_owner="gone", lease_expires_at=now - timedelta(minutes=1)))
        session.add(Worker(id="w1", host="h", pid=1, last_seen_at=now, current_job_id=4))
        session.add(Worker(id="w2", host="h", pid=2, last_seen_at=now))
        session.add(Worker(id="w3", host="h", pid=3, last_seen_at=now - timedelta(minutes=5)))
        rows = [{"at": now, "name": PAYER_CALL, "value": v, "label": label}
                for v, label in [(0.08, "summary:ok")] * 6 + [(0.3, "detail:not_found")] * 2
                + [(4.0, "summary:throttled"), (20.0, "summary:timeout"), (0.2, "summary:weird")]]
        rows += [{"at": now, "name": PAYER_HEDGE, "value": 1.0, "label": "inquiry"}] * 3
        rows += [{"at": now, "name": JOB_DURATION, "value": v, "label": "COMPLETED"} for v in (10.0, 400.0)]
        write_rows(session.connection(), rows)


def test_collector_reads_the_database(db, tmp_path) -> None:
    _seed(db)
    record(db, [CheckResult("payer", "unhealthy", "payer unreachable")])
    m = _scrape(db, Settings(home=tmp_path, payer_rate_per_second=20))
    jobs = {dict(k)["status"]: v for k, v in m["claimsops_jobs"].items()}
    assert jobs == {"PENDING": 1, "PROCESSING": 1, "CANCELLING": 0, "COMPLETED": 2, "FAILED": 1, "CANCELLED": 0}
    rows = {dict(k)["outcome"]: v for k, v in m["claimsops_rows_processed_total"].items()}
    assert rows == {"found": 14, "not_found": 4, "error": 3, "invalid": 1}
    calls = {(dict(k)["surface"], dict(k)["outcome"]): v for k, v in m["claimsops_payer_calls_total"].items()}
    assert calls == {("summary", "ok"): 6, ("detail", "not_found"): 2, ("summary", "throttled"): 1,
                     ("summary", "timeout"): 1, ("summary", "client_error"): 1}
    assert m["claimsops_payer_hedged_copies_total"] == {(("surface", "inquiry"),): 3}
    buckets = {dict(k)["le"]: v for k, v in m["claimsops_payer_call_duration_seconds_bucket"].items()}
    assert (buckets["0.1"], buckets["0.25"], buckets["0.5"], buckets["5.0"], buckets["+Inf"]) == (6, 7, 9, 10, 11)
    assert m["claimsops_payer_call_duration_seconds_count"][()] == 11
    assert abs(m["claimsops_payer_call_duration_seconds_sum"][()] - (6 * 0.08 + 0.6 + 4.2 + 20)) < 1e-6
    durations = m["claimsops_job_duration_seconds_count"]
    assert durations == {(("status", "COMPLETED"),): 2}
    assert m["claimsops_payer_rate_limit_per_second"][()] == 20
    assert (m["claimsops_workers_alive"][()], m["claimsops_workers_busy"][()]) == (2, 1)
    assert m["claimsops_alerts_active"] == {(("check", "payer"),): 1}
    assert m["claimsops_jobs_stalled"][()] == 1  # job 4's worker is gone
    paused = m["claimsops_task_paused"]
    assert paused and set(paused.values()) == {0.0}
    # bounded labels: no file, user or claim names anywhere
    labels = {value for family in m.values() for key in family for _, value in key}
    assert not labels & {"claims.csv", "tester"}


def test_followup_claims_by_state(db, tmp_path) -> None:
    job_id = make_job(db, rows=3, status="PROCESSING")
    record_results(db, job_id, [(1, ClaimResult(status="Pending", status_class="pending", success=True,
                                                status_category="P1")),
                                (2, ClaimResult(status="Finalized", status_class="finalized", success=True,
                                                status_category="F1")),
                                (3, ClaimResult.error("payer call failed"))])
    m = _scrape(db, Settings(home=tmp_path))
    follow = {dict(k)["state"]: v for k, v in m["claimsops_followup_claims"].items()}
    assert follow == {"open": 1, "stale": 0, "closed": 1}
    assert m["claimsops_followup_claims_due"][()] == 0  # asked just now: due tomorrow
    assert m["claimsops_followup_closed_this_week"][()] == 1


def test_an_empty_database_exports_every_family(db, tmp_path) -> None:
    m = _scrape(db, Settings(home=tmp_path))
    assert m["claimsops_database_up"][()] == 1
    assert m["claimsops_workers_alive"][()] == 0 and m["claimsops_payer_call_duration_seconds_count"][()] == 0
    assert "claimsops_queue_length" not in m  # unknown, not zero, when no worker reported it


def test_an_unreadable_database_is_database_up_0_not_a_traceback(sqlite_db, tmp_path, monkeypatch, caplog) -> None:
    def unavailable():
        raise OperationalError("SELECT member_id FROM jobs", {}, ConnectionRefusedError("refused"))

    monkeypatch.setattr(sqlite_db, "read", unavailable)
    m = _scrape(sqlite_db, Settings(home=tmp_path))
    assert m == {"claimsops_database_up": {(): 0.0}}
    [line] = [r.getMessage() for r in caplog.records if r.name == "claimsops.metrics"]
    assert line.startswith("metrics scrape: database unavailable") and "SELECT" not in line


def _exported(db, tmp_path) -> set[str]:
    _seed(db)
    text = generate_latest(registry_for(db, Settings(home=tmp_path))).decode()
    return {s.name for f in text_string_to_metric_families(text) for s in f.samples} | {
        f.name for f in text_string_to_metric_families(text)}


def test_alert_rules_use_only_exported_names(sqlite_db, tmp_path) -> None:
    exported = _exported(sqlite_db, tmp_path)
    rules = yaml.safe_load((DEPLOY / "prometheus-rules.yml").read_text())["groups"][0]["rules"]
    assert {r["alert"] for r in rules} == {
        "ClaimsopsJobStalled", "ClaimsopsNoWorker", "ClaimsopsPayerErrorRate", "ClaimsopsTaskLate"}
    for rule in rules:
        names = set(NAME.findall(rule["expr"]))
        assert names and names <= exported, (rule["alert"], names - exported)


def test_dashboard_uses_only_exported_names(sqlite_db, tmp_path) -> None:
    exported = _exported(sqlite_db, tmp_path)
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
    assert exprs
    for expr in exprs:
        names = set(NAME.findall(expr))
        assert names and names <= exported, (expr, names - exported)
