"""The worker's heartbeat row (for Stats, Health and the stuck-job reaper) and periodic metrics."""

from __future__ import annotations

import logging
import os
import socket
import threading

from dramatiq.broker import Broker

from engine.db import Database
from engine.metrics import QUEUE_LENGTH
from engine.models import Worker, utcnow
from workers.broker import queue_length
from workers.runtime import WorkerRuntime

log = logging.getLogger("claimsops.heartbeat")
INTERVAL = 2.0


def beat(db: Database, runtime: WorkerRuntime, *, stopped: bool = False) -> None:
    now = utcnow()
    jobs = sorted(runtime.current_jobs)
    with db.write() as session:
        row = session.get(Worker, runtime.worker_id)
        if row is None:
            row = Worker(id=runtime.worker_id, host=socket.gethostname()[:64], pid=os.getpid(),
                         queue=runtime.queue, started_at=now)
            session.add(row)
        row.last_seen_at = now
        row.current_job_id = jobs[0] if jobs else None
        row.jobs_processed = runtime.jobs_processed
        row.rows_processed = runtime.rows_processed
        row.stopped_at = now if stopped else None


def run_heartbeat(runtime: WorkerRuntime, broker: Broker | None, stop: threading.Event) -> None:
    failing = False
    while True:
        try:
            beat(runtime.db, runtime)
            if runtime.metrics is not None:
                if broker is not None:
                    runtime.metrics.record(QUEUE_LENGTH, queue_length(broker))
                runtime.metrics.flush()
            if failing:
                log.warning("heartbeat: database reachable again")
            failing = False
        except Exception as exc:
            if not failing:
                log.warning("heartbeat failed: %s", type(exc).__name__)
            failing = True
        if stop.wait(INTERVAL):
            return
