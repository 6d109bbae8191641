"""The original system's worst failure, played out with real processes: the process running a
job goes away. claimsops says so everywhere (STALLED, "no worker since", Health degraded and
`claimsops health` non-zero) and picks the job up the moment a stack starts again."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import wait_for
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset


def _env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    return {**env, "CLAIMSOPS_HOME": str(tmp_path / "home"), **extra}


def _cli(env: dict[str, str], cwd: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "console.cli", *args], env=env, cwd=cwd, capture_output=True,
                          text=True, timeout=120)


def _job(env: dict[str, str], cwd: Path) -> dict:
    return json.loads(_cli(env, cwd, "job", "1", "--json").stdout)


def test_submit_with_no_worker_says_so(tmp_path: Path) -> None:
    env = _env(tmp_path)
    csv = tmp_path / "claims.csv"
    csv.write_text("claim_number\nFG53171076\n")
    result = _cli(env, tmp_path, "submit", str(csv))
    assert result.returncode == 0
    [line] = result.stderr.strip().splitlines()
    assert line.startswith("claimsops: no worker is running, so job 1 waits: start `claimsops up` or `claimsops worker`")
    assert "worker    queued — no worker running" in result.stdout
    data = json.loads(_cli(env, tmp_path, "submit", str(csv), "--json").stdout)
    assert data["waiting_for_worker"] and "no worker is running" in data["warning"]
    health = _cli(env, tmp_path, "health")
    assert health.returncode == 1 and "2 jobs are queued and no worker is running" in health.stdout


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL, signal.SIGHUP], ids=lambda s: s.name)
def test_a_job_whose_stack_died_is_stalled_until_a_stack_starts(tmp_path: Path, sig: signal.Signals) -> None:
    env = _env(tmp_path, CLAIMSOPS_PAYER_RATE_PER_SECOND="5", CLAIMSOPS_LEASE_SECONDS="3")
    csv = tmp_path / "claims.csv"
    write_input_csv(Dataset.generate(seed=21), csv, rows=2000, tins=3, seed=3)
    up = subprocess.Popen([sys.executable, "-m", "console.cli", "up", "--headless"], env=env, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        assert _cli(env, tmp_path, "submit", str(csv)).returncode == 0
        wait_for(lambda: _job(env, tmp_path)["done_rows"] > 0, 60, "the job to make progress")
        os.kill(up.pid, sig)
        up.wait(30)
        stalled = wait_for(lambda: (j := _job(env, tmp_path))["stalled"] and j, 30, "the job to show STALLED")
        assert stalled["status"] == "STALLED" and stalled["stored_status"] == "PROCESSING"
        assert stalled["no_worker_since"]
        listing = _cli(env, tmp_path, "jobs").stdout
        assert "STALLED" in listing and "stalled (nothing runs them): 1" in listing
        assert "no worker since" in _cli(env, tmp_path, "job", "1").stdout
        health = _cli(env, tmp_path, "health")
        assert health.returncode == 1 and "job 1 stalled" in health.stdout and "claimsops up" in health.stdout
    finally:
        if up.poll() is None:
            up.kill()
    again = subprocess.Popen([sys.executable, "-m", "console.cli", "up", "--headless"], env=env, cwd=tmp_path,
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        resumed = wait_for(lambda: not (j := _job(env, tmp_path))["stalled"] and j, 30, "the job to be picked up")
        assert resumed["status"] in ("PROCESSING", "COMPLETED")
    finally:
        again.send_signal(signal.SIGTERM)
        again.wait(30)
