"""`claimsops tasks | task … | health` through the real CLI entry point (console.cli.main),
against real SQLite and a scheduler thread."""

from __future__ import annotations

import getpass
import json
import logging
import threading
from collections.abc import Iterator

import pytest

from console import cli
from engine.config import load_settings
from engine.db import Database
from engine.logsink import DatabaseLogHandler, setup_logging
from workers.scheduler import run_scheduler


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def live_scheduler() -> Iterator[DatabaseLogHandler]:
    settings = load_settings()
    db = Database(settings.effective_database_url)
    handler = setup_logging(db, "scheduler", stderr=False)
    stop = threading.Event()
    thread = threading.Thread(target=run_scheduler, args=(settings, db), daemon=True,
                              kwargs={"stop_event": stop, "lease_seconds": 3, "poll_seconds": 0.1})
    thread.start()
    yield handler
    stop.set()
    thread.join(10)
    logging.getLogger().removeHandler(handler)
    handler.close()
    db.dispose()


def test_tasks_json_and_80_column_listing(capsys) -> None:
    code, out, _ = run(capsys, "tasks", "--json")
    items = json.loads(out)
    assert code == 0 and [t["name"] for t in items] == [
        "cleanup_old_sessions", "cleanup_stuck_jobs", "archive_old_results", "health_check_alert", "log_retention",
        "recheck_open_claims"]
    for item in items:
        assert {"name", "schedule", "state", "paused", "last_run", "next_run_at"} <= set(item)
    assert items[1]["schedule"] == "every 15 minutes" and items[1]["state"] == "ok"
    code, out, _ = run(capsys, "tasks")
    lines = out.splitlines()
    assert code == 0 and lines[0].startswith("scheduler: not running")
    assert max(len(line) for line in lines) <= 80
    assert lines[1].split() == ["TASK", "STATE", "SCHEDULE", "LAST", "RUN", "NEXT", "RUN"]


def test_bad_schedule_is_a_clear_error_and_changes_nothing(capsys) -> None:
    code, out, err = run(capsys, "task", "schedule", "cleanup_stuck_jobs", "every", "15", "parsecs")
    assert code == 1 and out == ""
    assert err.startswith("claimsops: bad schedule 'every 15 parsecs': write 'every N' with a unit s, m, h or d")
    assert json.loads(run(capsys, "tasks", "--json")[1])[1]["schedule"] == "every 15 minutes"
    code, out, err = run(capsys, "task", "schedule", "nope", "every 5m")
    assert code == 1 and "unknown task 'nope'" in err


def test_schedule_pause_resume(capsys) -> None:
    code, out, _ = run(capsys, "task", "schedule", "cleanup_stuck_jobs", "0", "*/6", "*", "*", "*")
    assert code == 0 and out.startswith("cleanup_stuck_jobs now runs cron 0 */6 * * * (UTC) (0 */6 * * *); next run")
    assert "(the scheduler applies it when it next runs)" in out
    code, out, _ = run(capsys, "task", "pause", "cleanup_stuck_jobs")
    assert out.splitlines()[0] == "cleanup_stuck_jobs paused"
    item = json.loads(run(capsys, "tasks", "--json")[1])[1]
    assert (item["state"], item["paused"], item["paused_by"], item["next_run_at"]) == (
        "paused", True, getpass.getuser(), None)
    code, out, _ = run(capsys, "task", "resume", "cleanup_stuck_jobs", "--json")
    data = json.loads(out)
    assert data["message"].startswith("cleanup_stuck_jobs resumed; next run") and data["applied"] is None


def test_run_now_history_and_logs(capsys, live_scheduler) -> None:
    code, out, _ = run(capsys, "task", "run", "cleanup_stuck_jobs", "--wait")
    assert code == 0 and out.startswith("run ") and " of cleanup_stuck_jobs ok in " in out
    assert out.rstrip().endswith(": no stuck jobs")
    run_id = int(out.split()[1])
    code, out, _ = run(capsys, "task", "history", "cleanup_stuck_jobs")
    lines = out.splitlines()
    assert code == 0 and max(map(len, lines)) <= 80
    assert lines[1].split()[:2] == [str(run_id), lines[1].split()[1]]
    assert f"manual:{getpass.getuser()}"[:12] in lines[1]
    live_scheduler.flush()
    code, out, _ = run(capsys, "task", "logs", str(run_id))
    assert f"run {run_id} of cleanup_stuck_jobs started (run now by {getpass.getuser()})" in out
    item = json.loads(run(capsys, "tasks", "--json")[1])[1]
    assert item["last_run"]["trigger"] == "manual" and item["last_run"]["requested_by"] == getpass.getuser()
    assert run(capsys, "tasks")[1].startswith("scheduler: leader ")


def test_read_only_operator_is_refused(capsys) -> None:
    assert run(capsys, "operators", "add", "someone-else", "--admin")[0] == 0
    assert run(capsys, "operators", "remove", getpass.getuser())[0] == 0
    code, _, err = run(capsys, "task", "pause", "log_retention")
    assert code == 1 and err.startswith("claimsops: task.pause refused: read-only:")


def test_health_exit_codes(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run(capsys, "health", "--json")
    data = json.loads(out)
    assert code == 0 and data["status"] == "healthy" and len(data["checks"]) == 6
    monkeypatch.setenv("CLAIMSOPS_BROKER_URL", "redis://127.0.0.1:1/0")
    code, out, _ = run(capsys, "health")
    assert code == 2 and out.rstrip().endswith("overall: unhealthy")
    assert max(map(len, out.splitlines())) <= 80


def test_scheduler_command_refuses_a_bad_time_zone(capsys, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CLAIMSOPS_TIMEZONE", "Mars/Olympus")
    code, _, err = run(capsys, "scheduler", "--lease-seconds", "3")
    assert code == 1 and err.startswith("claimsops: unknown time zone 'Mars/Olympus'")


def test_run_now_without_a_scheduler_is_queued(capsys) -> None:
    code, out, _ = run(capsys, "task", "run", "log_retention")
    assert code == 0
    assert out == "run of log_retention requested; no scheduler is running: it starts when one does\n"
