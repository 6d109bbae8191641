"""Per-process worker state: identity, database, payer client and limits, counters, stop flag."""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass, field

from engine.config import Settings
from engine.db import Database
from engine.leases import process_owner
from engine.metrics import MetricsBuffer
from engine.payer.client import PayerClient, PayerSettings
from engine.payer.limits import LocalLimits, PayerLimits


@dataclass
class WorkerRuntime:
    settings: Settings
    db: Database
    payer: PayerSettings
    worker_id: str = field(default_factory=lambda: process_owner("worker"))
    queue: str = "claimsops"
    stopping: threading.Event = field(default_factory=threading.Event)
    metrics: MetricsBuffer | None = None
    current_jobs: set[int] = field(default_factory=set)
    jobs_processed: int = 0
    rows_processed: int = 0
    _client: PayerClient | None = None
    _loop: asyncio.AbstractEventLoop | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        if self.metrics is None:
            self.metrics = MetricsBuffer(self.db)

    def client(self) -> PayerClient:
        """The process's one payer client, bound to the running event loop."""
        loop = asyncio.get_running_loop()
        if self._client is None or self._loop is not loop:
            self._client = PayerClient(self.payer, limits=self._limits(), observer=self.metrics.payer_call,
                                       hedge_observer=self.metrics.payer_hedge)
            self._loop = loop
        return self._client

    def _limits(self) -> PayerLimits:
        s = self.settings
        if s.broker_url.startswith("redis"):
            from workers.payer_limits import RedisLimits, payer_key

            return RedisLimits(s.broker_url, payer=payer_key(self.payer.summary_url), rate_per_second=s.payer_rate_per_second,
                               concurrency=s.payer_concurrency, slot_ttl_seconds=s.payer_timeout_seconds + 30)
        return LocalLimits(s.payer_rate_per_second, s.payer_concurrency)

    def job_started(self, job_id: int) -> None:
        with self._lock:
            self.current_jobs.add(job_id)

    def job_ended(self, job_id: int, rows: int, finished: bool) -> None:
        with self._lock:
            self.current_jobs.discard(job_id)
            self.rows_processed += rows
            self.jobs_processed += 1 if finished else 0
