"""One look-up job through the real runner and planner against the simulator, measured: wall
time, payer calls (and hedged copies), correctness against the simulator's truth, and where the
time went (start-up, sending, the wait for the last answers)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from bench.common import correct_rows
from engine.config import Settings
from engine.db import Database
from engine.jobs.queries import get_job, rows_page
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits
from engine.payersim.server import PayerSimulator
from engine.runner import run_job
from engine.submit import JobParams, submit_file

QUARTER = 0.25


@dataclass(frozen=True)
class Limits:
    rate_per_second: float
    concurrency: int


@dataclass
class JobRun:
    seconds: float
    calls: int  # every data call the payer received
    hedges: int  # of which second copies of slow calls
    summary_calls: int
    inquiry_calls: int
    correct: int
    rows: int
    status: str
    critical_path: int
    max_rate_1s: int
    peak_in_flight: int
    first_call_s: float  # job start -> first payer call
    last_call_s: float  # job start -> last payer call sent
    matched_by: dict[str, int] = field(default_factory=dict)
    sent_per_quarter_s: list[int] = field(default_factory=list)  # calls sent in each 0.25 s of the job

    @property
    def necessary_calls(self) -> int:
        return self.calls - self.hedges

    def bound(self, median_latency: float, rate: float) -> float:
        """The lower bound: the critical path of sequential calls at the median latency, or the
        calls (hedged copies left out) at the rate limit, whichever is larger."""
        return max(self.critical_path * median_latency, self.necessary_calls / rate)

    def to_json(self, median_latency: float, rate: float) -> dict[str, Any]:
        bound = self.bound(median_latency, rate)
        return {
            "seconds": round(self.seconds, 3), "payer_calls": self.calls, "hedged_copies": self.hedges,
            "summary_calls": self.summary_calls, "inquiry_calls": self.inquiry_calls,
            "calls_per_row": round(self.calls / self.rows, 4) if self.rows else None,
            "rows_per_s": round(self.rows / self.seconds, 1), "correct_rows": self.correct, "rows": self.rows,
            "correct_share": round(self.correct / self.rows, 4) if self.rows else 0.0, "status": self.status,
            "critical_path_calls": self.critical_path, "lower_bound_s": round(bound, 3),
            "ratio_to_lower_bound": round(self.seconds / bound, 3) if bound else None,
            "payer_max_calls_in_1s": self.max_rate_1s, "payer_peak_in_flight": self.peak_in_flight,
            "first_call_after_s": round(self.first_call_s, 3), "last_call_sent_at_s": round(self.last_call_s, 3),
            "matched_by": self.matched_by, "calls_sent_per_250ms": self.sent_per_quarter_s,
        }


def run_lookup_job(db: Database, csv_path: Path, sim: PayerSimulator, limits: Limits, expected: list,
                   today: date, strategy: str = "auto") -> JobRun:
    """Submit the file, then run the job here as a fresh worker process would (the payer's
    window limit learned anew, a new client)."""
    settings = Settings(home=csv_path.parent, payer_url=sim.url)
    job_id = submit_file(db, settings, csv_path, JobParams(strategy=strategy, today=today), "bench")
    sim.reset_stats()
    return asyncio.run(_run(db, job_id, sim, limits, expected, today))


async def _run(db: Database, job_id: int, sim: PayerSimulator, limits: Limits, expected: list,
               today: date) -> JobRun:
    payer = PayerSettings(sim.url, sim.url, sim.config.client_id, sim.config.client_secret, timeout_s=120)
    async with PayerClient(payer, limits=LocalLimits(limits.rate_per_second, limits.concurrency)) as client:
        started = time.monotonic()
        outcome = await run_job(db, job_id, client, owner="bench-lookup", lease_seconds=600, max_attempts=3,
                                today=today)
        seconds = time.monotonic() - started
        hedges = client.hedging.hedges
    assert outcome is not None, "the job could not be claimed"
    snap = sim.snapshot()
    starts = sorted(snap.data_starts)
    correct, rows = await asyncio.to_thread(correct_rows, db, job_id, expected)
    job = get_job(db, job_id)
    return JobRun(
        seconds=seconds, calls=snap.data_requests, hedges=hedges, summary_calls=snap.requests.get("summary", 0),
        inquiry_calls=snap.requests.get("inquiry", 0), correct=correct, rows=rows, status=job.status,
        critical_path=outcome.critical_path, max_rate_1s=snap.max_rate_1s, peak_in_flight=snap.peak_in_flight,
        first_call_s=(starts[0] - started) if starts else 0.0, last_call_s=(starts[-1] - started) if starts else 0.0,
        matched_by=_matched(db, job_id, rows), sent_per_quarter_s=_histogram(starts, started, seconds),
    )


def _histogram(starts: list[float], started: float, seconds: float) -> list[int]:
    counts = [0] * (int(seconds / QUARTER) + 1)
    for t in starts:
        counts[min(len(counts) - 1, max(0, int((t - started) / QUARTER)))] += 1
    return counts


def _matched(db: Database, job_id: int, rows: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    for r in rows_page(db, job_id, limit=rows + 10):
        key = r.matched_by or ("not_found" if r.status == "Not Found" else (r.status or "pending"))
        counts[key] = counts.get(key, 0) + 1
    return dict(sorted(counts.items()))
