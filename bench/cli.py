"""The `cli` scenario: what an operator waits for at the command line, each a whole `claimsops`
process (`python -m console.cli`, as the tests start it) timed from spawn to exit, the median of
several runs. `jobs --json`, `job N --json` and `cancel N` (of a PENDING job) against a SQLite
database of 60 jobs, as a ratio to `python -c "import sqlalchemy.orm"` timed in the same run,
interleaved with them; and `cancel N --wait` of a running job whose payer calls all hang (an
in-process embedded worker stack, as `claimsops up` runs it), from spawn to exit.

The processes compile the checkout's modules once into a private cache in the temporary
directory (PYTHONPYCACHEPREFIX; the first run of each command is not counted), as an installed
package has its bytecode: with PYTHONDONTWRITEBYTECODE every run would compile them again."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

from bench.cancel import embedded_stack, hanging_job
from bench.common import Outcome, Target
from bench.processes import REPO
from engine.config import Settings
from engine.db import Database
from engine.jobs import lifecycle
from engine.submit import JobParams, submit_file

BASELINE = [sys.executable, "-c", "import sqlalchemy.orm"]
JOBS = 60


def command_env(work: Path, url: str) -> dict[str, str]:
    """A `claimsops` process's environment: its home and database in `work`, bytecode cached there."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_") and k != "PYTHONDONTWRITEBYTECODE"}
    env.update(CLAIMSOPS_HOME=str(work / "home"), CLAIMSOPS_DATABASE_URL=url,
               PYTHONPYCACHEPREFIX=str(work / "pycache"))
    return env


def timed(args: list[str], env: dict[str, str]) -> tuple[float, subprocess.CompletedProcess]:
    started = time.perf_counter()
    proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=120)
    return time.perf_counter() - started, proc


def cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "console.cli", *args]


def run(quick: bool) -> Outcome:
    runs = 1 if quick else 9
    out = Outcome("cli")
    today = date.today()
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        url = f"sqlite:///{work / 'claimsops.db'}"
        env = command_env(work, url)
        db = Database(url)
        settings = Settings(home=work / "home", database_url=url, payer_url="http://payer.invalid")
        small = work / "small.csv"
        small.write_text("claim_number,tin\n" + "".join(f"C{i:06d},123456789\n" for i in range(10)))
        ids = [submit_file(db, settings, small, JobParams(today=today, tin="123456789"), "bench")
               for _ in range(JOBS)]
        light = _light_commands(env, ids, runs, out)
        waits = _cancel_wait(db, work, env, today, 1 if quick else 5, out)
        db.dispose()
    _report(out, light, waits, runs)
    return out


def _light_commands(env: dict[str, str], ids: list[int], runs: int, out: Outcome) -> dict[str, list[float]]:
    """Seconds per run of each command and of the baseline, interleaved (the machine's noise
    falls on all of them alike)."""
    pending = list(ids)
    commands = {
        "baseline": lambda: BASELINE,
        "jobs --json": lambda: cli("jobs", "--json"),
        "job N --json": lambda: cli("job", str(ids[0]), "--json"),
        "cancel N": lambda: cli("cancel", str(pending.pop())),
    }
    times: dict[str, list[float]] = {name: [] for name in commands}
    for args in commands.values():  # warm-up: bytecode into the cache, not counted
        timed(args(), env)
    for _ in range(runs):
        for name, args in commands.items():
            seconds, proc = timed(args(), env)
            times[name].append(seconds)
            out.checks.setdefault(f"{name}: exit 0", True)
            out.checks[f"{name}: exit 0"] &= proc.returncode == 0
    listed = json.loads(timed(cli("jobs", "--json", "-n", "100"), env)[1].stdout)
    out.checks["jobs --json lists every job"] = len(listed) == len(ids)
    out.checks["each cancel N left its job CANCELLED"] = (
        sum(1 for j in listed if j["status"] == lifecycle.CANCELLED) == len(ids) - len(pending))
    return times


def _cancel_wait(db: Database, work: Path, env: dict[str, str], today: date, count: int,
                 out: Outcome) -> list[float]:
    """`cancel N --wait --json` of a running job while every payer call hangs: spawn to exit."""
    walls: list[float] = []
    statuses: list[str] = []
    with embedded_stack(db, work, env["CLAIMSOPS_DATABASE_URL"], today) as (settings, sim, csv_path):
        for _ in range(count):
            job_id, _kept = hanging_job(db, settings, sim, csv_path, today)
            seconds, proc = timed(cli("cancel", str(job_id), "--wait", "--json"), env)
            walls.append(seconds)
            shown = json.loads(proc.stdout) if proc.returncode == 0 and proc.stdout.strip() else {}
            statuses += [str(shown.get("status")), lifecycle.status_of(db, job_id)]
    out.checks["cancel --wait: exit 0, CANCELLED in its JSON and in the database"] = (
        bool(walls) and all(s == lifecycle.CANCELLED for s in statuses))
    return walls


def _report(out: Outcome, light: dict[str, list[float]], waits: list[float], runs: int) -> None:
    median = {name: statistics.median(values) for name, values in light.items()}
    base = median.pop("baseline")
    ratios = {name: seconds / base for name, seconds in median.items()}
    out.figures = {
        "runs": runs, "baseline": "python -c 'import sqlalchemy.orm'", "baseline_s": round(base, 3),
        "commands_s": {name: round(s, 3) for name, s in median.items()},
        "ratios": {name: round(r, 2) for name, r in ratios.items()},
        "cancel_wait_s": [round(s, 3) for s in waits],
    }
    out.show("baseline: import sqlalchemy.orm", f"{base:.3f} s (median of {runs})")
    for name, seconds in median.items():
        out.show(f"claimsops {name}", f"{seconds:.3f} s = {ratios[name]:.2f} × the baseline")
    if waits:
        out.show("claimsops cancel N --wait (calls hang)",
                 f"median {statistics.median(waits):.3f} s, max {max(waits):.3f} s ({len(waits)} cancels)")
    worst: Any = max(ratios.values()) if ratios else None
    out.targets = [
        Target("cli: jobs --json / job N / cancel N ÷ import sqlalchemy.orm (slowest)",
               round(worst, 2) if worst is not None else None, 1.3),
        Target("cli: cancel N --wait while payer calls hang (median)",
               round(statistics.median(waits), 3) if waits else None, 1.0, unit=" s"),
    ]
