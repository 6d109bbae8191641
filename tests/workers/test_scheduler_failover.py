"""Two real scheduler processes on one SQLite file: one leads, the other waits as a standby and
says so; SIGKILL the leader and the standby takes over within the lease time; every trigger of
every task runs exactly once across both; SIGTERM stops gracefully and releases the lease."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

from sqlalchemy import select

from bench.common import wait_for
from engine import leases
from engine.actions import Operator
from engine.config import Settings
from engine.db import Database
from engine.models import LogRecord, TaskRun
from engine.tasks import controls, store

ROOT = Path(__file__).resolve().parents[2]
LEASE = 3.0
INTERVAL = 2
FAST = ("cleanup_stuck_jobs", "cleanup_old_sessions")
CODE = "import sys; from workers.scheduler import main; sys.exit(main(sys.argv[1:]))"


def spawn(home: Path, log: Path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update(CLAIMSOPS_HOME=str(home), PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", CODE, "--lease-seconds", str(LEASE)], cwd=ROOT, env=env,
        stdout=subprocess.DEVNULL, stderr=log.open("w"),
    )




def leader_pid(db: Database) -> int | None:
    info = store.scheduler_leader(db)
    return int(info.owner.split(":")[1]) if info else None


def scheduled_runs(db: Database) -> list[TaskRun]:
    with db.read() as session:
        return list(session.scalars(
            select(TaskRun).where(TaskRun.trigger == "scheduled", TaskRun.outcome != "missed").order_by(TaskRun.id)
        ))


def log_lines(db: Database, pid: int) -> list[str]:
    with db.read() as session:
        return list(session.scalars(select(LogRecord.message).where(LogRecord.pid == pid).order_by(LogRecord.id)))


def test_leader_standby_failover(tmp_path: Path) -> None:
    home = tmp_path / "home"
    settings = Settings(home=home)
    db = Database(settings.effective_database_url)
    ann = Operator("ann", "local", True)
    for name in FAST:
        controls.request_schedule(db, settings, ann, name, f"every {INTERVAL}s")
    for name in ("archive_old_results", "health_check_alert", "log_retention"):
        controls.request_pause(db, settings, ann, name)

    first = spawn(home, tmp_path / "a.log")
    second = None
    try:
        wait_for(lambda: leader_pid(db) == first.pid, 15, "the first process to lead")
        second = spawn(home, tmp_path / "b.log")
        standby = wait_for(lambda: [m for m in log_lines(db, second.pid) if m.startswith("standby:")], 15, "standby")
        leader_owner = store.scheduler_leader(db).owner
        assert standby == [f"standby: scheduler leader is {leader_owner} until " + standby[0].split(" until ")[1]]

        wait_for(lambda: len(scheduled_runs(db)) >= 2 * len(FAST) + 1, 10, "runs by the leader")
        first.send_signal(signal.SIGKILL)
        killed = time.monotonic()
        first.wait(5)
        wait_for(lambda: leader_pid(db) == second.pid, LEASE + 5, "the standby to take over")
        takeover = time.monotonic() - killed
        assert takeover <= LEASE + 0.5, f"takeover took {takeover:.2f} s"
        print(f"takeover {takeover:.2f} s after SIGKILL (lease {LEASE:.0f} s)")

        before = len(scheduled_runs(db))
        wait_for(lambda: len(scheduled_runs(db)) >= before + 2 * len(FAST), 10, "runs by the new leader")
        second.send_signal(signal.SIGTERM)
        assert second.wait(10) == 0
    finally:
        for proc in (first, second):
            if proc is not None and proc.poll() is None:
                proc.kill()
                proc.wait(5)

    assert leases.holder(db, leases.SCHEDULER) is None  # released on SIGTERM
    runs = scheduled_runs(db)
    slots = Counter((r.task, math.floor(r.started_at.timestamp() / INTERVAL)) for r in runs)
    assert {task for task, _ in slots} == set(FAST)
    assert [key for key, count in slots.items() if count > 1] == [], "a trigger ran twice"
    assert all(r.outcome in ("ok", "error") for r in runs)
    b_lines = log_lines(db, second.pid)
    assert any(m.endswith(f"took the scheduler lease from {leader_owner}") for m in b_lines)
    db.dispose()
