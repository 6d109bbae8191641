"""The `lookup` scenario: a 2,000-row file through the planner (auto and individual) and through
the original approach, against real-payer-shaped latency scaled down by a stated factor."""

from __future__ import annotations

import asyncio
import csv
import random
import tempfile
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from engine import jobs
from engine.config import Settings
from engine.db import Database
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payer.planner import window_limit_for
from engine.payersim.config import SimConfig, latency_cdf
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator
from engine.runner import run_job
from engine.submit import JobParams, submit_file
from workers.bench.original import OriginalRow, run_original

SEED = 2026


@dataclass(frozen=True)
class LookupConfig:
    rows: int = 2000
    tins: int = 3
    share_with_dates: float = 0.4
    share_unknown: float = 0.1
    latency_scale: float = 0.1
    rate_per_second: float = 50.0
    concurrency: int = 50
    original_sample: int = 40
    strategies: tuple[str, ...] = ("auto", "individual")


@dataclass
class StrategyRun:
    strategy: str
    seconds: float
    calls: int
    correct: int
    rows: int
    critical_path: int
    extra: dict[str, Any] = field(default_factory=dict)


def _median_latency(scale: float) -> float:
    low, high = 0.01, 100.0
    for _ in range(60):  # bisect the closed-form CDF for its median
        mid = (low + high) / 2
        low, high = (mid, high) if latency_cdf(mid) < 0.5 else (low, mid)
    return (low + high) / 2 * scale


async def _run_strategy(db: Database, csv_path: Path, sim: PayerSimulator, cfg: LookupConfig, strategy: str,
                        expected: list, today: date) -> StrategyRun:
    settings = Settings(home=csv_path.parent, payer_url=sim.url)
    job_id = submit_file(db, settings, csv_path, JobParams(strategy=strategy, today=today), "bench")
    payer = PayerSettings(sim.url, sim.url, sim.config.client_id, sim.config.client_secret, timeout_s=120)
    window_limit_for(sim.url).__init__()  # learn the window limit afresh, as a new process would
    sim.reset_stats()
    started = time.monotonic()
    async with PayerClient(payer, limits=LocalLimits(cfg.rate_per_second, cfg.concurrency)) as client:
        outcome = await run_job(db, job_id, client, owner=f"bench-{strategy}", lease_seconds=600,
                                max_attempts=3, today=today)
    seconds = time.monotonic() - started
    assert outcome is not None
    snap = sim.snapshot()
    calls = sum(snap.requests.get(k, 0) for k in ("summary", "inquiry"))
    rows = jobs.list_rows(db, job_id, limit=cfg.rows + 10)
    correct = sum(1 for r in rows if (res := jobs.row_result(r)) and res.comparable() == expected[r.row_number - 1].comparable())
    job = jobs.get_job(db, job_id)
    return StrategyRun(strategy, seconds, calls, correct, len(rows), outcome.critical_path,
                       extra={"status": job.status, "matched_by": _matched(rows)})


def _matched(rows: list) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows:
        key = r.matched_by or ("not_found" if r.status == "Not Found" else (r.status or "pending"))
        counts[key] = counts.get(key, 0) + 1
    return counts


def _sample_rows(csv_path: Path, count: int) -> list[OriginalRow]:
    from engine.dates import parse_date

    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    rng = random.Random(SEED)
    picked = rng.sample(rows, min(count, len(rows)))
    return [OriginalRow(r["claim_number"], r["tin"], r["first_name"], r["last_name"],
                        parse_date(r["date_of_birth"]) if r["date_of_birth"] else None) for r in picked]


def run_lookup(cfg: LookupConfig = LookupConfig()) -> dict[str, Any]:
    today = date.today()
    dataset = Dataset.generate(seed=SEED, today=today)
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        tmp_path = Path(tmp)
        csv_path = tmp_path / "lookup.csv"
        expected = write_input_csv(dataset, csv_path, rows=cfg.rows, tins=cfg.tins,
                                   share_with_dates=cfg.share_with_dates, share_unknown=cfg.share_unknown, seed=SEED)
        db = Database(f"sqlite:///{tmp_path / 'bench.db'}")
        sim_cfg = SimConfig(seed=SEED, today=today, latency_scale=cfg.latency_scale)
        with PayerSimulator(sim_cfg, dataset=dataset) as sim:
            runs = {s: asyncio.run(_run_strategy(db, csv_path, sim, cfg, s, expected, today)) for s in cfg.strategies}
            sample = _sample_rows(csv_path, cfg.original_sample)
            sim.reset_stats()
            original = run_original(sim.url, sim.config.client_id, sim.config.client_secret, sample,
                                    job_end=today, window_days=sim.config.window_limit_days)
        db.dispose()
    return _report(cfg, runs, original, expected)


def _report(cfg: LookupConfig, runs: dict[str, StrategyRun], original, expected: list) -> dict[str, Any]:
    median = _median_latency(cfg.latency_scale)
    out: dict[str, Any] = {
        "rows": cfg.rows, "latency_scale": cfg.latency_scale, "median_latency_s": round(median, 4),
        "rate_limit_per_s": cfg.rate_per_second, "concurrency": cfg.concurrency,
    }
    per_row_original = original.seconds / max(1, original.rows)
    original_total = per_row_original * cfg.rows
    out["original"] = {
        "sample_rows": original.rows, "sample_seconds": round(original.seconds, 2),
        "calls_per_row": round(original.calls / max(1, original.rows), 2),
        "found_share": round(original.found / max(1, original.rows), 3),
        "extrapolated_seconds": round(original_total, 1),
        "extrapolated_calls": round(original.calls / max(1, original.rows) * cfg.rows),
    }
    for name, run in runs.items():
        bound = max(run.critical_path * median, run.calls / cfg.rate_per_second)
        out[name] = {
            "seconds": round(run.seconds, 2), "payer_calls": run.calls, "calls_per_row": round(run.calls / cfg.rows, 3),
            "rows_per_s": round(cfg.rows / run.seconds, 1), "correct": run.correct, "correct_share": round(run.correct / cfg.rows, 4),
            "critical_path_calls": run.critical_path, "lower_bound_s": round(bound, 2),
            "ratio_to_lower_bound": round(run.seconds / bound, 2) if bound else None,
            "speedup_vs_original": round(original_total / run.seconds, 1), **run.extra,
        }
    out["expected_found"] = sum(1 for e in expected if e.success)
    return out
