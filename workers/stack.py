"""A worker process's moving parts started and stopped together: broker, Dramatiq worker
threads, dispatcher and heartbeat. `claimsops worker` runs one; `claimsops up` runs one
in-process with the StubBroker."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from dramatiq import Worker

from engine.config import Settings
from engine.db import Database
from engine.leases import process_owner
from engine.payer.client import PayerSettings
from workers.actors import declare_job_actor
from workers.broker import QUEUE, build_broker
from workers.dispatcher import Dispatcher
from workers.heartbeat import beat, run_heartbeat
from workers.metrics_server import with_metrics
from workers.runtime import WorkerRuntime
from workers.service import Process, Stop, run_service

log = logging.getLogger("claimsops.worker")


class WorkerStack:
    def __init__(self, settings: Settings, db: Database, payer: PayerSettings, *, concurrency: int = 2,
                 kind: str = "worker") -> None:
        self.settings, self.db = settings, db
        self.concurrency = concurrency
        self.runtime = WorkerRuntime(settings, db, payer, worker_id=process_owner(kind))
        self.broker = build_broker(settings)
        self.actor = declare_job_actor(self.broker, self.runtime)
        self.dispatcher = Dispatcher(db, self.broker, self.actor)
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self.worker: Worker | None = None

    @property
    def worker_id(self) -> str:
        return self.runtime.worker_id

    def start(self) -> WorkerStack:
        self.broker.emit_after("process_boot")
        self.worker = Worker(self.broker, queues={QUEUE}, worker_threads=self.concurrency, worker_timeout=250)
        self.worker.queue_prefetch = self.concurrency  # long jobs: hold no more than we can run
        self.worker.start()
        beat(self.db, self.runtime)  # alive from now on, for whoever counts the workers (`up`'s header)
        for name, target in (
            ("dispatcher", lambda: self.dispatcher.run(self._stop)),
            ("heartbeat", lambda: run_heartbeat(self.runtime, self.broker, self._stop)),
        ):
            thread = threading.Thread(target=target, name=f"claimsops-{name}", daemon=True)
            thread.start()
            self._threads.append(thread)
        log.info("worker %s started: %d job slots, broker %s", self.worker_id, self.concurrency,
                 "redis" if self.settings.broker_url else "in-process")
        return self

    def stop(self, timeout: float = 15.0) -> None:
        """Graceful: running jobs write what they have, release their leases (another worker
        resumes them at once), then the threads stop."""
        self.runtime.stopping.set()
        deadline = time.monotonic() + timeout
        while self.runtime.current_jobs and time.monotonic() < deadline:
            time.sleep(0.05)
        if self.runtime.current_jobs:
            log.warning("worker stopping with jobs %s still running; their leases will expire",
                        sorted(self.runtime.current_jobs))
        self._stop.set()
        if self.worker is not None:
            self.worker.stop(timeout=5000)
        self.broker.close()
        for thread in self._threads:
            thread.join(timeout=5)
        try:
            if self.runtime.metrics is not None:
                self.runtime.metrics.flush()
            beat(self.db, self.runtime, stopped=True)
        except Exception as exc:
            log.warning("could not record the worker's stop: %s", type(exc).__name__)
        log.info("worker %s stopped", self.worker_id)


def worker_stack(concurrency: int, kind: str = "worker") -> Callable[[Process], Stop]:
    """The stack as one of a process's services (see workers.service)."""
    def start(process: Process) -> Stop:
        stack = WorkerStack(process.settings, process.db, process.payer(), concurrency=concurrency, kind=kind)
        return stack.start().stop

    return start


def run_worker(settings: Settings, concurrency: int) -> int:
    """`claimsops worker`: one stack until SIGTERM, SIGINT or SIGHUP."""
    return run_service("worker", settings, with_metrics(settings, [worker_stack(concurrency)]))
