"""The `console` scenario: the console engineer's benchmark (`python -m bench.console_app`) run as
a subprocess, so Textual is never imported here. It generates the jobs, log rows and metric
rows in a SQLite database in our temporary directory, runs the console headless and prints one
JSON object: time to first paint, to switch tabs, to apply log filters, and peak RSS."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from bench.common import Outcome, Target
from bench.processes import REPO

MODULE = "bench.console_app"
FULL = {"jobs": 100_000, "logs": 1_000_000, "metrics": 10_000_000}
QUICK = {"jobs": 2_000, "logs": 20_000, "metrics": 20_000}
TIMEOUT_S = 900


def run(quick: bool) -> Outcome:
    out = Outcome("console")
    sizes = QUICK if quick else FULL
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLAIMSOPS_")}
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        env["CLAIMSOPS_HOME"] = str(Path(tmp) / "home")
        args = [sys.executable, "-m", MODULE, *(f"--{k}={v}" for k, v in sizes.items()), "--keep", str(Path(tmp) / "data")]
        proc = subprocess.run(args, cwd=REPO, env=env, capture_output=True, text=True, timeout=TIMEOUT_S)
    figures = _parse(proc.stdout)
    if proc.returncode != 0 or figures is None:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-1:] or ["no output"]
        out.error = f"{MODULE} exited {proc.returncode}: {tail[0][:200]}"
        return out
    return _outcome(out, sizes, figures, quick)


def _parse(stdout: str) -> dict[str, Any] | None:
    for line in reversed(stdout.strip().splitlines()):
        try:
            value = json.loads(line)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _outcome(out: Outcome, sizes: dict[str, int], figures: dict[str, Any], quick: bool) -> Outcome:
    switches = {k: v for k, v in figures.items() if k.startswith("switch_to_") and k.endswith("_s")}
    filters = {k: v for k, v in figures.items() if k.startswith("log_filter_") and k.endswith("_s")}
    out.figures = {"sizes": sizes, "module": MODULE, **figures}
    out.show("data", f"{sizes['jobs']:,} jobs, {sizes['logs']:,} log rows, {sizes['metrics']:,} metric rows "
                     f"({figures.get('db_mb', '?')} MB SQLite)")
    out.show("first paint", f"{figures.get('first_paint_s', float('nan')):.3f} s")
    out.show("tab switches", ", ".join(f"{k[10:-2]} {v:.3f} s" for k, v in switches.items()))
    out.show("log filters", ", ".join(f"{k[11:-2]} {v:.3f} s" for k, v in filters.items()))
    if "next_jobs_page_s" in figures:
        out.show("next page of jobs", f"{figures['next_jobs_page_s']:.3f} s")
    out.show("peak RSS of the console process", f"{figures.get('peak_rss_mb', float('nan')):.0f} MB")
    out.checks = {
        "every job is in the database the console read": figures.get("jobs_in_database") == sizes["jobs"],
        "first paint, tab switches, log filters and RSS all measured": bool(
            switches and filters and "first_paint_s" in figures and "peak_rss_mb" in figures),
    }
    if not quick:
        out.targets = [
            Target("console: first paint at full data", figures.get("first_paint_s"), 1.5, unit=" s"),
            Target("console: tab switch at full data", max(switches.values(), default=None), 0.2, unit=" s"),
            Target("console: log filter at full data", max(filters.values(), default=None), 0.5, unit=" s"),
            Target("console: peak RSS at full data", figures.get("peak_rss_mb"), 200, unit=" MB"),
        ]
    return out
