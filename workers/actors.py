"""The job actor: async, so an operator's cancel can interrupt payer calls in flight."""

from __future__ import annotations

import logging

import dramatiq
from dramatiq.broker import Broker

from engine.runner import run_job
from workers.broker import QUEUE
from workers.runtime import WorkerRuntime

log = logging.getLogger("claimsops.worker")

TIME_LIMIT_MS = 7 * 24 * 3600 * 1000  # jobs run for hours; cancellation is ours, not TimeLimit's
FINISHED = {"COMPLETED", "FAILED", "CANCELLED"}


def declare_job_actor(broker: Broker, runtime: WorkerRuntime) -> dramatiq.Actor:
    async def process_job(job_id: int) -> None:
        runtime.job_started(job_id)
        outcome = None
        try:
            outcome = await run_job(
                runtime.db, job_id, runtime.client(), owner=runtime.worker_id,
                lease_seconds=runtime.settings.lease_seconds, max_attempts=runtime.settings.max_attempts,
                metrics=runtime.metrics, stopping=runtime.stopping.is_set,
            )
            if outcome is None:
                log.debug("job %d: nothing to do here (claimed elsewhere or finished)", job_id)
        finally:
            runtime.job_ended(
                job_id, outcome.rows_written if outcome else 0, bool(outcome and outcome.status in FINISHED)
            )

    return dramatiq.Actor(
        process_job, broker=broker, actor_name="process_job", queue_name=QUEUE, priority=0,
        options={"max_retries": 3, "min_backoff": 2000, "max_backoff": 30000, "time_limit": TIME_LIMIT_MS},
    )
