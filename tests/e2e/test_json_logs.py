"""CLAIMSOPS_LOG_FORMAT=json: a headless stack writes one JSON object a line to stderr, for a
log shipper, while its lines still reach the logs table."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

from bench.common import wait_for
from engine.db import Database
from engine.logsink import LogFilter, last_lines


def test_a_headless_stack_logs_json_lines_to_stderr(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    env.update(CLAIMSOPS_HOME=str(tmp_path / "home"), CLAIMSOPS_LOG_FORMAT="json")
    up = subprocess.Popen([sys.executable, "-m", "console.cli", "up", "--headless"], env=env, cwd=tmp_path,
                          stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        db_file = tmp_path / "home" / "claimsops.db"
        wait_for(lambda: db_file.exists() and last_lines(Database(f"sqlite:///{db_file}"), LogFilter(), 1), 60,
                 "the stack to log a line")
    finally:
        up.send_signal(signal.SIGTERM)
        _, err = up.communicate(timeout=60)
    lines = [json.loads(line) for line in err.splitlines()]
    assert any(line["message"].startswith("claimsops up (embedded): database") for line in lines), err
    for line in lines:
        assert set(line) == {"time", "level", "service", "host", "pid", "job", "run", "logger", "message"}, line
        assert line["pid"] == up.pid and line["service"] and line["level"] in ("DEBUG", "INFO", "WARNING", "ERROR")
