"""The `lookup` scenario: a 2,000-row file (3 TINs, 24 months, 10% unknown, 40% with row dates)
through the runner and planner against real-payer-shaped latency scaled down by a stated factor,
a concurrency cap and a rate limit; a file whose rows all carry dates (payer calls per dated
row); and the original system's approach on a sample of rows, measured in the same run and
extrapolated."""

from __future__ import annotations

import csv
import gc
import random
import statistics
import tempfile
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import SEED, Outcome, Target, fmt_s
from bench.lookup_run import JobRun, Limits, run_lookup_job
from bench.original import OriginalResult, OriginalRow, run_original
from engine.dates import parse_date
from engine.db import Database
from engine.payersim.config import SimConfig, latency_cdf
from engine.payersim.csvgen import write_input_csv
from engine.payersim.dataset import Dataset
from engine.payersim.server import PayerSimulator

REAL_SCALE = 1.0


@dataclass(frozen=True)
class LookupConfig:
    rows: int = 2000
    tins: int = 3
    share_with_dates: float = 0.4
    share_unknown: float = 0.1
    latency_scale: float = 0.1
    rate_per_second: float = 100.0
    concurrency: int = 50
    runs: int = 5  # the median run is reported
    dated_rows: int = 2000
    original_sample: int = 100
    other_rate: float | None = 50.0  # one more run at this rate, to show what the rate limit does
    # One run of the same file at the payer's real latency (scale 1.0) and this rate: the same
    # payer as above with every duration ten times longer (about a minute), so the heavy tail's
    # seconds are real seconds. None: not run (--quick).
    real_rate: float | None = 10.0

    @classmethod
    def quick(cls) -> LookupConfig:
        return cls(rows=300, runs=1, dated_rows=300, original_sample=5, other_rate=None, real_rate=None)


def median_latency(scale: float) -> float:
    """The median of the simulator's latency distribution at `scale` (bisecting its CDF)."""
    low, high = 0.001, 1000.0
    for _ in range(80):
        mid = (low + high) / 2
        low, high = (mid, high) if latency_cdf(mid) < 0.5 else (low, mid)
    return (low + high) / 2 * scale


def run_lookup(cfg: LookupConfig, *, quick: bool = False) -> Outcome:
    today = date.today()
    dataset = Dataset.generate(seed=SEED, today=today)
    limits = Limits(cfg.rate_per_second, cfg.concurrency)
    with tempfile.TemporaryDirectory(prefix="claimsops-bench-") as tmp:
        work = Path(tmp)
        mixed, dated = work / "lookup.csv", work / "dated.csv"
        expected = write_input_csv(dataset, mixed, rows=cfg.rows, tins=cfg.tins, share_with_dates=cfg.share_with_dates,
                                   share_unknown=cfg.share_unknown, seed=SEED)
        expected_dated = write_input_csv(dataset, dated, rows=cfg.dated_rows, tins=cfg.tins, share_with_dates=1.0,
                                         share_outside_window=0.0, share_unknown=0.0, seed=SEED + 1)
        db = Database(f"sqlite:///{work / 'bench.db'}")
        # The simulator's data set lives in this process only because the simulator does: keep
        # it out of the garbage collector's full passes, which would otherwise stall the jobs
        # (and the simulator) for up to 0.1 s each time.
        gc.collect()
        gc.freeze()
        try:
            sim_cfg = SimConfig(seed=SEED, today=today, latency_scale=cfg.latency_scale)
            with PayerSimulator(sim_cfg, dataset=dataset) as sim:
                runs = [run_lookup_job(db, mixed, sim, limits, expected, today) for _ in range(cfg.runs)]
                dated_run = run_lookup_job(db, dated, sim, limits, expected_dated, today)
                other = None
                if cfg.other_rate:
                    other = run_lookup_job(db, mixed, sim, Limits(cfg.other_rate, cfg.concurrency), expected, today)
                real = None
                if cfg.real_rate:
                    sim.configure(latency_scale=REAL_SCALE)
                    real = run_lookup_job(db, mixed, sim, Limits(cfg.real_rate, cfg.concurrency), expected, today)
                    sim.configure(latency_scale=cfg.latency_scale)
                sample = _sample_rows(mixed, cfg.original_sample)
                sim.reset_stats()
                original = run_original(sim.url, sim.config.client_id, sim.config.client_secret, sample,
                                        job_end=today, window_days=sim.config.window_limit_days)
        finally:
            gc.unfreeze()
            db.dispose()
    out = _outcome(cfg, runs, dated_run, original, sum(e.success for e in expected), quick)
    if other is not None:
        _other_rate(out, cfg, other)
    if real is not None:
        _real_latency(out, cfg, real)
    return out


def _real_latency(out: Outcome, cfg: LookupConfig, run: JobRun) -> None:
    """The same file at the payer's real latency: judged against its own target (1.5)."""
    rate = cfg.real_rate or cfg.rate_per_second
    median = median_latency(REAL_SCALE)
    bound = run.bound(median, rate)
    ratio = run.seconds / bound
    timeline = run.sent_per_quarter_s
    idle_tail = len(timeline) - 1 - max((i for i, n in enumerate(timeline) if n), default=0)
    out.figures["real_latency"] = {"latency_scale": REAL_SCALE, "median_latency_s": round(median, 3),
                                   "rate_limit_per_s": rate, "concurrency": cfg.concurrency,
                                   **run.to_json(median, rate)}
    out.checks["real latency: job COMPLETED"] = run.status == "COMPLETED"
    out.checks["real latency: every row correct"] = run.correct == run.rows
    out.show("real latency (x1)", f"median {median:.2f} s, {rate:g}/s, {cfg.concurrency} in flight")
    out.show("real latency: wall / lower bound", f"{run.seconds:.1f} s / {bound:.1f} s = {ratio:.2f} "
                                                 f"({run.calls} calls, {run.hedges} hedged)")
    out.show("real latency: where the time went", f"1st call {run.first_call_s:.2f} s, last sent "
                                                  f"{run.last_call_s:.1f} s, then {idle_tail / 4:.2f} s "
                                                  f"waiting for the last answers")
    if out.targets:
        out.targets.append(Target("lookup at real latency: ratio to the lower bound", round(ratio, 3), 1.5))


def _other_rate(out: Outcome, cfg: LookupConfig, other: JobRun) -> None:
    """The same file at another rate limit (not judged against the targets)."""
    rate = cfg.other_rate or cfg.rate_per_second
    median = median_latency(cfg.latency_scale)
    original_total = out.figures["original"]["extrapolated_seconds"]
    figures = other.to_json(median, rate)
    figures["speedup_vs_original"] = round(original_total / other.seconds, 1)
    out.figures[f"auto_at_{rate:g}_per_s"] = figures
    out.checks[f"run at {rate:g}/s: every row correct"] = other.correct == other.rows and other.status == "COMPLETED"
    out.show(f"same file at {rate:g}/s (not judged)", f"{other.seconds:.2f} s, {other.calls} calls, ratio "
                                                     f"{figures['ratio_to_lower_bound']:.2f}, speed-up "
                                                     f"{figures['speedup_vs_original']:.0f}x")


def _sample_rows(csv_path: Path, count: int) -> list[OriginalRow]:
    with open(csv_path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    picked = random.Random(SEED).sample(rows, min(count, len(rows)))
    return [OriginalRow(r["claim_number"], r["tin"], r["first_name"], r["last_name"],
                        parse_date(r["date_of_birth"]) if r["date_of_birth"] else None) for r in picked]


def _outcome(cfg: LookupConfig, runs: list[JobRun], dated: JobRun, original: OriginalResult, found: int,
             quick: bool) -> Outcome:
    median = median_latency(cfg.latency_scale)
    rate = cfg.rate_per_second
    run = sorted(runs, key=lambda r: r.seconds)[len(runs) // 2]
    bound = run.bound(median, rate)
    ratio = run.seconds / bound
    per_row = original.seconds / max(1, original.rows)
    original_total = per_row * cfg.rows
    speedup = original_total / run.seconds
    dated_per_row = dated.calls / dated.rows
    out = Outcome("lookup")
    out.figures = {
        "rows": cfg.rows, "tins": cfg.tins, "share_with_dates": cfg.share_with_dates, "share_unknown": cfg.share_unknown,
        "latency_scale": cfg.latency_scale, "median_latency_s": round(median, 4), "rate_limit_per_s": rate,
        "concurrency": cfg.concurrency, "runs": cfg.runs, "truth_found_rows": found,
        "auto": run.to_json(median, rate),
        "auto_runs": [{"seconds": round(r.seconds, 3), "ratio_to_lower_bound": round(r.seconds / r.bound(median, rate), 3),
                       "payer_calls": r.calls, "hedged_copies": r.hedges, "correct_rows": r.correct} for r in runs],
        "dated_file": {**dated.to_json(median, rate), "calls_per_dated_row": round(dated_per_row, 4)},
        "original": _original_json(original, per_row, original_total, cfg.rows),
        "speedup_vs_original": round(speedup, 1),
    }
    for i, r in enumerate([*runs, dated]):
        name = "dated file" if r is dated else f"run {i + 1}"
        out.checks[f"{name}: job COMPLETED"] = r.status == "COMPLETED"
        out.checks[f"{name}: every row correct"] = r.correct == r.rows
    _lines(out, cfg, run, runs, dated, original, median, bound, ratio, original_total, speedup)
    if not quick:
        out.targets = [
            Target("lookup: ratio to the lower bound", round(ratio, 3), 1.3),
            Target("lookup: speed-up over the original approach", round(speedup, 1), 100, at_most=False, unit="x"),
            Target("lookup: payer calls per row (rows with dates)", round(dated_per_row, 4), 0.1),
            Target("lookup: correct rows", round(100 * min(r.correct / r.rows for r in [*runs, dated]), 2), 100,
                   at_most=False, unit="%"),
        ]
    return out


def _original_json(original: OriginalResult, per_row: float, total: float, rows: int) -> dict[str, Any]:
    return {
        "sample_rows": original.rows, "sample_seconds": round(original.seconds, 2), "seconds_per_row": round(per_row, 3),
        "calls_per_row": round(original.calls / max(1, original.rows), 2),
        "found_share": round(original.found / max(1, original.rows), 3),
        "extrapolated_seconds": round(total, 1), "extrapolated_calls": round(original.calls / max(1, original.rows) * rows),
    }


def _lines(out: Outcome, cfg: LookupConfig, run: JobRun, runs: list[JobRun], dated: JobRun, original: OriginalResult,
           median: float, bound: float, ratio: float, original_total: float, speedup: float) -> None:
    show = out.show
    show("payer", f"latency x{cfg.latency_scale:g} (median {median:.3f} s), {cfg.rate_per_second:g}/s, "
                  f"{cfg.concurrency} in flight")
    times = ", ".join(f"{r.seconds:.2f}" for r in runs)
    show(f"file: {cfg.rows} rows, {cfg.tins} TINs", f"median of {len(runs)} runs ({times} s)" if len(runs) > 1 else "1 run")
    show("wall time", fmt_s(run.seconds))
    show("payer calls (hedged copies)", f"{run.calls} ({run.hedges}): {run.summary_calls} pages, {run.inquiry_calls} inquiries")
    show("payer calls per row", f"{run.calls / run.rows:.3f}")
    show("rows per second", f"{run.rows / run.seconds:.0f}")
    show("correct rows (simulator's truth)", f"{run.correct}/{run.rows}")
    show("lower bound", f"{bound:.2f} s = max({run.critical_path} calls x {median:.3f} s, "
                        f"{run.necessary_calls} calls / {cfg.rate_per_second:g}/s)")
    show("ratio to the lower bound", f"{ratio:.2f}")
    show("where the time went", f"1st call at {run.first_call_s:.2f} s, last sent {run.last_call_s:.2f} s, "
                                f"end {run.seconds:.2f} s")
    show(f"file with dates only: {dated.rows} rows", f"{dated.calls} calls ({dated.hedges} hedged), "
                                                      f"{dated.calls / dated.rows:.3f}/row, {dated.correct}/{dated.rows} correct")
    show(f"original approach: {original.rows}-row sample", f"{original.seconds:.1f} s, {original.calls} calls, "
                                                            f"found {original.found}/{original.rows}")
    show(f"original approach: {cfg.rows} rows (extrapolated)", f"{original_total:.0f} s")
    show("speed-up over the original approach", f"{speedup:.0f}x")
    if len(runs) > 1:
        out.notes.append(f"ratios of the {len(runs)} runs: "
                         + ", ".join(f"{r.seconds / r.bound(median, cfg.rate_per_second):.2f}" for r in runs)
                         + f"; median wall {statistics.median(r.seconds for r in runs):.2f} s")


def run(quick: bool) -> Outcome:
    started = time.monotonic()
    out = run_lookup(LookupConfig.quick() if quick else LookupConfig(), quick=quick)
    out.seconds = time.monotonic() - started
    return out
