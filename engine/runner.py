"""Running one job: claim it, look its rows up through the planner, write results in batches,
renew the lease, watch for CANCELLING every 250 ms, and finish it. Used by the Dramatiq actor
and by `submit --wait` alike."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date

from engine.db import Database
from engine.errors import OperatorError, describe
from engine.followup.recheck import FOLLOWUP
from engine.jobs import lifecycle
from engine.jobs.queries import get_job, unresolved_rows
from engine.jobs.rows import record_results
from engine.logsink import job_context
from engine.metrics import JOB_DURATION, JOB_ROWS_PER_SECOND, ROWS_DONE, MetricsBuffer
from engine.payer.client import CallScope, PayerClient
from engine.payer.errors import root_cause
from engine.payer.planner import JobWindow, LookupPlanner, LookupRow
from engine.results import ClaimResult

log = logging.getLogger("claimsops.runner")

WATCH_INTERVAL = 0.25
FLUSH_INTERVAL = 0.5
FLUSH_ROWS = 500


@dataclass(frozen=True)
class RunOutcome:
    job_id: int
    status: str  # COMPLETED, FAILED, CANCELLED, or RELEASED/LOST when the job left this worker
    rows_written: int
    payer_calls: int
    seconds: float
    critical_path: int = 0  # the longest chain of sequential payer calls the plan made


class _ResultWriter:
    """Buffers results and writes them as idempotent upserts, under this worker's lease."""

    def __init__(self, db: Database, job_id: int, owner: str, scope: CallScope, metrics: MetricsBuffer | None) -> None:
        self.db, self.job_id, self.owner = db, job_id, owner
        self.scope = scope
        self.metrics = metrics
        self._buffer: list[tuple[int, ClaimResult]] = []
        self._calls_written = 0
        self._lock = asyncio.Lock()
        self.written = 0

    async def add(self, results: list[tuple[int, ClaimResult]]) -> None:
        self._buffer.extend(results)
        if len(self._buffer) >= FLUSH_ROWS:
            await self.flush()

    async def flush(self) -> None:
        async with self._lock:
            batch, self._buffer = self._buffer, []
            calls = self.scope.calls - self._calls_written
            if not batch and not calls:
                return
            try:
                written = await asyncio.to_thread(
                    record_results, self.db, self.job_id, batch, owner=self.owner, payer_calls=calls
                )
            except BaseException:
                self._buffer[:0] = batch
                raise
            self._calls_written += calls
            self.written += written
            if self.metrics is not None and written:
                self.metrics.record(ROWS_DONE, written)


def _lookup_rows(db: Database, job_id: int, job_tin: str, job_payer: str) -> list[LookupRow]:
    return [
        LookupRow(
            row_number=r.row_number, claim_number=r.claim_number, tin=r.tin or job_tin,
            payer_id=r.payer_id or job_payer, first_service_date=r.first_service_date,
            last_service_date=r.last_service_date,
        )
        for r in unresolved_rows(db, job_id)
    ]


async def run_job(
    db: Database,
    job_id: int,
    client: PayerClient,
    *,
    owner: str,
    lease_seconds: int,
    max_attempts: int,
    metrics: MetricsBuffer | None = None,
    stopping: Callable[[], bool] = lambda: False,
    today: date | None = None,
) -> RunOutcome | None:
    """Process the job if this owner can claim it; None when it cannot (a duplicate delivery,
    another worker holds it, or it is no longer runnable)."""
    claimed = await asyncio.to_thread(lifecycle.claim, db, job_id, owner, lease_seconds, max_attempts)
    if claimed is None:
        return None
    with job_context(job_id):
        return await _run_claimed(db, job_id, client, owner, lease_seconds, metrics, stopping, today, claimed)


async def _run_claimed(db, job_id, client, owner, lease_seconds, metrics, stopping, today, claimed) -> RunOutcome:  # noqa: ANN001, PLR0913
    started = time.monotonic()
    job = await asyncio.to_thread(get_job, db, job_id)
    rows = await asyncio.to_thread(_lookup_rows, db, job_id, job.tin, job.payer_id)
    log.info(
        "job %d %s: %d rows to look up (attempt %d, strategy %s)", job_id,
        "resumed" if claimed.resumed else "started", len(rows), claimed.attempt, job.strategy,
    )
    scope = CallScope(waits_for_payer=True)  # this job's payer calls
    writer = _ResultWriter(db, job_id, owner, scope, metrics)
    window = JobWindow(job.start_date, job.end_date, today or date.today(), job.strategy,
                       own_dates_only=job.kind == FOLLOWUP)
    planner = LookupPlanner(client, window, writer.add, scope)
    plan = asyncio.create_task(planner.run(rows))
    end = await _watch(db, job_id, owner, lease_seconds, plan, writer, stopping)
    seconds = time.monotonic() - started

    def outcome(status: str) -> RunOutcome:
        return RunOutcome(job_id, status, writer.written, scope.calls, seconds, planner.stats.critical_path)

    if end == "cancel":
        await writer.flush()
        latency = await asyncio.to_thread(lifecycle.finish_cancel, db, job_id)
        log.warning("job %d cancelled in %s ms; %d results kept", job_id, latency, writer.written)
        return outcome(lifecycle.CANCELLED)
    if end == "lost":
        log.warning("job %d: this worker lost its lease; another worker has the job", job_id)
        return outcome("LOST")
    if end == "stop":
        await writer.flush()
        await asyncio.to_thread(lifecycle.release_lease, db, job_id, owner)
        log.info("job %d released for another worker (shutting down)", job_id)
        return outcome("RELEASED")
    failure = None
    try:
        plan.result()
    except Exception as exc:  # keep the results written; stop with a reason an operator can act on
        cause = root_cause(exc)
        failure = describe(cause)
        if not isinstance(cause, OperatorError):  # a bug: its traceback is what a developer needs
            log.error("job %d stopped by an unexpected error", job_id, exc_info=cause)
            failure += " (see this job's logs)"
    else:
        if scope.outage:
            # retry is an operator's move on a FAILED job: the outage fails it, naming the command
            failure = describe(OperatorError(
                f"{scope.outage}; the rows it could not answer are marked Error",
                f"retry them with `claimsops retry {job_id} --errors` once the payer is back",
            ))
    await writer.flush()
    status = await asyncio.to_thread(lifecycle.finish, db, job_id, owner, failure=failure)
    seconds = time.monotonic() - started
    if metrics is not None:
        metrics.record(JOB_DURATION, seconds, status)
        if seconds > 0 and writer.written:
            metrics.record(JOB_ROWS_PER_SECOND, writer.written / seconds)
    stats = planner.stats
    log.info(
        "job %d %s in %.1f s: %d rows, %d payer calls (%d pages, %d inquiries)%s", job_id, status, seconds,
        writer.written, scope.calls, stats.pages, stats.inquiries, f": {failure}" if failure else "",
    )
    return outcome(status)


async def _watch(db, job_id, owner, lease_seconds, plan, writer, stopping) -> str:  # noqa: ANN001
    """Until the plan ends: flush results, renew the lease, note in the job's history when it
    starts and stops waiting for the payer, and react to CANCELLING or a stop."""
    renew_every = max(1.0, lease_seconds / 3)
    last_renew = last_flush = time.monotonic()
    scope, waiting = writer.scope, False
    while not plan.done():
        done, _ = await asyncio.wait({plan}, timeout=WATCH_INTERVAL)
        if done:
            break
        since = scope.down_since_at
        if (scope.waiting and since is not None) != waiting and not scope.outage:
            waiting = not waiting
            await asyncio.to_thread(lifecycle.note_payer_wait, db, job_id, since if waiting else None)
        now = time.monotonic()
        if now - last_renew >= renew_every:
            status = await asyncio.to_thread(lifecycle.renew_lease, db, job_id, owner, lease_seconds)
            last_renew = now
        else:
            status = await asyncio.to_thread(lifecycle.status_of, db, job_id)
        if status is None:
            await _stop(plan)
            return "lost"
        if status == lifecycle.CANCELLING:
            await _stop(plan)
            return "cancel"
        if stopping():
            await _stop(plan)
            return "stop"
        if now - last_flush >= FLUSH_INTERVAL:
            await writer.flush()
            last_flush = now
    if waiting and not scope.outage:  # the payer answered the last calls, after the last look
        await asyncio.to_thread(lifecycle.note_payer_wait, db, job_id, None)
    return "done"


async def _stop(task: asyncio.Task) -> None:
    task.cancel()
    try:
        await task
    except BaseException:  # noqa: BLE001 - cancelled or failed: either way it has stopped
        pass
