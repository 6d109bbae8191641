"""`claimsops up --headless` with CLAIMSOPS_METRICS_PORT serves /metrics: scraped during and after
a job against the sandbox payer, parsed as Prometheus parses it, it agrees with the database."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import func, select

from bench.common import wait_for
from engine.db import Database
from engine.metrics import PAYER_CALL
from engine.models import Job, MetricMinute
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _scrape(port: int) -> dict[str, dict[tuple, float]]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    samples: dict[str, dict[tuple, float]] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples.setdefault(s.name, {})[tuple(sorted(s.labels.items()))] = s.value
    return samples


def _alive(port: int) -> bool:
    families = _try_scrape(port)
    return bool(families) and families["claimsops_workers_alive"][()] >= 1


def _by(samples: dict[tuple, float], label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for key, value in samples.items():
        out[dict(key)[label]] = out.get(dict(key)[label], 0.0) + value
    return out


def _database(db: Database) -> tuple[dict[str, int], dict[str, int], int]:
    with db.read() as session:
        jobs = dict(session.execute(select(Job.status, func.count()).group_by(Job.status)).all())
        rows = session.execute(select(func.sum(Job.found_rows), func.sum(Job.not_found_rows),
                                      func.sum(Job.error_rows), func.sum(Job.invalid_rows))).one()
        calls = session.scalar(select(func.sum(MetricMinute.count)).where(MetricMinute.name == PAYER_CALL)) or 0
    return jobs, dict(zip(("found", "not_found", "error", "invalid"), (int(r or 0) for r in rows), strict=True)), int(calls)


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=60)


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    return {**env, "CLAIMSOPS_HOME": str(tmp_path / "home"), **extra}


def test_metrics_help_says_loopback_by_default(tmp_path: Path) -> None:
    result = _cli(_env(tmp_path), tmp_path, "metrics", "--help")
    assert result.returncode == 0 and "--port" in result.stdout and "127.0.0.1" in result.stdout


def test_metrics_serves_until_sigterm_and_a_taken_port_is_one_line(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path)
    server = subprocess.Popen([sys.executable, "-m", "console.cli", "metrics", "--port", str(port)], env=env,
                              cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        families = wait_for(lambda: _try_scrape(port), 30, "/metrics", interval=0.1)
        assert families["claimsops_jobs"][(("status", "PENDING"),)] == 0
        taken = _cli(env, tmp_path, "metrics", "--port", str(port))
        lines = taken.stderr.strip().splitlines()
        assert taken.returncode != 0 and len(lines) == 1, taken.stderr
        assert lines[0].startswith(f"claimsops: cannot serve metrics on 127.0.0.1:{port}: ")
        assert "another port" in lines[0] and "Traceback" not in taken.stderr
    finally:
        server.send_signal(signal.SIGTERM)
        server.communicate(timeout=30)
    assert server.returncode == 0


def test_the_scheduler_serves_task_metrics_with_the_port_set(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, CLAIMSOPS_METRICS_PORT=str(port))
    scheduler = subprocess.Popen([sys.executable, "-m", "console.cli", "scheduler"], env=env, cwd=tmp_path,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        families = wait_for(lambda: _try_scrape(port), 30, "/metrics of the scheduler", interval=0.1)
        tasks = {dict(k)["task"] for k in families["claimsops_task_paused"]}
        assert tasks and families["claimsops_database_up"][()] == 1
        assert set(families["claimsops_task_late"].values()) == {0.0}
    finally:
        scheduler.send_signal(signal.SIGTERM)
        scheduler.communicate(timeout=30)
    assert scheduler.returncode == 0


def _try_scrape(port: int) -> dict[str, dict[tuple, float]] | None:
    try:
        return _scrape(port)
    except httpx.TransportError:  # not listening yet
        return None


@pytest.mark.slow
def test_up_serves_metrics_that_agree_with_the_database(tmp_path: Path) -> None:
    port = _free_port()
    env = _env(tmp_path, CLAIMSOPS_METRICS_PORT=str(port), CLAIMSOPS_PAYER_RATE_PER_SECOND="40")
    csv = tmp_path / "claims.csv"
    write_input_csv(Dataset.generate(seed=21), csv, rows=400, tins=2, seed=3)
    up = subprocess.Popen([sys.executable, "-m", "console.cli", "up", "--headless"], env=env, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    db = None
    try:
        wait_for(lambda: _alive(port), 60, "a live worker on /metrics", interval=0.2)
        cli = _cli(env, tmp_path, "submit", str(csv))
        assert cli.returncode == 0, cli.stderr
        during = wait_for(lambda: (m := _scrape(port)) and m["claimsops_jobs"][(("status", "PROCESSING"),)] == 1
                          and m["claimsops_workers_busy"][()] == 1 and m, 60, "the job running on /metrics", interval=0.1)
        db = Database(f"sqlite:///{tmp_path / 'home' / 'claimsops.db'}")
        # counters never run ahead of the database read just after the scrape
        scraped_rows = _by(during["claimsops_rows_processed_total"], "outcome")
        assert all(scraped_rows[k] <= v for k, v in _database(db)[1].items())
        assert sum(scraped_rows.values()) < 400
        wait_for(lambda: _database(db)[0].get("COMPLETED") == 1, 120, "the job to complete", interval=0.2)
        # the job's duration is in the metrics flush that follows its last calls
        after = wait_for(lambda: (m := _scrape(port)) and "claimsops_job_duration_seconds_count" in m and m,
                         30, "the job's duration on /metrics", interval=0.2)
        jobs, rows, calls = _database(db)
        assert {k: int(v) for k, v in _by(after["claimsops_jobs"], "status").items() if v} == jobs
        assert {k: int(v) for k, v in _by(after["claimsops_rows_processed_total"], "outcome").items()} == rows
        assert sum(rows.values()) == 400
        assert int(sum(after["claimsops_payer_calls_total"].values())) == calls > 0
        assert after["claimsops_payer_call_duration_seconds_count"][()] == calls
        assert after["claimsops_job_duration_seconds_count"] == {(("status", "COMPLETED"),): 1}
        assert after["claimsops_workers_busy"][()] == 0
    finally:
        if db is not None:
            db.dispose()
        up.send_signal(signal.SIGTERM)
        _, stderr = up.communicate(timeout=30)
    assert up.returncode == 0, stderr
    assert f"serving Prometheus metrics at http://127.0.0.1:{port}/metrics" in stderr.decode()
    with pytest.raises(httpx.TransportError):  # the endpoint stopped with the process
        httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2)
