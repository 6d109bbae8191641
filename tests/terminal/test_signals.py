"""SIGTERM, SIGHUP and SIGINT make the console leave as `q` does: the terminal is handed back
with the main screen, no mouse reporting and a visible cursor, and `claimsops up` releases
the jobs it was running so the next start resumes them at once."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine.db import Database
from engine.jobs.queries import get_job
from engine.workers_registry import count_live
from tests.fixtures import csv_cases
from tests.terminal.pty_session import ALT_SCREEN, HIDDEN_CURSOR, MOUSE, PtySession, left_on

EXIT_SIGNALS = [signal.SIGTERM, signal.SIGHUP, signal.SIGINT]


def _env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    return {**env, "CLAIMSOPS_HOME": str(tmp_path / "home")}


def _assert_terminal_restored(session: PtySession) -> None:
    out = session.output
    assert ALT_SCREEN[0] in out, "the console never took the screen"
    assert not left_on(out, ALT_SCREEN), "left on the alternate screen"
    assert not left_on(out, MOUSE), "left with mouse reporting on"
    assert not left_on(out, HIDDEN_CURSOR), "left with the cursor hidden"
    assert "Traceback" not in out


@pytest.mark.parametrize("sig", EXIT_SIGNALS, ids=lambda s: s.name)
def test_console_exits_as_q_does_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    session = PtySession(["console"], _env(tmp_path), tmp_path)
    session.wait_for("Jobs")
    session.wait_for(MOUSE[0])
    session.kill(sig)
    assert session.finish() == 0
    _assert_terminal_restored(session)


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGHUP], ids=lambda s: s.name)
def test_up_releases_its_running_job_on_a_signal(tmp_path: Path, sig: signal.Signals) -> None:
    env = {**_env(tmp_path), "CLAIMSOPS_PAYER_RATE_PER_SECOND": "0.2"}  # a call each 5 s: still running when the signal comes, however slow the machine
    session = PtySession(["up"], env, tmp_path)
    session.wait_for("Jobs")
    db = Database(f"sqlite:///{tmp_path / 'home' / 'claimsops.db'}")
    try:
        # the console paints before its workers start: they are up once they beat
        assert _wait(lambda: count_live(db) > 0, 60), "the workers of claimsops up never started"
        csv = csv_cases.write_sample(tmp_path, "original-enhanced.csv")
        subprocess.run([sys.executable, "-m", "console.cli", "submit", str(csv)], env=env, cwd=tmp_path,
                       check=True, capture_output=True, timeout=60)
        assert _wait(lambda: get_job(db, 1).status == "PROCESSING", 30), "the job never started"
        session.kill(sig)
        assert session.finish() == 0
        _assert_terminal_restored(session)
        job = get_job(db, 1)
        # released, not abandoned: no lease left to wait out, so the next start resumes it at once
        assert job.status == "PROCESSING" and job.lease_owner is None and job.lease_expires_at is None
        assert job.history[-1]["event"] == "released"
    finally:
        db.dispose()
        if session.proc.poll() is None:  # a failed assertion must not leave claimsops up running
            os.killpg(session.proc.pid, signal.SIGKILL)
            session.proc.wait(10)


def _wait(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False
