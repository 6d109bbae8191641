"""The `metrics` scenario: one Prometheus scrape of `/metrics` (the collector of
engine.metrics_export, rendered as the endpoint renders it) over the console scenario's data:
100,000 jobs and 10,000,000 payer-call metric rows with their rollups (--quick: small data)."""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from bench.common import Outcome, Target
from bench.console_app import generate
from engine.config import Settings
from engine.db import Database
from engine.metrics_export import registry_for

FULL = {"jobs": 100_000, "metrics": 10_000_000}
QUICK = {"jobs": 2_000, "metrics": 20_000}
SCRAPES = 7
TARGET_S = 0.2


def run(quick: bool) -> Outcome:
    out = Outcome("metrics")
    sizes = QUICK if quick else FULL
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        path = Path(tmp) / "claimsops.db"
        started = time.perf_counter()
        generate(path, sizes["jobs"], 0, sizes["metrics"])
        generated_s = time.perf_counter() - started
        db = Database(f"sqlite:///{path}")
        try:
            registry = registry_for(db, Settings(home=Path(tmp)))
            times, text = [], ""
            for _ in range(SCRAPES):
                started = time.perf_counter()
                text = generate_latest(registry).decode()
                times.append(time.perf_counter() - started)
        finally:
            db.dispose()
    families = {f.name: f for f in text_string_to_metric_families(text)}
    jobs = sum(s.value for s in families["claimsops_jobs"].samples)
    calls = next(s.value for s in families["claimsops_payer_call_duration_seconds"].samples
                 if s.name.endswith("_count"))
    median, worst = statistics.median(times), max(times[1:])  # the first also warms SQLite's page cache
    out.figures = {"sizes": sizes, "generate_s": round(generated_s, 1), "scrape_median_s": round(median, 4),
                   "scrape_max_s": round(worst, 4), "first_scrape_s": round(times[0], 4),
                   "families": len(families), "exposition_bytes": len(text)}
    out.show("data", f"{sizes['jobs']:,} jobs, {sizes['metrics']:,} metric rows (generated in {generated_s:.0f} s)")
    out.show("scrape", f"median {median:.3f} s, slowest {worst:.3f} s, first {times[0]:.3f} s "
                       f"({len(families)} families, {len(text):,} bytes)")
    out.checks = {
        "every job is counted by status": int(jobs) == sizes["jobs"],
        "today's payer calls are in the latency histogram": calls > 0,
    }
    if not quick:
        out.targets = [Target("metrics: one scrape at full data", worst, TARGET_S, unit=" s")]
    return out
